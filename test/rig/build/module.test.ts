// Module and guest-program builds: first-error extraction, make argv, debug-info check, BuildErrors, static guest binaries.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { cpSync, lstatSync, mkdtempSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildGuestPrograms, buildModule, moduleBuildKey, overlaps, compilerWarnings, firstCompilerError, guestCompilerArgv, moduleMakeArgv, type BuildRunner } from '../../../rig/build/module.ts';
import { elfSectionNames } from '../../../rig/platform/elf.ts';
import { BuildError } from '../../../rig/core/errors.ts';
import type { ImageSpec, PreparedKernel } from '../../../rig/kernels/spec.ts';

const fixtures = join(import.meta.dirname, '..', '..', 'fixtures', 'images');
const gccLog = readFileSync(join(fixtures, 'gcc-error.log'), 'utf8');
const modpostLog = readFileSync(join(fixtures, 'modpost-error.log'), 'utf8');

t.test('first compiler error from captured logs', async (t) => {
  t.equal(firstCompilerError(gccLog), '/tmp/scratch/broken/broken.c:5:16: error: ‘missing_symbol’ undeclared (first use in this function)');
  t.equal(firstCompilerError(modpostLog), 'ERROR: modpost: "ktest_no_such_symbol" [/tmp/scratch/modpost/undef.ko] undefined!');
  t.match(firstCompilerError('make: *** No rule to make target \'modules\'.  Stop.\n'), /^make: \*\*\* No rule/);
  t.equal(firstCompilerError('fatal error: x.h: No such file'), undefined, 'needs file:line');
  t.equal(firstCompilerError('a.c:1:10: fatal error: x.h: No such file or directory\n'), 'a.c:1:10: fatal error: x.h: No such file or directory');
  t.equal(firstCompilerError('  CC [M]  x.o\n'), undefined);
  t.same(compilerWarnings(gccLog), ['/tmp/scratch/broken/broken.c:4:13: warning: unused variable ‘unused’ [-Wunused-variable]']);
});

t.test('make argv per toolchain', async (t) => {
  const host = moduleMakeArgv('/k', '/m', { kind: 'host', cc: 'gcc-12' }, 'x86_64', 2, [], 'x86_64');
  t.ok(moduleMakeArgv('/k', '/m', { kind: 'host', cc: 'gcc-12' }, 'x86_64', 2, [], 'arm64').includes('ARCH=x86'), 'ARCH= from the record when cross-building');
  t.same(host, ['make', '-C', '/k', 'M=/m', '-j2', 'CC=gcc-12', 'KCFLAGS=-g -fdebug-prefix-map=/m=/ktest-rig/kmod', 'modules']);
  const cached = moduleMakeArgv('/c/kernels/k1/root/usr/src/linux-headers-6.1.0-50-amd64', '/tmp/b/kmod', { kind: 'host', cc: 'gcc-12' }, 'x86_64', 2);
  t.ok(cached.includes('KCFLAGS=-g -fdebug-prefix-map=/tmp/b/kmod=/ktest-rig/kmod -fdebug-prefix-map=/c/kernels/k1/root/=/'), 'module and cache paths mapped to stable ones');
  const arm = moduleMakeArgv('/k', '/m', { kind: 'host', cc: 'gcc-12', crossCompile: 'aarch64-linux-gnu-' }, 'arm64', 4, [], 'x86_64');
  t.ok(arm.includes('ARCH=arm64'));
  t.ok(arm.includes('CROSS_COMPILE=aarch64-linux-gnu-'));
  t.ok(arm.includes('CC=aarch64-linux-gnu-gcc-12'));
  t.equal(arm.at(-1), 'modules');
  t.same(guestCompilerArgv('x86_64', ['/inc'], '/uapi'), ['musl-gcc', '-static', '-Os', '-s', '-I/uapi', '-I/inc']);
  t.equal(guestCompilerArgv('arm64', [], '')[0], 'aarch64-linux-gnu-gcc');
});

function object(dir: string, name: string, debug: boolean): string {
  const src = join(dir, `${name}.c`);
  writeFileSync(src, 'int ktest_sym(void) { return 42; }\n');
  const out = join(dir, `${name}.o`);
  execFileSync('gcc', [...(debug ? ['-g'] : []), '-c', src, '-o', out]);
  return out;
}

t.test('ELF section names', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'elf-'));
  t.ok(elfSectionNames(readFileSync(object(dir, 'dbg', true))).includes('.debug_info'));
  const plain = elfSectionNames(readFileSync(object(dir, 'plain', false)));
  t.ok(plain.includes('.text'));
  t.notOk(plain.includes('.debug_info'));
  t.same(elfSectionNames(Buffer.from('nope')), []);
});

function fakeKernel(): PreparedKernel {
  const image = { id: 'fake', release: '1.0-fake', arch: 'x86_64', toolchain: { kind: 'host', cc: 'gcc-12' } } as unknown as ImageSpec;
  return { image, kernelPath: '/k/vmlinux', vmlinuzPath: '/k/vmlinuz', headersDir: '/k/root/usr/src/linux-headers-1.0-fake' };
}

function moduleSource(): string {
  const src = mkdtempSync(join(tmpdir(), 'modsrc-'));
  writeFileSync(join(src, 'Kbuild'), 'obj-m := demo.o\n');
  const real = join(src, '..', `${src.split('/').at(-1)}-real.c`);
  writeFileSync(real, 'int x;\n');
  symlinkSync(real, join(src, 'demo.c'));
  return src;
}

t.test('buildModule: copies dereferenced sources, returns .ko files, BuildError on failures', async (t) => {
  const kernel = fakeKernel();
  const src = moduleSource();
  const outDir = join(mkdtempSync(join(tmpdir(), 'modout-')), 'kmod');
  let seen: { argv: readonly string[]; cwd?: string; binds: readonly string[] } | undefined;
  const ok: BuildRunner = async (argv, opts) => {
    seen = { argv, ...opts };
    execFileSync('gcc', ['-g', '-c', join(opts.cwd!, 'demo.c'), '-o', join(opts.cwd!, 'demo.ko')]);
    return { exitCode: 0, stdout: '  CC [M]  demo.o\n', stderr: `${opts.cwd}/demo.c:1:5: warning: something odd\n` };
  };
  const warnings: string[] = [];
  const mods = await buildModule({ kernel, sourceDir: src, outDir, runner: ok, onEvent: (e) => e.type === 'log' && warnings.push(e.message) });
  t.same(mods, [{ name: 'demo', koPath: join(outDir, 'demo.ko'), sourceDir: src }]);
  t.notOk(lstatSync(join(outDir, 'demo.c')).isSymbolicLink(), 'symlinks dereferenced');
  t.equal(seen!.cwd, outDir);
  t.ok(seen!.argv.includes(`M=${outDir}`));
  t.ok(seen!.argv.includes('CC=gcc-12'));
  t.ok(seen!.binds.includes(outDir));
  t.same(warnings, [`${src}/demo.c:1:5: warning: something odd`], 'warnings emitted with the source path');

  const failing: BuildRunner = async (_argv, opts) => ({ exitCode: 2, stdout: '', stderr: gccLog.replaceAll('/tmp/scratch/broken', opts.cwd!) });
  const err = (await t.rejects(buildModule({ kernel, sourceDir: src, outDir, runner: failing }), BuildError)) as unknown as BuildError;
  t.equal(err.exitCode, 4);
  t.equal(err.firstError, `${src}/broken.c:5:16: error: ‘missing_symbol’ undeclared (first use in this function)`);
  t.match(err.message, err.firstError!);
  t.match(err.log, 'cc1: some warnings being treated as errors', 'full log kept');
  t.match(readFileSync(join(outDir, 'build.log'), 'utf8'), 'missing_symbol');

  const noDebug: BuildRunner = async (_argv, opts) => {
    execFileSync('gcc', ['-c', join(opts.cwd!, 'demo.c'), '-o', join(opts.cwd!, 'demo.ko')]);
    return { exitCode: 0, stdout: '', stderr: '' };
  };
  await t.rejects(buildModule({ kernel, sourceDir: src, outDir, runner: noDebug }), { name: 'BuildError', message: /debug_info/ });
  const nothing: BuildRunner = async () => ({ exitCode: 0, stdout: '', stderr: '' });
  await t.rejects(buildModule({ kernel, sourceDir: src, outDir, runner: nothing }), { name: 'BuildError', message: /no \.ko/ });
  for (const bad of [src, join(src, 'build'), join(src, '..')]) {
    await t.rejects(buildModule({ kernel, sourceDir: src, outDir: bad, runner: ok }), { name: 'UsageError', message: /overlaps/ }, `outDir ${bad} refused`);
  }
  t.ok(lstatSync(join(src, 'Kbuild')).isFile(), 'sources untouched');
  t.notOk(overlaps('/a/b', '/a/bc'));
  const empty = mkdtempSync(join(tmpdir(), 'empty-'));
  await t.rejects(buildModule({ kernel, sourceDir: empty, outDir, runner: ok }), { name: 'UsageError', exitCode: 2, message: /--kmod .* has no Kbuild or Makefile/ });
});

function isStaticElf(path: string): boolean {
  const b = readFileSync(path);
  const phoff = Number(b.readBigUInt64LE(0x20));
  for (let i = 0; i < b.readUInt16LE(0x38); i++) if (b.readUInt32LE(phoff + i * b.readUInt16LE(0x36)) === 3) return false; // PT_INTERP
  return b.readUInt32BE(0) === 0x7f454c46;
}

t.test('buildGuestPrograms: static musl binaries with uapi headers, cached, BuildError on errors', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'guest-src-'));
  cpSync(join(fixtures, 'guest'), join(root, 'g'), { recursive: true });
  const cacheDir = join(root, 'cache');
  const outDir = join(root, 'out');
  const programs = { nlclient: { sources: ['g/hello.c'], includes: ['g'] }, agent: { sources: ['g/hel*.c'], includes: ['g'] } };
  const built = await buildGuestPrograms({ arch: 'x86_64', outDir, cacheDir, sourceRoot: root, programs });
  t.same(built, { nlclient: join(outDir, 'nlclient'), agent: join(outDir, 'agent') });
  t.equal(execFileSync(built.nlclient, { encoding: 'utf8' }), 'hello 16\n', 'runs, sees <linux/netlink.h> and the include dir');
  t.ok(isStaticElf(built.nlclient), 'no PT_INTERP: static');
  t.ok(statSync(built.nlclient).size < 200_000, 'musl-sized');
  const cached = readdirSync(join(cacheDir, 'guest-programs'));
  t.equal(cached.length, 2, 'one cache entry per program');
  const entry = join(cacheDir, 'guest-programs', cached.find((d) => readdirSync(join(cacheDir, 'guest-programs', d)).includes('nlclient'))!, 'nlclient');
  const mtime = statSync(entry).mtimeMs;
  await buildGuestPrograms({ arch: 'x86_64', outDir, cacheDir, sourceRoot: root, programs });
  t.same(readdirSync(join(cacheDir, 'guest-programs')), cached, 'same sources: cache hit');
  t.equal(statSync(entry).mtimeMs, mtime);
  t.equal(execFileSync(built.agent, { encoding: 'utf8' }), 'hello 16\n', 'glob sources (g/hel*.c) exclude broken.c');
  writeFileSync(join(root, 'g', 'hello.h'), '#define GREETING "changed"\n');
  await buildGuestPrograms({ arch: 'x86_64', outDir, cacheDir, sourceRoot: root, programs });
  t.equal(execFileSync(built.nlclient, { encoding: 'utf8' }), 'changed 16\n', 'a header change rebuilds');

  const broken = { ...programs, agent: { sources: ['g/broken.c'], includes: [] } };
  const err = (await t.rejects(buildGuestPrograms({ arch: 'x86_64', outDir, cacheDir, sourceRoot: root, programs: broken }), BuildError)) as unknown as BuildError;
  t.match(err.firstError, /broken\.c:4:\d+: error: .*undeclared_thing/);
  const missing = { ...programs, agent: { sources: ['g/nope.c'], includes: [] } };
  await t.rejects(buildGuestPrograms({ arch: 'x86_64', outDir, cacheDir, sourceRoot: root, programs: missing }), { name: 'BuildError', message: /missing sources g\/nope\.c/ });
});

t.test('moduleBuildKey: same sources and kernel give the same key; any byte, file name or kernel changes it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ktest-key-'));
  writeFileSync(join(dir, 'Kbuild'), 'obj-m := m.o\n');
  writeFileSync(join(dir, 'm.c'), 'int x;\n');
  const kernel = fakeKernel();
  const key = await moduleBuildKey(dir, kernel);
  t.equal(await moduleBuildKey(dir, kernel), key);
  writeFileSync(join(dir, 'm.c'), 'int y;\n');
  const changed = await moduleBuildKey(dir, kernel);
  t.not(changed, key);
  writeFileSync(join(dir, 'extra.h'), '');
  t.not(await moduleBuildKey(dir, kernel), changed);
  t.not(await moduleBuildKey(dir, { ...kernel, image: { ...kernel.image, release: 'other' } }), await moduleBuildKey(dir, kernel));
  t.not(await moduleBuildKey(dir, kernel, ['GCOV_PROFILE=y'], true), await moduleBuildKey(dir, kernel, ['GCOV_PROFILE=y']), 'a --coverage build is apart from a plain GCOV_PROFILE=y one');
});

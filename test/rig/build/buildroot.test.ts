// Unit tests for build roots: names, markers, validity, the create and run commands, and the mount script on a tiny root.
import t from 'tap';
import { skipOutsideCI } from '../../helpers/host-tools.ts';
import { writeRecord } from '../../../rig/core/cache.ts';
import { execa } from 'execa';
import { mkdtemp, mkdir, writeFile, readFile, copyFile, symlink, rm, access } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BASE_PACKAGES,
  MARKER,
  buildRootKey,
  recordedFile,
  SETUP_FAILED,
  buildRootDir,
  buildRootIsValid,
  buildRootName,
  buildRootPackages,
  createCommand,
  ensureBuildRoot,
  inheritedAptOptions,
  markerMatches,
  pickTool,
  requiredFiles,
  runCommand,
} from '../../../rig/build/buildroot.ts';
import { InfraError, MissingToolError } from '../../../rig/core/errors.ts';
import { envChoice } from '../../../rig/core/env.ts';
import type { ToolchainSpec } from '../../../rig/kernels/spec.ts';

const trixie: ToolchainSpec = { kind: 'buildroot', cc: 'gcc-14', suite: 'trixie', packages: ['libelf-dev'] };

t.test('packages: base + compiler + extras, sorted, once', async (t) => {
  const p = buildRootPackages({ ...trixie, packages: ['make', 'libelf-dev', 'gcc-14'] });
  t.same(p, [...new Set([...BASE_PACKAGES, 'gcc-14', 'libelf-dev'])].sort());
  t.ok(p.includes('dwarves'), 'pahole for BTF');
});

t.test('name: suite plus a hash of the package list', async (t) => {
  const name = buildRootName(trixie);
  t.match(name, /^trixie-[0-9a-f]{12}$/);
  t.equal(buildRootName({ ...trixie, packages: ['libelf-dev', 'libelf-dev'] }), name, 'duplicates do not matter');
  t.not(buildRootName({ ...trixie, packages: [] }), name, 'package list matters');
  t.not(buildRootName({ ...trixie, suite: 'sid' }).slice(4), name.slice(7), 'suite matters');
  t.match(buildRootName({ ...trixie, suite: 'sid' }), /^sid-/);
  t.equal(buildRootDir(trixie, '/c'), `/c/buildroots/${name}`);
});

t.test('host toolchains and odd suites have no build root', async (t) => {
  t.throws(() => buildRootName({ kind: 'host', cc: 'gcc-12' }), InfraError);
  t.throws(() => buildRootName({ kind: 'buildroot', cc: 'gcc-14' }), InfraError);
  t.throws(() => buildRootName({ kind: 'buildroot', cc: 'gcc-14', suite: '../x' }), InfraError);
});

t.test('marker must match layout, suite and packages', async (t) => {
  const good = { layout: 1, suite: 'trixie', packages: buildRootPackages(trixie), tool: 'debootstrap', seconds: 1, bytes: 1 };
  t.ok(markerMatches(good, trixie));
  t.notOk(markerMatches({ ...good, suite: 'sid' }, trixie));
  t.notOk(markerMatches({ ...good, packages: ['make'] }, trixie));
  t.notOk(markerMatches({ ...good, layout: 0 }, trixie));
  t.notOk(markerMatches(null, trixie));
  t.notOk(markerMatches('x', trixie));
});

async function fakeRoot(cacheDir: string, spec: ToolchainSpec, marker = true): Promise<string> {
  const dir = buildRootDir(spec, cacheDir);
  for (const rel of requiredFiles(spec)) {
    await mkdir(join(dir, 'root', rel, '..'), { recursive: true });
    await writeFile(join(dir, 'root', rel), '');
  }
  if (marker) {
    const m = { layout: 1, suite: spec.suite, packages: buildRootPackages(spec), tool: 'fake', seconds: 0, bytes: 0 };
    await writeFile(join(dir, MARKER), JSON.stringify(m));
    await writeRecord(dir, buildRootKey(spec), recordedFile(spec));
  }
  return dir;
}

t.test('validity: marker written last, key files present', async (t) => {
  const cache = await mkdtemp(join(tmpdir(), 'br-test-'));
  t.teardown(() => rm(cache, { recursive: true, force: true }));
  const half = await fakeRoot(cache, trixie, false);
  t.notOk(await buildRootIsValid(trixie, half), 'no marker: a half-made root');
  await rm(half, { recursive: true });
  const dir = await fakeRoot(cache, trixie);
  t.ok(await buildRootIsValid(trixie, dir));
  t.notOk(await buildRootIsValid({ ...trixie, packages: [] }, dir), 'other package list');
  await writeFile(join(dir, MARKER), '{not json');
  t.notOk(await buildRootIsValid(trixie, dir), 'corrupted marker');
  await fakeRoot(cache, trixie);
  await rm(join(dir, 'root', 'usr/bin/gcc-14'));
  t.notOk(await buildRootIsValid(trixie, dir), 'a file is missing');
  await fakeRoot(cache, trixie);
  await writeFile(join(dir, 'root', 'usr/bin/make'), 'x');
  t.notOk(await buildRootIsValid(trixie, dir), 'a recorded file changed');
});

t.test('ensureBuildRoot reuses a valid cached root without creating anything', async (t) => {
  const cache = await mkdtemp(join(tmpdir(), 'br-test-'));
  t.teardown(() => rm(cache, { recursive: true, force: true }));
  const dir = await fakeRoot(cache, trixie);
  const events: unknown[] = [];
  t.equal(await ensureBuildRoot(trixie, { cacheDir: cache, onEvent: (e) => events.push(e) }), join(dir, 'root'));
  t.same(events, []);
});

t.test('create command: mmdebstrap or debootstrap, per privilege', async (t) => {
  const mm = createCommand('mmdebstrap', 'root', 'sid', ['make', 'gcc-16'], '/c/r', 'http://m/debian', ['Acquire::Check-Valid-Until "false"']);
  t.equal(mm[0], 'mmdebstrap');
  t.ok(mm.includes('--variant=minbase'));
  t.ok(mm.includes('--mode=root'));
  t.ok(mm.includes('--include=make,gcc-16'));
  t.ok(mm.includes('--aptopt=Acquire::Check-Valid-Until "false"'));
  t.same(mm.slice(-3), ['sid', '/c/r', 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://m/debian sid main']);
  const userns = createCommand('mmdebstrap', 'userns', 'sid', ['make'], '/c/r', 'http://m/debian');
  t.ok(userns.includes('--mode=unshare'));
  t.ok(userns.includes('/c/r.tar'), 'a tarball, unpacked as the user');
  const sudo = createCommand('debootstrap', 'sudo', 'trixie', ['make', 'gcc-14'], '/c/r', 'http://m/debian');
  t.same(sudo, ['sudo', '-n', 'debootstrap', '--variant=minbase', '--keyring=/usr/share/keyrings/debian-archive-keyring.gpg', '--include=make,gcc-14', 'trixie', '/c/r', 'http://m/debian']);
});

t.test('inherited apt options: validity checks and proxies only', async (t) => {
  const dump = 'APT "";\nAcquire::Check-Valid-Until "false";\nAcquire::http::Proxy "http://p:3128";\nDir "/";\nAcquire::Check-Date "false";\n';
  t.same(inheritedAptOptions(dump), ['Acquire::Check-Valid-Until "false"', 'Acquire::http::Proxy "http://p:3128"', 'Acquire::Check-Date "false"']);
  t.same(inheritedAptOptions(''), []);
});

t.test('run command: namespaces, binds sorted, env, cwd', async (t) => {
  const argv = runCommand('/r', ['make', 'M=/b'], { binds: ['/k/tree/sub', '/b', '/k/tree'], cwd: '/b', env: { X: '1' } }, 'root');
  t.same(argv.slice(0, 7), ['unshare', '--mount', '--propagation', 'private', '--pid', '--fork', '--kill-child']);
  const i = argv.indexOf('ktest-rig-buildroot');
  t.same(argv.slice(i + 1, i + 6), ['/r', '3', '/b', '/k/tree', '/k/tree/sub']);
  t.ok(argv.includes('X=1') && argv.includes('HOME=/tmp'));
  t.same(argv.slice(-2), ['make', 'M=/b']);
  const sudo = runCommand('/r', ['true'], { binds: [] }, 'sudo', { uid: 1000, gid: 100 });
  t.same(sudo.slice(0, 3), ['sudo', '-n', 'unshare']);
  t.ok(sudo.includes('--userspec=1000:100'));
  t.equal(runCommand('/r', ['true'], { binds: [] }, 'userns')[1], '--map-root-user');
  t.throws(() => runCommand('/r', ['true'], { binds: ['rel'] }, 'root'), InfraError);
  t.throws(() => runCommand('/r', [], { binds: [] }, 'root'), InfraError);
});

const canNamespace = await execa('unshare', ['--mount', '--pid', '--fork', 'true'], { reject: false }).then((r) => r.exitCode === 0, () => false);

t.test('the setup script on a tiny busybox root: binds, /proc, cwd, env, exit code, no mounts left', { skip: canNamespace ? false : skipOutsideCI('mount namespaces need root or unprivileged user namespaces (unshare --mount --pid failed)') }, async (t) => {
  const base = await mkdtemp(join(tmpdir(), 'br-run-'));
  t.teardown(() => rm(base, { recursive: true, force: true }));
  const root = join(base, 'root');
  for (const d of ['bin', 'usr/bin', 'proc', 'dev', 'tmp']) await mkdir(join(root, d), { recursive: true });
  await copyFile('/bin/busybox', join(root, 'bin/busybox'));
  for (const applet of ['sh', 'cat', 'ls', 'true', 'pwd']) await symlink('busybox', join(root, 'bin', applet));
  await symlink('../../bin/busybox', join(root, 'usr/bin/env'));
  const work = join(base, 'work');
  await mkdir(work);
  await writeFile(join(work, 'in.txt'), 'hello');
  const script = 'pwd; cat in.txt; echo; echo "$FOO"; ls /proc/self >/dev/null && echo proc; echo out > out.txt; exit 7';
  const cmd = runCommand(root, ['sh', '-c', script], { binds: [work], cwd: work, env: { FOO: 'a b' } }, 'root');
  const r = await execa(cmd[0], cmd.slice(1), { reject: false });
  t.equal(r.exitCode, 7, 'the command exit status comes back');
  t.same(String(r.stdout).split('\n'), [work, 'hello', 'a b', 'proc']);
  t.equal(await readFile(join(work, 'out.txt'), 'utf8'), 'out\n', 'writes land in the bound host dir');
  const mounts = await readFile('/proc/self/mounts', 'utf8');
  t.notOk(mounts.includes(root), 'no mount left behind');
  const bad = runCommand(join(base, 'nope'), ['true'], { binds: [work] }, 'root');
  const rb = await execa(bad[0], bad.slice(1), { reject: false });
  t.match(String(rb.stderr), SETUP_FAILED);
  await t.rejects(access(join(base, 'nope')), 'nothing created for a missing root');
});

t.test('pickTool: mmdebstrap first, debootstrap else, env forces one', async (t) => {
  t.equal(pickTool(undefined, { mmdebstrap: true, debootstrap: true }), 'mmdebstrap');
  t.equal(pickTool(undefined, { mmdebstrap: false, debootstrap: true }), 'debootstrap');
  t.equal(pickTool('debootstrap', { mmdebstrap: true, debootstrap: true }), 'debootstrap');
  t.throws(() => pickTool(undefined, { mmdebstrap: false, debootstrap: false }), MissingToolError);
  t.throws(() => pickTool('mmdebstrap', { mmdebstrap: false, debootstrap: true }), MissingToolError);
  t.throws(() => envChoice('KTEST_RIG_BOOTSTRAP', { KTEST_RIG_BOOTSTRAP: 'cdebootstrap' }), { name: 'UsageError', message: /mmdebstrap, debootstrap/ });
});

// Tests the symboliser: readelf/addr2line parsing, and a real .ko built against the dev kernel headers.
import t from 'tap';
import { defaultKernel } from '../../helpers/rig.ts';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, copyFileSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { symbolizeFrames, symbolizeReport, parseReadelf, parseAddr2line, parseAddr2lineChains, displayPath, elfMachine } from '../../../rig/detect/symbolize.ts';
import { prepareKernel } from '../../../rig/kernels/fetch.ts';
import { resolveImages } from '../../../rig/kernels/images.ts';
import { missingTools } from '../../helpers/host-tools.ts';
import { debugPrefixFlags } from '../../../rig/build/module.ts';
import type { KernelReport } from '../../../rig/detect/kernel-report.ts';
import { InfraError } from '../../../rig/core/errors.ts';

const SECTIONS = `There are 46 section headers, starting at offset 0xf1a8:

Section Headers:
  [Nr] Name              Type            Address          Off    Size   ES Flg Lk Inf Al
  [ 0]                   NULL            0000000000000000 000000 000000 00      0   0  0
  [ 3] .text             PROGBITS        0000000000000000 0000a0 000000 00  AX  0   0  1
  [ 6] .text.unlikely    PROGBITS        0000000000000000 0000a5 000035 00  AX  0   0  1
  [ 8] .init.text        PROGBITS        0000000000000000 0000da 000020 00  AX  0   0  1
`;
const SYMBOLS = `Symbol table '.symtab' contains 52 entries:
   Num:    Value          Size Type    Bind   Vis      Ndx Name
    40: 0000000000000000    22 FUNC    LOCAL  DEFAULT    6 symtest_cold.constprop.0
    41: 0000000000000000    32 FUNC    LOCAL  DEFAULT    8 symtest_init
    45: 0000000000000000     0 NOTYPE  GLOBAL DEFAULT  UND __fentry__
    50: 0000000000000000    16 OBJECT  LOCAL  DEFAULT    9 __UNIQUE_ID_license
    51: 0000000000000016    31 FUNC    GLOBAL DEFAULT    6 symtest_target
`;

t.test('parseReadelf keeps functions with their section', async (t) => {
  const table = parseReadelf(SECTIONS, SYMBOLS);
  t.strictSame([...table.keys()].sort(), ['symtest_cold.constprop.0', 'symtest_init', 'symtest_target']);
  t.strictSame(table.get('symtest_target'), { name: 'symtest_target', section: '.text.unlikely', value: 0x16, size: 31 });
  t.equal(table.get('symtest_init')?.section, '.init.text');
});

t.test('parseAddr2line takes the innermost location of each address', async (t) => {
  const out = ['0x000000000000001b', 'inlined_helper', '/src/a.h:3', 'outer', '/src/a.c:10 (discriminator 2)', '0x0000000000000004', '??', '??:0', ''].join('\n');
  t.strictSame(parseAddr2line(out), [{ file: '/src/a.h', line: 3 }, undefined]);
});

// The default image's headers, through the rig's own cache (fetched once, then offline).
const headers: string = process.env.KTEST_RIG_DEV_HEADERS ?? (await defaultKernel()).headersDir;

/** Builds test/fixtures/symtest once per source version (cached in the temp dir: about 3 s the first time). */
function buildSymtest(kdir: string, cross: string[] = ['CC=gcc-12'], rigFlags = false): string {
  const src = join(import.meta.dirname, '..', '..', 'fixtures', 'symtest');
  const hash = createHash('sha256').update(readFileSync(join(src, 'symtest.c'))).update(kdir).update(cross.join(' ')).update(String(rigFlags)).digest('hex').slice(0, 12);
  const dir = join(tmpdir(), `ktest-rig-symtest-${hash}`);
  const ko = join(dir, 'symtest.ko');
  if (existsSync(ko)) return ko;
  mkdirSync(dir, { recursive: true });
  for (const f of ['symtest.c', 'Kbuild']) copyFileSync(join(src, f), join(dir, f));
  // rigFlags: the debug-path mapping the rig's own module builds use (rig/build/module.ts).
  const flags = rigFlags ? [`KCFLAGS=-g ${debugPrefixFlags(dir, kdir).join(' ')}`] : [];
  execFileSync('make', ['-s', '-C', kdir, `M=${dir}`, ...cross, ...flags, 'modules'], { stdio: 'pipe' });
  return ko;
}

t.test('symbolizes a real .ko (.text.unlikely, .init.text, suffixed names)', async (t) => {
  const missing = await missingTools('gcc-12', 'make', 'addr2line', 'readelf');
  if (missing) return void t.fail(missing);
  const ko = buildSymtest(headers);
  const frames = await symbolizeFrames(
    [
      { symbol: 'symtest_target', offset: 0x5, size: 0x1f, module: 'symtest' },
      { symbol: 'symtest_init', offset: 0x10, size: 0x20, module: 'symtest' },
      { symbol: 'symtest_cold.constprop.0', offset: 0x4, size: 0x16, module: 'symtest' },
      { symbol: 'vfs_write', offset: 0xcb, size: 0x3f0 },
    ],
    ko,
  );
  const target = frames[0];
  t.equal(target.file, 'symtest.c', 'path relative to the .ko directory');
  t.ok(target.line! >= 5 && target.line! <= 8, `symtest_target is lines 5-8 (got ${target.line})`);
  t.equal(frames[1].file, 'symtest.c');
  t.equal(frames[1].line, 18, 'return address of the call in symtest_init (offset-1)');
  t.ok(frames[2].line! >= 11 && frames[2].line! <= 14, `cold function is lines 11-14 (got ${frames[2].line})`);
  t.strictSame(frames[3], { symbol: 'vfs_write', offset: 0xcb, size: 0x3f0 }, 'frames outside the .ko unchanged');
  const abs = await symbolizeFrames([{ symbol: 'symtest_target', offset: 5 }], ko, { sourceRoot: '/nonexistent' });
  t.match(abs[0].file, /^\/.*symtest\.c$/, 'absolute path outside sourceRoot');
});

t.test('a missing .ko is an InfraError', async (t) => {
  await t.rejects(symbolizeFrames([{ symbol: 'x', offset: 1 }], '/nonexistent/x.ko'), InfraError);
});

t.test('symbolizeReport: PC as is, return addresses at offset-1, frames and moduleFrames both', async (t) => {
  const missing = await missingTools('gcc-12', 'make', 'addr2line', 'readelf');
  if (missing) return void t.fail(missing);
  const ko = buildSymtest(headers);
  t.equal(await elfMachine(ko), 62, 'x86_64 object');
  const frames = [
    { symbol: 'symtest_target', offset: 0x5, size: 0x1f, module: 'symtest' },
    { symbol: 'vfs_write', offset: 0xcb, size: 0x3f0 },
    { symbol: 'symtest_init', offset: 0x10, size: 0x20, module: 'symtest' },
  ];
  const report: KernelReport = { kind: 'warning', title: 'WARNING in symtest_target', frames, moduleFrames: [frames[0], frames[2]], fatal: false, raw: '' };
  const out = await symbolizeReport(report, ko);
  t.strictSame(out.moduleFrames.map((f) => f.line), [out.frames[0].line, out.frames[2].line]);
  t.equal(out.moduleFrames[1].line, 18);
  t.equal(out.frames[1].file, undefined);
  const noPc = await symbolizeReport({ ...report, frames: frames.slice(1), moduleFrames: [frames[2]] }, ko);
  t.equal(noPc.moduleFrames[0].line, 18, 'a module frame after a kernel PC is a return address');
  const none = { ...report, moduleFrames: [] };
  t.equal(await symbolizeReport(none, ko), none, 'no module frames: the same report');
});

t.test('symbolizes an arm64 .ko with the cross binutils', async (t) => {
  // Never a skip: the arm64 image's headers come through the rig's cache (cacheRoot: KTEST_RIG_CACHE,
  // XDG_CACHE_HOME), fetched on first use; the cross tools are host-tools rows npm test installs.
  const missing = await missingTools('aarch64-linux-gnu-gcc', 'aarch64-linux-gnu-addr2line', 'make');
  if (missing) return void t.fail(missing);
  const arm64 = await prepareKernel(resolveImages('bookworm-6.1-arm64')[0]!);
  const ko = buildSymtest(arm64.headersDir, ['ARCH=arm64', 'CROSS_COMPILE=aarch64-linux-gnu-']);
  t.equal(await elfMachine(ko), 183, 'aarch64 object');
  const [target, init] = await symbolizeFrames(
    [
      { symbol: 'symtest_target', offset: 0x8, module: 'symtest' },
      { symbol: 'symtest_init', offset: 0x10, module: 'symtest' },
    ],
    ko,
  );
  t.equal(target.file, 'symtest.c');
  t.ok(target.line! >= 5 && target.line! <= 8, `symtest_target is lines 5-8 (got ${target.line})`);
  t.ok(init.line! >= 16 && init.line! <= 21, `symtest_init is lines 16-21 (got ${init.line})`);
});

t.test('elfMachine of a non-ELF file', async (t) => {
  t.equal(await elfMachine(join(import.meta.dirname, '..', '..', 'fixtures', 'symtest', 'Kbuild')), undefined);
});

t.test('parseAddr2line prefers the module line that a kernel header was inlined into', async (t) => {
  const out = ['0x10', '__list_del_entry', '/cache/linux-headers/include/linux/list.h:134', 'crasher_list_del_twice', 'crasher.c:112', ''].join('\n');
  t.strictSame(parseAddr2line(out), [{ file: '/cache/linux-headers/include/linux/list.h', line: 134 }]);
  t.strictSame(parseAddr2line(out, (f) => !f.startsWith('/')), [{ file: 'crasher.c', line: 112 }]);
  t.strictSame(parseAddr2line(out, () => false), [{ file: '/cache/linux-headers/include/linux/list.h', line: 134 }], 'falls back to the innermost');
});

t.test('displayPath: module files as in the author tree, kernel headers relative to their tree', async (t) => {
  t.equal(displayPath('/ktest-rig/kmod/ktest.c', '/tmp/old-build'), 'ktest.c');
  t.equal(displayPath('/ktest-rig/kmod/sub/x.h', '/tmp/old-build'), 'sub/x.h');
  t.equal(displayPath('/usr/src/linux-headers-6.1.0-50-common/include/linux/skbuff.h', '/x'), 'include/linux/skbuff.h');
  t.equal(displayPath('/home/u/.cache/ktest-rig/kernels/k/root/usr/src/linux-headers-6.1.0-50-common/include/net/netlink.h', '/x'), 'include/net/netlink.h', 'an old build that still names the cache');
  t.equal(displayPath('/tmp/b/kmod/ktest.c', '/tmp/b/kmod'), 'ktest.c');
  t.equal(displayPath('./a.c', '/x'), 'a.c');
  t.equal(displayPath('/elsewhere/a.c', '/x'), '/elsewhere/a.c');
});

t.test('parseAddr2lineChains keeps every inlined call, innermost first', async (t) => {
  const out = ['0x4c', 'alloc_skb', '/usr/src/linux-headers-6.1.0-50-common/include/linux/skbuff.h:1303', 'nlmsg_new', '/usr/src/linux-headers-6.1.0-50-common/include/net/netlink.h:998', 'sendnlmsg', '/ktest-rig/kmod/ktest.c:43', '0x5', '??', '??:0', ''].join('\n');
  const [first, second] = parseAddr2lineChains(out);
  t.strictSame(first!.map((c) => `${c.function}:${c.line}`), ['alloc_skb:1303', 'nlmsg_new:998', 'sendnlmsg:43']);
  t.strictSame(second, []);
});

t.test('a build with the rig flags: the author tree, and the module line a kernel header was inlined into', async (t) => {
  const ko = buildSymtest(headers, ['CC=gcc-12'], true);
  // The build dir is not the source root: paths come from the debug prefix, not from where it was built.
  const [target] = await symbolizeFrames([{ symbol: 'symtest_target', offset: 5, module: 'symtest' }], ko, { sourceRoot: '/nonexistent' });
  t.equal(target!.file, 'symtest.c', 'relative to the module source dir');
  const size = 0x40;
  const frames = await symbolizeFrames(Array.from({ length: size }, (_, i) => ({ symbol: 'symtest_inlined', offset: i, module: 'symtest' })), ko, { firstIsPc: false });
  const inl = frames.find((f) => f.inlined?.some((c) => c.file === 'include/linux/list.h'));
  t.ok(inl, 'some instruction of symtest_inlined is list.h code');
  t.equal(inl!.file, 'symtest.c');
  t.equal(inl!.line, 34, 'the list_del call in symtest.c');
  t.ok(inl!.inlined!.every((c) => !c.file.startsWith('/')), `header paths relative to the kernel tree: ${inl!.inlined!.map((c) => c.file).join(', ')}`);
});

t.test('nameRawFrames: a leak kmemleak printed after rmmod (captured on bookworm-6.1-debug) gets the module frames back', async (t) => {
  const { nameRawFrames } = await import('../../../rig/detect/symbolize.ts');
  const { findReports } = await import('../../../rig/detect/parse.ts');
  const { readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const body = readFileSync(join(import.meta.dirname, '..', '..', 'fixtures', 'logs', 'memory-leak-x86_64-6.1-leak.log'), 'utf8').split('\n---\n').slice(1).join('\n---\n');
  t.same(findReports(body, { module: 'debugbugs' })[0]?.moduleFrames, [], 'as printed: raw addresses, no module frame');
  // The load the rig recorded (.text at 0xffffffffa0000000) and two of the .ko's functions around the raw addresses.
  const load = new Map([['.text', 0xffffffffa0000000n]]);
  const symbols = [
    { name: 'debugbugs_trigger_set', section: '.text', value: 0x100, size: 0x80 },
    { name: 'debugbugs_leak', section: '.text', value: 0x600, size: 0x60 },
  ];
  const named = nameRawFrames(body, [load], symbols, 'debugbugs');
  t.match(named, /\[<ffffffffa0000641>\] debugbugs_leak\+0x41\/0x60 \[debugbugs\]$/m);
  t.match(named, /\[<ffffffffa000014f>\] debugbugs_trigger_set\+0x4f\/0x80 \[debugbugs\]$/m);
  const report = findReports(named, { module: 'debugbugs' })[0];
  t.equal(report?.title, 'memory leak in debugbugs_leak');
  t.same(report?.moduleFrames.map((f) => f.symbol), ['debugbugs_leak', 'debugbugs_trigger_set']);
  t.equal(nameRawFrames(body, [], symbols, 'debugbugs'), body, 'no load recorded: unchanged');
  t.equal(nameRawFrames(body, [new Map([['.text', 0xffffffffc0000000n]])], symbols, 'debugbugs'), body, 'addresses outside every load: unchanged');
});

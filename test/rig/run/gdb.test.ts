// The gdb script and its parts (pure): sections from sysfs, the add-symbol-file line, the attach command per arch.
import t from 'tap';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '../../helpers/rig.ts';
import { ARCHES } from '../../../rig/platform/arch/index.ts';
import { attachCommand, buildDirOf, gdbScript, moduleSectionArgs, parseSections, sysfsModuleName } from '../../../rig/run/gdb.ts';

const SYSFS = `.bss 0xffffffffc023a3c0
.data 0xffffffffc023a000
.gnu.linkonce.this_module 0xffffffffc023a040
.init.text 0xffffffffc023c000
.rodata 0xffffffffc02391a0
.strtab 0xffffffffc023d000
.symtab 0xffffffffc023c800
.text 0xffffffffc0238000
__param 0xffffffffc0239228
`;

t.test('parseSections and moduleSectionArgs: the .ko\'s loaded sections, .text apart, init sections (freed) left out', (t) => {
  const loaded = parseSections(SYSFS);
  t.equal(loaded.get('.text'), 0xffffffffc0238000n);
  t.equal(loaded.size, 9);
  const ko = ['.text', '.init.text', '.rodata', '.data', '__param', '.gnu.linkonce.this_module', '.bss', '.text.unlikely'];
  t.strictSame(moduleSectionArgs(ko, loaded), [
    ['.rodata', 0xffffffffc02391a0n],
    ['.data', 0xffffffffc023a000n],
    ['__param', 0xffffffffc0239228n],
    ['.gnu.linkonce.this_module', 0xffffffffc023a040n],
    ['.bss', 0xffffffffc023a3c0n],
  ]);
  t.equal(sysfsModuleName('my-mod'), 'my_mod');
  t.end();
});

t.test('gdbScript: symbols, sources, module at its addresses, then the stub', (t) => {
  const base = {
    title: 'gdb script for rig exec -- nlclient hi on bookworm-6.1 (6.1.0-50-amd64)',
    arch: ARCHES.x86_64,
    kernel: { file: '/c/gdb/k/kallsyms.elf', offset: 0n, dwarf: false },
    module: { ko: '/l/gdb-x/ktest.ko', text: 0xffffffffc0238000n, sections: [['.data', 0xffffffffc023a000n], ['.bss', 0xffffffffc023a3c0n]] as const },
    substitutions: [['/ktest-rig/kmod', '/home/me/my mod']] as const,
    socket: '/tmp/g/gdb.sock',
    wait: true,
  };
  const s = gdbScript(base);
  const lines = s.trim().split('\n').filter((l) => !l.startsWith('#'));
  t.strictSame(lines, [
    'set pagination off',
    'set confirm off',
    'set architecture i386:x86-64',
    'symbol-file /c/gdb/k/kallsyms.elf',
    'set substitute-path /ktest-rig/kmod "/home/me/my mod"',
    'add-symbol-file /l/gdb-x/ktest.ko 0xffffffffc0238000 -s .data 0xffffffffc023a000 -s .bss 0xffffffffc023a3c0',
    'target remote /tmp/g/gdb.sock',
  ]);
  t.match(s, /set breakpoints, then `continue`/);
  const debug = gdbScript({ ...base, arch: ARCHES.arm64, kernel: { file: '/k/vmlinux', offset: 0x1e00000n, dwarf: true, helpers: { script: '/k/vmlinux-gdb.py', path: '/k/scripts/gdb' } }, module: undefined, wait: false });
  t.match(debug, /^set architecture aarch64$/m);
  t.match(debug, /^symbol-file -o 0x1e00000 \/k\/vmlinux$/m, 'KASLR offset');
  t.match(debug, /^python import sys; sys.path.insert\(0, "\/k\/scripts\/gdb"\)\nsource \/k\/vmlinux-gdb\.py$/m, "the kernel's lx- helpers");
  t.match(debug, /No module symbols/);
  t.notMatch(debug, /continue/);
  t.end();
});

t.test('attachCommand: gdb for x86_64 guests, gdb-multiarch for arm64', (t) => {
  t.equal(attachCommand(ARCHES.x86_64, '/l/attach.gdb'), 'gdb -x /l/attach.gdb');
  t.equal(attachCommand(ARCHES.arm64, '/l/a b/attach.gdb'), 'gdb-multiarch -x "/l/a b/attach.gdb"');
  t.end();
});

t.test('buildDirOf: the temporary dir a built kernel names in its debug info, found in its strings', async (t) => {
  const dir = await tempDir(t, 'gdb-builddir-');
  const file = join(dir, 'vmlinux');
  await writeFile(file, Buffer.concat([Buffer.alloc(100), Buffer.from('/c/kbuild/.tmp-img-abc-123-f00/src/net/netlink/af_netlink.c\0'), Buffer.alloc(10)]));
  t.equal(await buildDirOf(file, '/c/kbuild/img-abc'), '/c/kbuild/.tmp-img-abc-123-f00');
  t.equal(await buildDirOf(file, '/c/kbuild/img-other'), undefined, 'built in place: nothing to map');
});

// kallsymsElf: a symbol-only ELF from /proc/kallsyms text, checked with the host's readelf and gdb.
import t from 'tap';
import { execa } from 'execa';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { kallsymsElf, parseKallsyms } from '../../../rig/kernels/kallsyms-elf.ts';
import { elfSections } from '../../../rig/platform/elf.ts';
import { tempDir } from '../../helpers/rig.ts';

// The shape of a real 6.1 kallsyms: per-cpu absolutes, text, a data marker between code runs, init text after data, a module.
const KALLSYMS = `0000000000000000 A fixed_percpu_data
0000000000001000 A cpu_debug_store
ffffffff81000000 T _text
ffffffff81000000 T startup_64
ffffffff81000070 t verify_cpu
ffffffff81001000 T netlink_rcv_skb
ffffffff81001200 T netlink_unicast
ffffffff81001400 W weak_helper
ffffffff82000000 D __start_rodata
ffffffff82000100 r some_table
ffffffff82a00000 D init_net
ffffffff82a00100 d local_data
ffffffff82c00000 B __bss_start
ffffffff83000000 T _sinittext
ffffffff83000040 t init_fn
ffffffffc0001000 t ktest_rcv_msg\t[ktest]
`;

t.test('parseKallsyms: built-in symbols with their types; modules and null addresses left out', (t) => {
  const e = parseKallsyms(KALLSYMS);
  t.equal(e.length, 14);
  t.notOk(e.some((x) => x.name === 'ktest_rcv_msg'), 'module symbols are the module\'s business');
  t.notOk(e.some((x) => x.name === 'fixed_percpu_data'), 'zero address');
  t.strictSame(e.find((x) => x.name === 'netlink_unicast'), { address: 0xffffffff81001200n, type: 'T', name: 'netlink_unicast' });
  t.end();
});

t.test('kallsymsElf: gdb finds functions, data and addresses in it', async (t) => {
  const dir = await tempDir(t, 'kallsyms-elf-');
  const file = join(dir, 'k.elf');
  await writeFile(file, kallsymsElf(parseKallsyms(KALLSYMS), 62));
  const sections = await elfSections(file);
  t.ok(sections.some((s) => s.name.startsWith('.text.k') && s.address === 0xffffffff81000000n && s.alloc), 'a code run at _text');
  t.ok(sections.some((s) => s.name.startsWith('.text.k') && s.address === 0xffffffff83000000n), 'init text after the data is a run of its own');
  const readelf = await execa('readelf', ['-sW', file]);
  t.match(readelf.stdout, /ffffffff81001200\s+512 FUNC\s+GLOBAL DEFAULT\s+\d+ netlink_unicast/, 'size runs to the next symbol');
  t.match(readelf.stdout, /FUNC\s+LOCAL\s+DEFAULT\s+\d+ verify_cpu/);
  t.match(readelf.stdout, /OBJECT\s+GLOBAL DEFAULT\s+\d+ init_net/);
  t.notMatch(readelf.stdout, /cpu_debug_store/, 'absolute symbols are not places');
  const gdb = await execa('gdb', ['-nx', '-batch', '-ex', `symbol-file ${file}`, '-ex', 'break netlink_unicast', '-ex', 'info symbol 0xffffffff81001210', '-ex', 'info symbol 0xffffffff83000044', '-ex', 'p &init_net', '-ex', 'symbol-file', '-ex', `symbol-file -o 0x200000 ${file}`, '-ex', 'info address netlink_rcv_skb'], { reject: false });
  const out = `${gdb.stdout}\n${gdb.stderr}`;
  t.match(out, /Breakpoint 1 at 0xffffffff81001200/, 'break NAME on a kernel function');
  t.match(out, /netlink_unicast \+ 16 in section \.text\.k/);
  t.match(out, /init_fn \+ 4 in section \.text\.k/);
  t.match(out, /<data variable, no debug info> \*\) 0xffffffff82a00000 <init_net>/);
  t.match(out, /netlink_rcv_skb" is at 0xffffffff81201000/, '-o moves every symbol by the KASLR offset');
});

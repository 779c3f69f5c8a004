// Unit tests of the report parser: frames, module filter, interleaving, bounds, titles.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../../rig/core/paths.ts';
import { findReports, parseFrame, normaliseSymbol, MAX_REPORT_LINES, MAX_LINE_CHARS } from '../../../rig/detect/parse.ts';

const warning = (fn: string, pid = 1) => [
  '------------[ cut here ]------------',
  `WARNING: CPU: 0 PID: ${pid} at drivers/foo.c:${pid * 10} ${fn}+0x12/0x20 [my_mod]`,
  'Modules linked in: my_mod(OE) virtio_console',
  `CPU: 0 PID: ${pid} Comm: sh Tainted: G           OE      6.1.0-50-amd64 #1  Debian 6.1.176-1`,
  `RIP: 0010:${fn}+0x12/0x20 [my_mod]`,
  'Call Trace:',
  ' <TASK>',
  ' ? __warn+0x7d/0xc0',
  ' my_caller.isra.0+0x30/0x50 [my_mod]',
  ' vfs_write+0xcb/0x3f0',
  ' helper+0x10/0x20 [virtio_console]',
  ' </TASK>',
  '---[ end trace 0000000000000000 ]---',
];

t.test('parseFrame', async (t) => {
  t.strictSame(parseFrame(' foo_bar+0x1a/0x30 [my_mod]'), { symbol: 'foo_bar', offset: 0x1a, size: 0x30, module: 'my_mod' });
  t.strictSame(parseFrame(' vfs_write+0xcb/0x3f0'), { symbol: 'vfs_write', offset: 0xcb, size: 0x3f0 });
  t.strictSame(parseFrame('    [<00000000a1b2c3d4>] kmalloc_trace+0x26/0x90'), { symbol: 'kmalloc_trace', offset: 0x26, size: 0x90 });
  t.strictSame(parseFrame(' f+0x1/0x2 [mod 1234abcd]'), { symbol: 'f', offset: 1, size: 2, module: 'mod' }, 'build id dropped');
  t.equal(parseFrame(' ? __die+0x23/0x70'), null, 'unreliable frames dropped');
  t.equal(parseFrame('RIP: 0033:0x4016e7'), null);
  t.equal(parseFrame('hello world'), null);
});

t.test('normaliseSymbol strips compiler suffixes', async (t) => {
  t.equal(normaliseSymbol('foo.cold'), 'foo');
  t.equal(normaliseSymbol('foo.isra.0'), 'foo');
  t.equal(normaliseSymbol('foo.constprop.0.isra.0'), 'foo');
  t.equal(normaliseSymbol('foo_bar'), 'foo_bar');
});

t.test('same WARNING twice: two reports, one title, numbers normalised', async (t) => {
  const reports = findReports([...warning('my_warn', 1), 'unrelated', ...warning('my_warn', 2)].join('\n'));
  t.equal(reports.length, 2);
  t.equal(reports[0].title, 'WARNING in my_warn');
  t.equal(reports[1].title, reports[0].title);
  t.equal(reports[0].taint, 'G           OE');
  t.notOk(reports[0].raw.includes('unrelated'), 'raw ends at the end marker');
});

t.test('moduleFrames: module option vs out-of-tree default', async (t) => {
  const text = warning('my_warn').join('\n');
  const byDefault = findReports(text)[0];
  t.strictSame(byDefault.moduleFrames.map((f) => f.symbol), ['my_warn', 'my_caller.isra.0'], 'only (O) modules');
  t.strictSame(byDefault.frames.map((f) => f.symbol), ['my_warn', 'my_caller.isra.0', 'vfs_write', 'helper']);
  const named = findReports(text, { module: 'virtio-console' })[0];
  t.strictSame(named.moduleFrames.map((f) => f.symbol), ['helper'], "'-' and '_' are the same");
  const noModLine = findReports(text.replace(/^Modules linked in:.*$/m, ''))[0];
  t.equal(noModLine.moduleFrames.length, 3, 'without "Modules linked in", any module');
});

t.test('timestamps, caller ids, levels and CRLF are accepted', async (t) => {
  const lines = warning('my_warn').map((l, i) => `<4>[  ${(12 + i / 1000).toFixed(6)}][  T73] ${l}\r`);
  const [r] = findReports(lines.join('\n'));
  t.equal(r.title, 'WARNING in my_warn');
  t.equal(r.frames.length, 4);
  t.notMatch(r.raw, /\[\s*12\./, 'raw has no timestamps');
});

t.test('interleaved lines inside a trace are ignored', async (t) => {
  const w = warning('my_warn');
  w.splice(9, 0, 'ktest-agent: heartbeat');
  const [r] = findReports(w.join('\n'));
  t.strictSame(r.frames.map((f) => f.symbol).slice(0, 2), ['my_warn', 'my_caller.isra.0']);
});

t.test('raw is bounded', async (t) => {
  const text = ['BUG: scheduling while atomic: sh/1/0x00000002', ...Array.from({ length: 1000 }, (_, i) => `line ${i}`)].join('\n');
  const [r] = findReports(text);
  t.equal(r.title, 'BUG: scheduling while atomic');
  t.ok(r.raw.split('\n').length <= MAX_REPORT_LINES);
  const [long] = findReports(`BUG: scheduling while atomic: sh/1/0x00000002\n${'x'.repeat(100000)}`);
  t.ok(long.raw.length < 2 * MAX_LINE_CHARS, 'long lines cut');
});

t.test('a panic long after a report is its own report; one right after joins it', async (t) => {
  const later = [...warning('my_warn'), 'Kernel panic - not syncing: ktest: requested'].join('\n');
  const two = findReports(later);
  t.strictSame(two.map((r) => r.kind), ['warning', 'panic']);
  t.equal(two[0].fatal, false);
  t.equal(two[1].fatal, true);
  const joined = findReports([...warning('my_warn'), 'Kernel panic - not syncing: kernel: panic_on_warn set ...'].join('\n'));
  t.strictSame(joined.map((r) => [r.kind, r.fatal]), [['warning', true]]);
});

t.test('no reports in ordinary text', async (t) => {
  t.strictSame(findReports(''), []);
  t.strictSame(findReports('hello\nWARNING: not from the kernel\n'), []);
});

t.test('symbolised traces (decode_stacktrace, syzkaller) and arm64 (T) marks', async (t) => {
  t.strictSame(parseFrame(' dump_stack+0x292/0x395 lib/dump_stack.c:52'), { symbol: 'dump_stack', offset: 0x292, size: 0x395 });
  t.strictSame(parseFrame(' __switch_to+0x2b0/0x6e0 (T)'), { symbol: '__switch_to', offset: 0x2b0, size: 0x6e0 });
  t.strictSame(parseFrame('    virtnet_xsk+0x293/0x6a0 (drivers/net/virtio_net.c:5882)'), { symbol: 'virtnet_xsk', offset: 0x293, size: 0x6a0 });
  const text = [
    'BUG: KASAN: use-after-free in my_fn+0x2f5/0x330 drivers/my.c:17',
    'Read of size 8 at addr ffff88004fab1858 by task sh/1',
    'Call Trace:',
    ' __dump_stack lib/dump_stack.c:16 [inline]',
    ' dump_stack+0x292/0x395 lib/dump_stack.c:52',
    ' kasan_report+0x230/0x340 mm/kasan/report.c:408',
    ' my_fn+0x2f5/0x330 drivers/my.c:17',
    ' my_caller drivers/my.c:30 [inline]',
    ' my_outer+0x10/0x20 drivers/my.c:40',
    'RIP: 0033:0x446179',
  ].join('\n');
  const [r] = findReports(text);
  t.equal(r.title, 'KASAN: use-after-free Read in my_fn');
  t.strictSame(r.frames.map((f) => f.symbol), ['dump_stack', 'kasan_report', 'my_fn', 'my_outer'], 'inline lines do not end the trace');
});

t.test('WARNING header variants', async (t) => {
  const titles = [
    'WARNING: CPU: 1 UID: 0 PID: 80 at drivers/x.c:41 my_warn+0x12/0x20 [my_mod]',
    'WARNING: drivers/x.c:41 at my_warn+0x12/0x20 [my_mod], CPU#1: sh/80',
    'WARNING: CPU: 0 PID: 1 at drivers/x.c:41 0xffffffffc0a01234',
  ].map((h) => findReports(`${h}\nCall Trace:\n my_caller+0x1/0x2 [my_mod]\n---[ end trace 0000000000000000 ]---`)[0]?.title);
  t.strictSame(titles, ['WARNING in my_warn', 'WARNING in my_warn', 'WARNING in my_caller']);
});

t.test('a RIP line inside a trace is a program counter, marked so the symboliser does not step back into the previous line', async (t) => {
  // Captured on 7.2: the stalling task was interrupted in its loop, and the x86 trace prints its registers.
  const log = readFileSync(join(projectRoot, 'test/fixtures/logs/rcu-stall-x86_64-7.2-rcu-stall.log'), 'utf8');
  const [report] = findReports(log);
  const inLoop = report?.frames.find((f) => f.symbol === 'crasher_rcu_stall');
  t.equal(inLoop?.pc, true, 'the interrupted crasher_rcu_stall frame is a PC');
  t.same(report?.frames.filter((f) => f.pc).map((f) => f.symbol), ['crasher_rcu_stall'], 'it is the only PC: every other frame, crasher_trigger_set.cold among them, is a return address');
});

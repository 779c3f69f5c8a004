// Tests the text of a kernel report: frames with inlined kernel code, a recursion collapsed, exec's summary.
import t from 'tap';
import { formatFrame, formatFrames, reportsSummary } from '../../../rig/report/details.ts';
import type { KernelReport, StackFrame } from '../../../rig/detect/kernel-report.ts';

const send = (offset: number, line: number): StackFrame => ({ symbol: 'sendnlmsg', offset, size: 0xe0, module: 'ktest', file: 'ktest.c', line });
const ready: StackFrame = { symbol: 'nl_data_ready.cold', offset: 0x19, size: 0xdfb, module: 'ktest', file: 'ktest.c', line: 79 };

t.test('a frame names the kernel code inlined at the module line', async (t) => {
  const f: StackFrame = { ...send(0x4c, 43), inlined: [{ function: 'alloc_skb', file: 'include/linux/skbuff.h', line: 1303 }] };
  t.equal(formatFrame(f), 'sendnlmsg+0x4c/0xe0 [ktest] (ktest.c:43; inlined alloc_skb at include/linux/skbuff.h:1303)');
  t.equal(formatFrame({ symbol: 'vfs_write', offset: 0xcb, size: 0x3f0 }), 'vfs_write+0xcb/0x3f0');
});

t.test('a recursion is one line with its count', async (t) => {
  const frames = [send(0x4c, 43), ...Array.from({ length: 29 }, () => [ready, send(0xb5, 60)]).flat(), ready];
  t.strictSame(formatFrames(frames), [
    '  at sendnlmsg+0x4c/0xe0 [ktest] (ktest.c:43)',
    '  at nl_data_ready.cold (ktest.c:79) <- sendnlmsg (ktest.c:60), repeated 29 times',
    '  at nl_data_ready.cold+0x19/0xdfb [ktest] (ktest.c:79)',
  ]);
});

t.test("exec's summary: every report, its module frames, where the log is", async (t) => {
  const r: KernelReport = { kind: 'warning', title: 'WARNING in f', frames: [send(1, 2)], moduleFrames: [send(1, 2)], fatal: false, raw: '' };
  const text = reportsSummary([r, { ...r, kind: 'panic', title: 'Kernel panic', fatal: true, moduleFrames: [] }], '/tmp/x.log');
  t.match(text, /^1\. kernel report: WARNING in f \[warning\]\n  at sendnlmsg\+0x1\/0xe0 \[ktest\] \(ktest\.c:2\)\n2\. kernel report: Kernel panic \[panic, fatal\]\nfull console log: \/tmp\/x\.log\n$/);
});

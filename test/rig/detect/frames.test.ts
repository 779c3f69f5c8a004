// Tests recursion collapsing and naming on captured stack overflows (the seed module's and crasher's).
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { collapseFrames, recursingFrames } from '../../../rig/detect/frames.ts';
import { findReports } from '../../../rig/detect/parse.ts';
import type { StackFrame } from '../../../rig/detect/kernel-report.ts';

const logs = join(import.meta.dirname, '..', '..', 'fixtures', 'logs');
const body = (file: string): string => {
  const text = readFileSync(join(logs, file), 'utf8');
  return text.slice(text.indexOf('\n---\n') + 5);
};
const f = (symbol: string, offset = 1, module?: string): StackFrame => ({ symbol, offset, ...(module ? { module } : {}) });
const names = (runs: ReturnType<typeof collapseFrames>) => runs.map((r) => `${r.frames.map((x) => x.symbol).join('<-')}x${r.times}`);

t.test('collapseFrames keeps order and finds the longest-covering cycle', async (t) => {
  t.strictSame(names(collapseFrames([])), []);
  t.strictSame(names(collapseFrames([f('a'), f('b'), f('c')])), ['ax1', 'bx1', 'cx1']);
  t.strictSame(names(collapseFrames([f('a'), f('a'), f('a'), f('b')])), ['ax3', 'bx1']);
  t.strictSame(names(collapseFrames([f('x'), f('a'), f('b'), f('a'), f('b'), f('a'), f('b'), f('y')])), ['xx1', 'a<-bx3', 'yx1']);
  t.strictSame(names(collapseFrames([f('a', 1), f('a', 2), f('a', 1)])), ['ax1', 'ax1', 'ax1'], 'a different offset is a different frame');
  t.strictSame(names(collapseFrames([f('a'), f('a')], 3)), ['ax1', 'ax1'], 'below minTimes nothing collapses');
});

t.test("the seed module's recursion: one cycle, titled by the module's own function", async (t) => {
  const [r] = findReports(body('stack-overflow-x86_64-6.1-captured-seed.log'), { module: 'ktest' });
  t.equal(r!.title, 'BUG: stack guard page was hit in sendnlmsg', 'not __unwind_start (the RIP) nor the allocator it was in');
  const runs = collapseFrames(r!.moduleFrames);
  t.equal(runs.length, 3, 'the entry frame, the cycle, the outermost frame');
  t.strictSame(runs[1]!.frames.map((x) => x.symbol), ['nl_data_ready.cold', 'sendnlmsg']);
  t.ok(runs[1]!.times > 20, `repeated ${runs[1]!.times} times`);
  t.equal(runs.reduce((n, run) => n + run.frames.length * run.times, 0), r!.moduleFrames.length, 'every frame accounted for');
  const rec = new Set(recursingFrames(r!.frames).map((x) => x.symbol));
  t.strictSame([...rec].sort(), ['netlink_unicast', 'nl_data_ready.cold', 'sendnlmsg'], 'the kernel frame of the cycle too');
});

t.test('crasher: a self-recursion collapses to one frame', async (t) => {
  const [r] = findReports(body('stack-overflow-x86_64-6.1-captured.log'), { module: 'crasher' });
  t.equal(r!.title, 'BUG: stack guard page was hit in crasher_recurse');
  const runs = collapseFrames(r!.moduleFrames);
  t.ok(runs.some((run) => run.frames.length === 1 && run.frames[0]!.symbol === 'crasher_recurse' && run.times > 50));
});

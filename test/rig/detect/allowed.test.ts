// Allowed kernel reports: the split of a scenario's reports, and the patterns a whole run never needed.
import t from 'tap';
import { allowedLine, splitAllowed, unusedAllowed } from '../../../rig/detect/allowed.ts';
import type { KernelReport } from '../../../rig/detect/kernel-report.ts';
import type { RunSummary } from '../../../rig/report/results.ts';

const report = (title: string): KernelReport => ({ kind: 'warning', title, frames: [], moduleFrames: [], fatal: false, raw: '' });
const allowed = [
  { title: /WARNING in mailbox_\w+/, reason: 'reset warns by design' },
  { title: 'hung task', reason: 'slow CI' },
];

t.test('split', async (t) => {
  const r = splitAllowed([report('WARNING in mailbox_ioctl'), report('BUG: kernel NULL pointer dereference in f')], allowed);
  t.strictSame(r.allowed, [{ title: 'WARNING in mailbox_ioctl', kind: 'warning', pattern: '/WARNING in mailbox_\\w+/', reason: 'reset warns by design' }]);
  t.strictSame(r.reports.map((x) => x.title), ['BUG: kernel NULL pointer dereference in f']);
  t.strictSame(splitAllowed([report('x')], []).reports.length, 1, 'nothing allowed without a list');
  t.equal(allowedLine(r.allowed[0]!), 'allowed kernel report "WARNING in mailbox_ioctl" (/WARNING in mailbox_\\w+/: reset warns by design)');
});

t.test('unused patterns over a whole run', async (t) => {
  const run = (allowedTitles: string[][]): RunSummary => ({
    image: 'i', kernel: 'k', arch: 'x86_64', accel: 'tcg', passed: 0, failed: 0,
    scenarios: allowedTitles.map((titles, i) => ({ image: 'i', name: `s${i}`, status: 'pass', durationMs: 1, allowed: splitAllowed(titles.map(report), allowed).allowed })),
  });
  t.strictSame(unusedAllowed(allowed, [run([[], ['WARNING in mailbox_reset']]), run([[]])]).map((a) => a.reason), ['slow CI']);
  t.strictSame(unusedAllowed(allowed, [run([['INFO: task x:1 blocked for more than 5 seconds. hung task']]), run([['WARNING in mailbox_x']])]), []);
  t.strictSame(unusedAllowed(allowed, []).length, 2, 'an empty run used none');
});

import t from 'tap';
import { formatLoopTable, TRIVIAL } from '../../../rig/cli/bench-loops.ts';

t.test('formatLoopTable: new beside today and naive, blanks where a method does not apply, target met or missed', async (t) => {
  const text = formatLoopTable([
    { measure: 'exec warm', newMs: 1234, todayMs: 4000, runs: 3, target: '<= 1.5 s', met: true },
    { measure: 'run warm', newMs: 8000, todayMs: 15000, naiveMs: 90000, runs: 3, target: '<= 7 s', met: false },
    { measure: 'startup', newMs: 500, runs: 6 },
  ]);
  const lines = text.split('\n');
  t.match(lines[0], /\| loop\s+\|\s+new \| today's method \|\s+naive \| runs \| target/);
  t.match(lines[2], /exec warm .*\|\s+1\.23 s \|\s+4\.00 s \|\s+\|\s+3 \| <= 1\.5 s: met/);
  t.match(lines[3], /90\.00 s .*<= 7 s: missed/);
  t.match(lines[4], /startup .*0\.50 s \|\s+\|\s+\|\s+6 \|\s+\|$/);
  t.equal(new Set(lines.map((l) => l.length)).size, 1, 'columns line up');
});

t.test('the trivial scenario sends one message to the loaded module', async (t) => {
  t.equal(TRIVIAL.load, undefined, 'the module is loaded first, as for every default scenario');
  t.equal(TRIVIAL.name, 'trivial');
});

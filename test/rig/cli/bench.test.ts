import t from 'tap';
import { median, formatBenchTable, defaultParts } from '../../../rig/cli/bench.ts';

t.test('median of odd, even and empty lists', async (t) => {
  t.equal(median([3, 1, 2]), 2);
  t.equal(median([4, 1, 3, 2]), 2.5);
  t.ok(Number.isNaN(median([])));
});

t.test('the table aligns columns and prints ratios', async (t) => {
  const table = formatBenchTable(
    [
      { measure: 'boot', medianMs: 1234, runs: 5, target: '<= 1.5 s' },
      { measure: 'restore', medianMs: 210, runs: 10 },
    ],
    [{ name: 'speed-up', value: 12.345, target: '>= 10x' }],
  );
  const lines = table.split('\n');
  t.equal(lines.length, 5);
  t.match(lines[2], /^\| boot +\| +1\.23 s \| +5 \| <= 1\.5 s \|$/);
  t.match(lines[4], /speed-up .*12\.3x .*>= 10x/);
  t.ok(new Set(lines.map((l) => l.length)).size === 1, 'every line has the same width');
});

t.test('defaultParts: every part on a stock image, the guests part on a kernel the rig builds', async (t) => {
  t.same(defaultParts('bookworm-6.1'), ['guests', 'loops', 'matrix']);
  t.same(defaultParts('bookworm-6.1-debug'), ['guests']);
});

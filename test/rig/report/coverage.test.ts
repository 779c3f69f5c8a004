// Coverage as data: real gcov-12 JSON of a small program (compiled with --coverage, run on the host) turned
// into lcov records; lcov itself reads them back and must agree with the rig's own counts.
import t from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { coverageTable, formatCounts, formatLcov, fromGcovJson, lcovTestName, mergeCoverage, summarizeCoverage, uncoveredLines, type GcovJson } from '../../../rig/report/coverage.ts';
import { missingTools } from '../../helpers/host-tools.ts';

const PROGRAM = `#include <stdlib.h>
int odd(int v)
{
	if (v % 2)
		return 1;
	return 0;
}
int never(void)
{
	return 42;
}
int main(int argc, char **argv)
{
	int n = 0, i;
	for (i = 0; i < atoi(argv[1]); i++)
		n += odd(i);
	return n > 100 ? never() : 0;
}
`;

async function gcovOf(dir: string, runs: readonly string[]): Promise<GcovJson> {
  await writeFile(join(dir, 'p.c'), PROGRAM);
  const cc = await execa('gcc-12', ['--coverage', '-O0', '-o', 'p', 'p.c'], { cwd: dir });
  t.equal(cc.exitCode, 0);
  for (const arg of runs) await execa('./p', [arg], { cwd: dir, reject: false }); // exits 42 when never() ran
  const r = await execa('gcov-12', ['--branch-probabilities', '--json-format', '--stdout', 'p.gcno'], { cwd: dir });
  return JSON.parse(r.stdout) as GcovJson;
}

t.test('gcov JSON to lcov: counts, functions, branches, and lcov agrees', async (t) => {
  const missing = await missingTools('gcc-12', 'gcov-12', 'lcov');
  if (missing) return t.fail(missing);
  const dir = await mkdtemp(join(tmpdir(), 'coverage-test-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const json = await gcovOf(dir, ['3']);
  const kept = join(dir, 'p.c');
  const data = fromGcovJson(json, (f) => (f.endsWith('/p.c') || f === 'p.c' ? kept : undefined));
  t.same([...data.keys()], [kept], 'only the mapped file (system headers dropped)');
  const f = data.get(kept)!;
  const line = (text: string) => PROGRAM.split('\n').findIndex((l) => l.includes(text)) + 1;
  t.equal(f.lines.get(line('n += odd(i)')), 3, 'loop body ran 3 times');
  t.equal(f.lines.get(line('return 1;')), 1, 'odd(1) only');
  t.equal(f.lines.get(line('return 42;')), 0, 'never() never ran');
  const unrun = uncoveredLines(f);
  t.ok(unrun.includes(line('return 42;')), 'never()\'s body is uncovered');
  t.same(unrun, [...f.lines].filter(([, n]) => n === 0).map(([l]) => l).sort((a, b) => a - b), 'uncovered: exactly the lines at zero, in order');
  t.equal(f.functions.get('never')?.count, 0);
  t.equal(f.functions.get('odd')?.count, 3);
  const text = formatLcov('run one', data);
  t.match(text, /^TN:run_one\nSF:/, 'test names are made lcov-safe');
  t.match(text, /\nend_of_record\n$/);
  const s = summarizeCoverage(data, dir);
  t.equal(s.files[0]!.file, 'p.c', 'paths relative to the module directory');
  await writeFile(join(dir, 'one.info'), text);
  const lcov = await execa('lcov', ['--summary', join(dir, 'one.info'), '--rc', 'lcov_branch_coverage=1'], { reject: false });
  const out = `${lcov.stdout}\n${lcov.stderr}`;
  t.match(out, new RegExp(`lines\\.+: [\\d.]+% \\(${s.total.lines.hit} of ${s.total.lines.found} lines\\)`), 'lcov counts the same lines');
  t.match(out, new RegExp(`functions\\.+: [\\d.]+% \\(${s.total.functions.hit} of ${s.total.functions.found} functions\\)`), 'and functions');
  t.match(out, new RegExp(`branches\\.+: [\\d.]+% \\(${s.total.branches.hit} of ${s.total.branches.found} branches\\)`), 'and branches');

  // a second guest's counters add up, as gcov's own accumulation does (run 200: never() runs)
  const dir2 = await mkdtemp(join(tmpdir(), 'coverage-test-'));
  t.teardown(() => rm(dir2, { recursive: true, force: true }));
  const second = fromGcovJson(await gcovOf(dir2, ['250']), () => kept);
  mergeCoverage(data, second);
  t.equal(data.get(kept)!.lines.get(line('n += odd(i)')), 253, '3 + 250 iterations');
  t.equal(data.get(kept)!.functions.get('never')?.count, 1, 'never() ran in the second');
  await writeFile(join(dir, 'both.info'), formatLcov('both', data));
  const both = summarizeCoverage(data, dir);
  t.equal(both.total.lines.hit, both.total.lines.found, 'every line ran in one or the other');
  const lcov2 = await execa('lcov', ['--summary', join(dir, 'both.info'), '--rc', 'lcov_branch_coverage=1'], { reject: false });
  t.match(`${lcov2.stdout}\n${lcov2.stderr}`, new RegExp(`\\(${both.total.branches.hit} of ${both.total.branches.found} branches\\)`));
});

t.test('summary text', async (t) => {
  t.equal(formatCounts({ hit: 3, found: 4 }), '3/4 75.0%');
  t.equal(formatCounts({ hit: 0, found: 0 }), '-');
  t.equal(lcovTestName('echo-4k.x'), 'echo_4k_x');
  const s = { files: [{ file: 'a.c', lines: { hit: 1, found: 2 }, functions: { hit: 1, found: 1 }, branches: { hit: 0, found: 0 } }], total: { lines: { hit: 1, found: 2 }, functions: { hit: 1, found: 1 }, branches: { hit: 0, found: 0 } } };
  t.equal(coverageTable(s), '  file  lines      functions   branches\n  a.c   1/2 50.0%  1/1 100.0%  -');
});

// Module coverage (--coverage) on the debug kernel, checked line by line against the covered fixture's
// marks: every line gcov counts in test/fixtures/kmods/covered/covered.c says how often the scenarios of
// test/fixtures/scenarios/covered.ts run it (@hit N, @hit N SCENARIO) or that none does (@miss).
import t from 'tap';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { projectRoot } from '../../rig/core/paths.ts';
import { rig } from '../helpers/rig.ts';
import type { JsonReport } from '../../rig/report/json.ts';

const IMAGE = 'bookworm-6.1-debug';
const fixture = join(projectRoot, 'test/fixtures/kmods/covered');
const source = join(fixture, 'covered.c');
const scenarioFile = join(projectRoot, 'test/fixtures/scenarios/covered.ts');
const SCENARIOS = ['poke-3', 'poke-4', 'negative', 'garbage', 'reload'];

t.setTimeout(45 * 60_000);

interface Mark {
  readonly hits: number;
  /** The one scenario that runs the line. */
  readonly only?: string;
}

/** The marks of covered.c by line: `/* @hit N [SCENARIO] *\/` or `/* @miss *\/` at the end of a line. */
async function marks(): Promise<Map<number, Mark>> {
  const out = new Map<number, Mark>();
  (await readFile(source, 'utf8')).split('\n').forEach((text, i) => {
    const m = /\/\*\s*@(?:hit\s+(\d+)(?:\s+([\w-]+))?|miss)\s*\*\/\s*$/.exec(text);
    if (m) out.set(i + 1, { hits: m[1] ? Number(m[1]) : 0, ...(m[2] && { only: m[2] }) });
  });
  return out;
}

/** DA lines of a tracefile, per test name (TN) and line, for one source file. */
function daLines(info: string, file: string): Map<string, Map<number, number>> {
  const out = new Map<string, Map<number, number>>();
  let test = '';
  let sf = '';
  for (const line of info.split('\n')) {
    if (line.startsWith('TN:')) test = line.slice(3);
    else if (line.startsWith('SF:')) sf = line.slice(3);
    else if (line.startsWith('DA:') && sf === file) {
      const [n, count] = line.slice(3).split(',').map(Number) as [number, number];
      if (!out.has(test)) out.set(test, new Map());
      out.get(test)!.set(n, (out.get(test)!.get(n) ?? 0) + count);
    }
  }
  return out;
}

t.test('--coverage on a kernel without gcov: exit 2, one line naming the image that has it', async (t) => {
  const r = await rig(['--coverage', '--only', 'roundtrip']);
  t.equal(r.exitCode, 2, 'usage error', { stderr: r.stderr.slice(-2000) });
  t.match(r.stderr, /^error: --coverage: the kernel of bookworm-6\.1 has no gcov support \(CONFIG_GCOV_KERNEL is not set\); bookworm-6\.1-debug has it$/m);
  t.match(r.stderr, /^ {2}hint: npm run rig -- --kernel bookworm-6\.1-debug --coverage$/m);
  t.notMatch(r.stderr, /scenario 1\/1/, 'no scenario ran');
  t.equal(r.qemuLeft, 0);
});

t.test('covered fixture: the lines each scenario runs, line by line, as its marks say', async (t) => {
  const expected = await marks();
  t.ok(expected.size > 20, `${expected.size} marked lines`);
  const dir = await mkdtemp(join(tmpdir(), 'ktest-rig-coverage-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const out = join(dir, 'cov');
  const r = await rig(['--kernel', IMAGE, '--kmod', fixture, '--scenarios', scenarioFile, '--coverage', '--coverage-dir', out, '--json', join(dir, 'r.json')]);
  t.equal(r.exitCode, 0, 'every scenario passes', { stdout: r.stdout.slice(-3000), stderr: r.stderr.slice(-3000) });
  t.equal(r.qemuLeft, 0, 'no QEMU left');

  const base = join(out, IMAGE);
  const info = await readFile(join(base, 'lcov.info'), 'utf8');
  t.match(info, new RegExp(`^SF:${source.replace(/[.]/g, '\\.')}$`, 'm'), "paths point into the author's tree, not the build copy");
  t.notMatch(info, /^SF:.*\/include\//m, 'no kernel headers');
  const perTest = daLines(info, source);
  t.same([...perTest.keys()].sort(), SCENARIOS.map((s) => s.replace(/\W/g, '_')).sort(), 'one TN record per scenario');
  const total = new Map<number, number>();
  for (const lines of perTest.values()) for (const [n, c] of lines) total.set(n, (total.get(n) ?? 0) + c);
  t.same([...total.keys()].sort((a, b) => a - b), [...expected.keys()].sort((a, b) => a - b), 'gcov counts exactly the marked lines');
  for (const [line, mark] of expected) t.equal(total.get(line), mark.hits, `covered.c:${line} ran ${mark.hits} time(s)`);

  // Each scenario's own tracefile: a line marked with a scenario runs there and nowhere else.
  for (const name of SCENARIOS) {
    const own = daLines(await readFile(join(base, 'scenarios', `${name}.info`), 'utf8'), source).get(name.replace(/\W/g, '_'));
    t.ok(own, `${name} has its own tracefile`);
    for (const [line, mark] of expected) {
      if (!mark.only) continue;
      t.equal(own?.get(line), mark.only === name ? mark.hits : 0, `${name}: covered.c:${line} (only ${mark.only})`);
    }
  }

  // The summary: printed, in the JSON report, and what lcov itself reads from the tracefile.
  const hit = [...expected.values()].filter((m) => m.hits > 0).length;
  const report = JSON.parse(await readFile(join(dir, 'r.json'), 'utf8')) as JsonReport;
  const cov = report.runs[0]?.coverage;
  t.match(cov?.files, [{ file: 'covered.c', lines: { hit, found: expected.size } }], 'JSON: per-file lines');
  t.same(cov?.scenarios.map((s) => s.name), SCENARIOS, 'JSON: every scenario');
  t.equal(cov?.tracefile, join(base, 'lcov.info'));
  t.ok(existsSync(cov?.html ?? ''), 'the HTML report is there');
  t.match(await readFile(join(base, 'html', 'index.html'), 'utf8'), /covered on bookworm-6\.1-debug/, 'titled');
  t.match(r.stderr, new RegExp(`coverage of covered on ${IMAGE} \\(5 scenarios\\): ${join(base, 'html', 'index.html')}`), 'stderr names the report');
  t.match(r.stderr, new RegExp(`^  covered\\.c +${hit}/${expected.size} `, 'm'), 'stderr: the per-file row');
  const lcov = await execa('lcov', ['--summary', join(base, 'lcov.info'), '--rc', 'lcov_branch_coverage=1'], { reject: false });
  const text = `${lcov.stdout}\n${lcov.stderr}`;
  t.match(text, new RegExp(`\\(${hit} of ${expected.size} lines\\)`), 'lcov agrees on lines');
  t.match(text, new RegExp(`\\(${cov?.total.functions.hit} of ${cov?.total.functions.found} functions\\)`), 'and functions');
  t.match(text, new RegExp(`\\(${cov?.total.branches.hit} of ${cov?.total.branches.found} branches\\)`), 'and branches');
  t.equal(cov?.total.functions.found, 5);
  t.equal(cov?.total.functions.hit, 4, 'covered_big never runs');
});

t.test('a guest whose kernel died: its counters are named unread, the other scenarios still count', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ktest-rig-coverage-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const crasher = join(projectRoot, 'test/fixtures/kmods/crasher');
  const r = await rig(['--kernel', IMAGE, '--kmod', crasher, '--scenarios', join(projectRoot, 'test/fixtures/scenarios/crasher.ts'), '--only', '/^(panic|warn)$/', '--coverage', '--coverage-dir', join(dir, 'cov'), '--json', join(dir, 'r.json')]);
  t.equal(r.exitCode, 1, 'both scenarios fail (their kernel reports)', { stderr: r.stderr.slice(-2000) });
  t.equal(r.qemuLeft, 0);
  const cov = (JSON.parse(await readFile(join(dir, 'r.json'), 'utf8')) as JsonReport).runs[0]?.coverage;
  const by = new Map(cov?.scenarios.map((s) => [s.name, s]));
  t.match(by.get('panic'), { runs: 1, unread: 1, lines: { hit: 0 } }, 'the panicked guest could not be read');
  t.ok((by.get('warn')?.lines.hit ?? 0) > 0, 'the WARN scenario ran lines of crasher.c');
  t.notOk(by.get('warn')?.unread, 'and was read');
  t.match(r.stderr, /\] panic: coverage counters not read \(.*\); this guest's lines are not counted/);
  t.match(r.stderr, /1 guest died before their counters were read/);
});

t.test('--fault-inject --coverage: the injected guests count, so the allocation-failure path of ktest.c shows as run', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ktest-rig-coverage-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const r = await rig(['--kernel', IMAGE, '--only', 'roundtrip', '--fault-inject', '--coverage', '--coverage-dir', join(dir, 'cov'), '--json', join(dir, 'r.json')]);
  t.equal(r.exitCode, 0, 'ktest survives every injected failure', { stderr: r.stderr.slice(-2000) });
  t.equal(r.qemuLeft, 0);
  const run = (JSON.parse(await readFile(join(dir, 'r.json'), 'utf8')) as JsonReport).runs[0];
  const injected = run?.scenarios[0]?.faultInjection?.injected ?? 0;
  t.ok(injected > 0, `${injected} injected runs`);
  t.equal(run?.coverage?.scenarios[0]?.runs, injected + 1, 'every guest of the sweep was read: the counting run and each injected one');
  // The line ktest_log_message runs only when its kmalloc failed.
  const ktest = join(projectRoot, 'kmod/ktest.c');
  const line = (await readFile(ktest, 'utf8')).split('\n').findIndex((l) => l.includes('(%d bytes, not shown)')) + 1;
  t.ok(line > 0, `ktest.c:${line} is the kmalloc failure's printk`);
  const counts = daLines(await readFile(join(dir, 'cov', IMAGE, 'lcov.info'), 'utf8'), ktest).get('roundtrip');
  t.ok((counts?.get(line) ?? 0) > 0, `ktest.c:${line} ran in an injected guest`);
  const plain = daLines(await readFile(join(dir, 'cov', IMAGE, 'scenarios', 'roundtrip.info'), 'utf8'), ktest).get('roundtrip');
  t.same(plain, counts, "the scenario's own tracefile holds the same counts");
});

// The debug kernel (bookworm-6.1-debug) that the rig builds from Debian's linux-source-6.1: it builds
// (from a cold cache too: about 5 minutes on 2 cores), boots, passes the default scenarios on ktest,
// reports every bug class of the debugbugs fixture at the fixture's own source line, and its
// fault-injection sweep passes on ktest and finds debugbugs' unchecked allocation.
import t from 'tap';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runImage } from '../../rig/run/image.ts';
import { resolveImages } from '../../rig/kernels/images.ts';
import { projectRoot } from '../../rig/core/paths.ts';
import { liveQemuPids } from '../../rig/vm/qemu.ts';
import { scenarios, expectations } from '../fixtures/scenarios/debugbugs.ts';
import { faultLine, faultReportProblems } from '../helpers/fault-lines.ts';
import { rig } from '../helpers/rig.ts';
import { scenarios as defaultScenarios } from '../../rig/scenario/ktest.ts';
import type { JsonReport } from '../../rig/report/json.ts';
import type { ScenarioResult } from '../../rig/report/results.ts';

const IMAGE = 'bookworm-6.1-debug';
const fixture = join(projectRoot, 'test/fixtures/kmods/debugbugs');

t.setTimeout(45 * 60_000);

t.test('the debug kernel builds and passes every default scenario on ktest', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ktest-rig-debugk-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const r = await rig(['images', 'fetch', IMAGE]);
  t.equal(r.exitCode, 0, 'images fetch builds (or finds) the kernel', { stderr: r.stderr.slice(-3000) });
  const run = await rig(['--kernel', IMAGE, '--json', join(dir, 'r.json')]);
  t.equal(run.exitCode, 0, 'every default scenario passes', { stdout: run.stdout.slice(-4000) });
  const report = JSON.parse(await readFile(join(dir, 'r.json'), 'utf8')) as JsonReport;
  t.equal(report.runs[0]?.kernel, resolveImages(IMAGE)[0]!.release, 'on the built kernel');
  t.equal(report.passed, defaultScenarios.length, `every one of the ${defaultScenarios.length} default scenarios passed`);
  t.equal(run.qemuLeft, 0);
});

t.test('each debugbugs bug is a failed scenario with its report at the fixture line', async (t) => {
  const workDir = await mkdtemp(join(tmpdir(), 'ktest-rig-debugk-'));
  t.teardown(() => rm(workDir, { recursive: true, force: true }));
  const summary = await runImage({ image: resolveImages(IMAGE)[0]!, kmodDir: fixture, scenarios, snapshot: true, debug: true, workDir, onEvent: () => {} });
  const by = new Map<string, ScenarioResult>(summary.scenarios.map((s) => [s.name, s]));
  for (const [name, expected] of Object.entries(expectations)) {
    const r = by.get(name);
    t.equal(r?.status, 'fail', `${name} fails`);
    const mark = faultLine(fixture, expected.fault);
    t.same(faultReportProblems(r?.failure?.reports ?? [], mark, expected, faultLine(fixture, expected.reportedAt ?? expected.fault)), [], `${name}: ${expected.kind} "${expected.title}" at ${mark.file}:${mark.line}`, {
      reports: (r?.failure?.reports ?? []).map((rep) => ({ kind: rep.kind, title: rep.title, frames: rep.moduleFrames.map((f) => `${f.symbol} ${f.file}:${f.line}`) })),
      message: r?.failure?.message,
    });
  }
  t.equal(by.get('clean')?.status, 'pass', 'a module that loads and unloads cleanly passes (no leak charged to it)');
  t.equal(by.get('alloc-unchecked')?.status, 'pass', 'the unchecked allocation passes while allocations succeed');
  t.same(liveQemuPids(), [], 'no QEMU left');
});

t.test('--fault-inject: ktest handles every failed allocation; debugbugs does not, and the site is named', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ktest-rig-debugk-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));

  const ok = await rig(['--kernel', IMAGE, '--fault-inject', '--fault-inject-max', '8', '--only', '/^(echo-1-byte|ack|no-module)$/', '--json', join(dir, 'ok.json')]);
  t.equal(ok.exitCode, 0, 'ktest survives each injected failure', { stdout: ok.stdout.slice(-4000), stderr: ok.stderr.slice(-2000) });
  const okReport = JSON.parse(await readFile(join(dir, 'ok.json'), 'utf8')) as JsonReport;
  for (const s of okReport.runs[0]?.scenarios ?? []) {
    const f = s.faultInjection;
    if (s.name === 'no-module') {
      // Its client's socket fails before any allocation: the counting run must still read EPROTONOSUPPORT.
      t.same([s.status, f?.points], ['pass', 0], 'no-module: passes its counting run, with no fault point to inject', { failure: s.failure });
      continue;
    }
    t.ok(f && f.points > 0, `${s.name}: the counting run met ${f?.points} fault points`);
    t.equal(f?.injected, Math.min(f?.points ?? 0, 8), `${s.name}: one injection per point, up to the bound`);
    t.equal(f?.reached, f?.injected, `${s.name}: every injection reached its point`);
    t.equal(f?.failed, 0, `${s.name}: none made the kernel report`);
  }

  const bad = await rig(['--kernel', IMAGE, '--kmod', fixture, '--scenarios', join(projectRoot, 'test/fixtures/scenarios/debugbugs.ts'), '--only', 'alloc-unchecked', '--fault-inject', '--json', join(dir, 'bad.json')]);
  t.equal(bad.exitCode, 1, 'the sweep fails the scenario', { stderr: bad.stderr.slice(-2000) });
  const badReport = JSON.parse(await readFile(join(dir, 'bad.json'), 'utf8')) as JsonReport;
  const s = badReport.runs[0]?.scenarios[0];
  const site = faultLine(fixture, 'alloc-site');
  const use = faultLine(fixture, 'alloc-unchecked');
  t.match(s?.failure?.injected, { function: 'debugbugs_alloc_unchecked', at: `debugbugs.c:${site.line}`, attr: 'failslab' }, 'the failed allocation is the fixture\'s own line');
  t.match(s?.failure?.reports?.[0]?.title ?? '', /debugbugs_alloc_unchecked/, 'the report names the function that used the NULL pointer');
  t.ok(s?.failure?.reports?.[0]?.moduleFrames.some((f) => f.line === use.line), `the oops points at debugbugs.c:${use.line}`);
  t.ok((s?.faultInjection?.failed ?? 0) >= 1, 'the summary counts the failed injection');
  t.equal(bad.qemuLeft, 0);
});

// Every detector fires on a real kernel: the crasher fixture module faults in each scenario, and the rig reports each.
import t from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runImage } from '../../rig/run/image.ts';
import { resolveImages, DEFAULT_IMAGE_ID } from '../../rig/kernels/images.ts';
import { projectRoot } from '../../rig/core/paths.ts';
import { liveQemuPids } from '../../rig/vm/qemu.ts';
import { scenarios, expectations } from '../fixtures/scenarios/crasher.ts';
import { faultLine, faultReportProblems } from '../helpers/fault-lines.ts';
import type { ScenarioResult } from '../../rig/report/results.ts';

t.setTimeout(15 * 60_000);

t.test('each fault of the crasher module is a failed scenario with the right report, and the next scenario is clean', async (t) => {
  const workDir = await mkdtemp(join(tmpdir(), 'ktest-rig-detect-'));
  t.teardown(() => rm(workDir, { recursive: true, force: true }));
  const summary = await runImage({
    image: resolveImages(DEFAULT_IMAGE_ID)[0]!,
    kmodDir: join(projectRoot, 'test/fixtures/kmods/crasher'),
    scenarios,
    snapshot: true,
    debug: true,
    workDir,
    onEvent: () => {},
  });
  const by = new Map<string, ScenarioResult>(summary.scenarios.map((s) => [s.name, s]));
  const image = resolveImages(DEFAULT_IMAGE_ID)[0]!;
  const fixture = join(projectRoot, 'test/fixtures/kmods/crasher');
  for (const [name, expected] of Object.entries(expectations(image))) {
    const r = by.get(name);
    t.equal(r?.status, 'fail', `${name} fails`);
    const mark = faultLine(fixture, expected.fault);
    // Exactly one kind, the exact title naming the marked function, the innermost module frame at the marked line.
    t.same(faultReportProblems(r?.failure?.reports ?? [], mark, expected, expected.reportedAt === null ? null : faultLine(fixture, expected.reportedAt)), [], `${name}: ${expected.kind} "${expected.title}" at ${mark.file}:${mark.line}`, {
      reports: (r?.failure?.reports ?? []).map((rep) => ({ kind: rep.kind, title: rep.title, frames: rep.moduleFrames.map((f) => `${f.symbol} ${f.file}:${f.line}`) })),
      message: r?.failure?.message,
    });
  }
  t.equal(by.get('clean')?.status, 'pass', 'a scenario after all those crashes starts from a clean snapshot and passes');
  t.same(liveQemuPids(), [], 'no QEMU left');
});

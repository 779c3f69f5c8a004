// Every detector fires on a real kernel: the crasher fixture module faults in each scenario, and the rig reports each.
import t from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runImage } from '../../rig/run/image.ts';
import { resolveImages, DEFAULT_IMAGE_ID } from '../../rig/kernels/images.ts';
import { projectRoot } from '../../rig/core/paths.ts';
import { liveQemuPids } from '../../rig/vm/qemu.ts';
import { scenarios, expected } from '../fixtures/scenarios/crasher.ts';
import type { ScenarioResult } from '../../rig/core/types.ts';

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
  for (const [name, kinds] of Object.entries(expected)) {
    const r = by.get(name);
    t.equal(r?.status, 'fail', `${name} fails`);
    const reports = r?.failure?.reports ?? [];
    t.ok(reports.some((rep) => kinds.includes(rep.kind)), `${name}: a ${kinds.join('/')} report (got ${reports.map((x) => x.kind).join(', ') || 'none'}: ${r?.failure?.message})`);
    const own = reports.find((rep) => kinds.includes(rep.kind));
    t.ok(own?.moduleFrames.some((f) => f.file?.endsWith('crasher.c') && (f.line ?? 0) > 0), `${name}: symbolised to crasher.c:line`);
    t.match(own?.title ?? '', /crasher_/, `${name}: title names the module function (${own?.title})`);
  }
  t.equal(by.get('clean')?.status, 'pass', 'a scenario after all those crashes starts from a clean snapshot and passes');
  t.same(liveQemuPids(), [], 'no QEMU left');
});

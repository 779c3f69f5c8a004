// Failure bundles and `rig replay`: a failing scenario leaves a bundle (with the guest saved at the failure), replay reproduces it.
import t from 'tap';
import { cp, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rig } from '../helpers/rig.ts';
import { projectRoot } from '../../rig/core/paths.ts';
import { treeHash, type BundleManifest } from '../../rig/run/bundle.ts';

t.setTimeout(10 * 60_000);

const logs = await mkdtemp(join(tmpdir(), 'ktest-rig-replay-test-'));
t.teardown(() => rm(logs, { recursive: true, force: true }));
const bundle = join(logs, 'bundles', 'bookworm-6.1--roundtrip');

t.test('a failed scenario writes a bundle with everything replay needs', async (t) => {
  const r = await rig(['--kmod', join(projectRoot, 'test/fixtures/kmods/wrong-reply'), '--only', 'roundtrip', '--logs', logs]);
  t.equal(r.exitCode, 1, 'the scenario failed', { stderr: r.stderr.slice(-1500) });
  t.match(r.stderr, `bundle ${bundle}`, 'the bundle is named on stderr');
  const m = JSON.parse(await readFile(join(bundle, 'bundle.json'), 'utf8')) as BundleManifest;
  t.equal(m.scenario.name, 'roundtrip');
  t.equal(m.image.id, 'bookworm-6.1');
  t.match(JSON.stringify(m.image.packages), /"sha256":"[0-9a-f]{64}"/, 'the image pins');
  t.equal(m.failure.kind, 'assertion');
  t.match(m.failure.message, /hello world/);
  t.strictSame(m.options, { debug: true, snapshot: true, accel: m.options.accel });
  t.match(m.rig.version, /^\d+\.\d+\.\d+/);
  t.equal(m.module.sha256, await treeHash(join(bundle, 'module')), 'the hash covers the sources as copied');
  t.equal(await readFile(join(bundle, 'module', 'ktest.c'), 'utf8'), await readFile(join(projectRoot, 'test/fixtures/kmods/wrong-reply/ktest.c'), 'utf8'));
  t.match(await readFile(join(bundle, 'console.log'), 'utf8'), /ktest-rig: scenario roundtrip begin/, 'the full console log');
  t.ok(m.guest, 'the guest was alive at the failure: snapshot kept');
  t.ok((await stat(join(bundle, m.guest!.snapshot))).size > 10_000_000, 'a real RAM image');
  t.ok(existsSync(join(bundle, m.guest!.initrd)));
  t.equal(r.qemuLeft, 0);
});

t.test('replay reproduces the failure (exit 0), and says so when it does not (exit 1)', async (t) => {
  const again = await rig(['replay', bundle]);
  t.equal(again.exitCode, 0, 'reproduced', { stderr: again.stderr.slice(-1500) });
  t.match(again.stdout, /^reproduced: assertion: reply payload/m);
  // The bug fixed in the bundle's copy of the module: the scenario passes now.
  await cp(join(projectRoot, 'kmod'), join(bundle, 'module'), { recursive: true, force: true });
  const fixed = await rig(['replay', bundle]);
  t.equal(fixed.exitCode, 1, 'not reproduced', { stderr: fixed.stderr.slice(-1500) });
  t.match(fixed.stdout, /^not reproduced: the scenario passed/m);
  t.equal(fixed.qemuLeft, 0);
});

t.test('replay of something that is not a bundle is a usage error', async (t) => {
  const r = await rig(['replay', logs]);
  t.equal(r.exitCode, 2);
  t.match(r.stderr, /is not a failure bundle/);
});

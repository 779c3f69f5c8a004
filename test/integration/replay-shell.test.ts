// `rig replay BUNDLE --shell` on a real pty: a real failing run (the crasher fixture's WARN and panic) leaves
// bundles; the shell opens in the guest as it was at the failure (from the bundle's snapshot, and, without one or where
// it cannot be restored, after a re-run); a fatal failure leaves no guest to open one in.
import t from 'tap';
import { existsSync } from 'node:fs';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { summarize } from '../../.github/scripts/summary.ts';
import { rig, tempDir } from '../helpers/rig.ts';
import { rigOnPty, type PtyStep } from '../helpers/pty.ts';
import { projectRoot } from '../../rig/core/paths.ts';
import type { BundleManifest } from '../../rig/run/bundle.ts';

t.setTimeout(15 * 60_000);
const PROMPT = 'ktest:/# ';
const logs = await tempDir(t, 'ktest-rig-replay-shell-test-');
const bundle = join(logs, 'bundles', 'bookworm-6.1--warn');
const fatalBundle = join(logs, 'bundles', 'bookworm-6.1--panic');

/** Steps that read the guest's state at the failure: the module still loaded, the WARN in its log, then exit 3. */
const atFailure: PtyStep[] = [
  { expect: PROMPT, timeout: 240 },
  // The typed line echoes back too: match the computed values only.
  { send: 'echo "mods=$(grep -c ^crasher /proc/modules) warns=$(dmesg | grep -c "WARNING: .* crasher_warn")"\r' },
  { expect: 'mods=1 warns=1', timeout: 30 },
  { send: 'exit 3\r' },
];

t.test('a run whose module WARNs leaves a bundle with the guest saved at the failure', async (t) => {
  const r = await rig(['--kmod', join(projectRoot, 'test/fixtures/kmods/crasher'), '--scenarios', join(projectRoot, 'test/fixtures/scenarios/crasher.ts'), '--only', '/^(warn|panic)$/', '--logs', logs, '--json', join(logs, 'report.json')]);
  t.equal(r.exitCode, 1, 'the scenarios failed', { stderr: r.stderr.slice(-1500) });
  const m = JSON.parse(await readFile(join(bundle, 'bundle.json'), 'utf8')) as BundleManifest;
  t.equal(m.failure.kind, 'kernel');
  t.equal(m.failure.reports?.[0]?.title, 'WARNING in crasher_warn');
  t.ok(m.guest && existsSync(join(bundle, m.guest.snapshot)), 'a WARN leaves the guest alive: its snapshot is in the bundle');
  const fatal = JSON.parse(await readFile(join(fatalBundle, 'bundle.json'), 'utf8')) as BundleManifest;
  t.notOk(fatal.guest, 'a panic leaves no guest to save');
  t.equal(r.qemuLeft, 0);
});

t.test("the job summary's commands fetch and replay that bundle", async (t) => {
  // What the workflow does with this run's report: the summary names the artifact that holds --logs DIR/bundles/.
  const { markdown } = summarize([join(logs, 'report.json')], undefined, undefined, { runId: '4242', artifact: 'ktest-rig-bundles-bookworm-6.1-7' });
  const download = /^ {2}gh run download 4242 -n ktest-rig-bundles-bookworm-6\.1-7 -D (\S+)$/m.exec(markdown);
  const replay = /^ {2}npx ktest-rig replay (\S+--warn)$/m.exec(markdown);
  t.ok(download && replay, 'both commands', { markdown });
  // gh run download -n ARTIFACT -D DIR puts the artifact's root (the bundles directory) into DIR; a module
  // author's checkout runs the package's own command there.
  const checkout = await tempDir(t, 'ktest-rig-author-');
  await cp(join(logs, 'bundles'), join(checkout, download![1]!), { recursive: true });
  const r = await execa(process.execPath, [join(projectRoot, 'bin/ktest-rig.js'), 'replay', replay![1]!], { cwd: checkout, reject: false, stdin: 'ignore', timeout: 10 * 60_000 });
  t.equal(r.exitCode, 0, 'reproduced', { stderr: r.stderr.slice(-1500) });
  t.match(r.stdout, /^reproduced: kernel: WARNING in crasher_warn$/m);
});

t.test('replay --shell restores the guest at the failure: the module is loaded and dmesg holds the WARN', async (t) => {
  const r = await rigOnPty(['replay', bundle, '--shell'], atFailure);
  t.ok(r.steps.every((s) => s.ok), 'every step', { steps: r.steps, screen: r.screen.slice(-3000) });
  t.match(r.screen, /the guest as it was at the failure \(kernel: WARNING in crasher_warn\)/);
  t.notMatch(r.screen, /re-running/, 'restored, not re-run');
  t.equal(r.exitCode, 3, "the shell's exit status");
  t.equal(r.qemuLeft, 0, 'QEMU ended with the shell');
});

t.test('a snapshot taken under another accelerator: replay --shell says so and re-runs instead', async (t) => {
  const file = join(bundle, 'bundle.json');
  const original = await readFile(file, 'utf8');
  const m = JSON.parse(original) as BundleManifest;
  await writeFile(file, JSON.stringify({ ...m, options: { ...m.options, accel: 'kvm' } }));
  try {
    const r = await rigOnPty(['replay', bundle, '--shell'], atFailure, [24, 80], { KTEST_RIG_ACCEL: 'tcg' });
    t.ok(r.steps.every((s) => s.ok), 'every step', { steps: r.steps, screen: r.screen.slice(-3000) });
    t.match(r.screen, /the bundle's snapshot was taken under kvm, this machine runs tcg \(forced by KTEST_RIG_ACCEL=tcg\): re-running the scenario up to its failure instead/);
    t.match(r.screen, /reproduced: kernel: WARNING in crasher_warn/);
    t.equal(r.exitCode, 3);
    t.equal(r.qemuLeft, 0);
  } finally {
    await writeFile(file, original);
  }
});

t.test('a fatal failure: the re-run leaves no guest, replay --shell says so and exits 120', async (t) => {
  const r = await rig(['replay', fatalBundle, '--shell']);
  t.equal(r.exitCode, 120, 'the kernel-failure code', { stderr: r.stderr.slice(-1500) });
  t.match(r.stdout, /^reproduced: \w+: Kernel panic - not syncing: crasher: panic requested in crasher_panic$/m);
  t.match(r.stderr, /the guest did not survive the failure \(\w+: Kernel panic - not syncing: crasher: panic requested in crasher_panic\): no shell to open/);
  t.equal(r.qemuLeft, 0);
});

t.test('without a snapshot, replay --shell re-runs the scenario up to its failure and opens the shell there', async (t) => {
  const file = join(bundle, 'bundle.json');
  const m = JSON.parse(await readFile(file, 'utf8')) as BundleManifest & { guest?: unknown };
  delete m.guest;
  await writeFile(file, JSON.stringify(m));
  const r = await rigOnPty(['replay', bundle, '--shell'], atFailure);
  t.ok(r.steps.every((s) => s.ok), 'every step', { steps: r.steps, screen: r.screen.slice(-3000) });
  t.match(r.screen, /reproduced: kernel: WARNING in crasher_warn/, 'the re-run failed the same way');
  t.match(r.screen, /the guest right after the scenario failed \(re-run: the bundle has no snapshot\)/);
  t.equal(r.exitCode, 3);
  t.equal(r.qemuLeft, 0);
});

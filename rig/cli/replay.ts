// `rig replay BUNDLE`: re-run a failure bundle's scenario under the same conditions and say whether it failed the same way.
import { existsSync } from 'node:fs';
import { cacheRoot } from '../core/paths.ts';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import tmp from 'tmp';
import { readBundle, sameFailure, failureTitle, type BundleManifest } from '../run/bundle.ts';
import { runRig, type RigRunOptions } from '../run/run.ts';
import { guestAlive } from '../run/image.ts';
import { guestOptionsFor } from '../run/ready-guest.ts';
import { prepareArtifacts } from '../build/artifacts.ts';
import { Guest } from '../vm/guest.ts';
import { probeAccel } from '../vm/kvm.ts';
import { keepConsole } from '../report/write.ts';
import { runShell, type ShellOptions, type ShellSession, type Terminal } from './shell.ts';
import { resolveImages } from '../kernels/images.ts';
import { ensureTools, needsForImages } from '../platform/host-tools.ts';
import { scenarios as builtinScenarios } from '../scenario/ktest.ts';
import { validateScenarios, type Scenario } from '../scenario/api.ts';
import { createReporter } from '../report/progress.ts';
import { ExecExitCode, GuestError, ReplayExitCode, RigError, UsageError } from '../core/errors.ts';
import { loadScenarioFile } from '../scenario/load.ts';
import type { ReplayArgs } from './options.ts';
import type { ImageSpec } from '../kernels/spec.ts';
import type { RunEventSink, ScenarioFailure } from '../report/results.ts';
import type { Accel } from '../platform/arch/index.ts';
import { offerGdb, type RunGdbOptions } from '../run/gdb.ts';
import { gdbDir, gdbReadyLine } from '../run/gdb-text.ts';

type Out = { write(s: string | Uint8Array): unknown };

/** The bundle's scenario: from its copy in the bundle, else the original file, else the built-in ones. */
async function bundleScenario(dir: string, m: BundleManifest): Promise<Scenario> {
  let all: Scenario[];
  if (!m.scenario.file) all = validateScenarios(builtinScenarios, 'rig/scenario/ktest.ts');
  else {
    const copy = m.scenario.copy ? join(dir, m.scenario.copy) : undefined;
    all = await (copy && existsSync(copy) ? loadScenarioFile(copy).catch(() => loadScenarioFile(m.scenario.file!)) : loadScenarioFile(m.scenario.file));
  }
  const found = all.find((s) => s.name === m.scenario.name);
  if (!found) throw new UsageError(`scenario '${m.scenario.name}' of the bundle is not in ${m.scenario.file ?? 'the built-in scenarios'} any more`, { hint: 'replay with the rig version the bundle names' });
  return found;
}

/** The bundle's image as this checkout pins it; differences in pins are reported, not fatal. Pure but for the lookup. */
export function pinDifferences(m: BundleManifest, image: ImageSpec): string[] {
  const was = JSON.stringify(m.image.packages);
  return was === JSON.stringify(image.packages) && m.image.release === image.release ? [] : [`image ${image.id}: the bundle was made with ${m.image.release}, this checkout pins ${image.release} (packages ${was === JSON.stringify(image.packages) ? 'same' : 'differ'})`];
}

/** One-line verdict of a replay. Pure. */
export function verdict(expected: ScenarioFailure, got: ScenarioFailure | undefined): { readonly reproduced: boolean; readonly line: string } {
  if (sameFailure(expected, got)) return { reproduced: true, line: `reproduced: ${got!.kind}: ${failureTitle(got!)}` };
  if (!got) return { reproduced: false, line: `not reproduced: the scenario passed (the bundle has ${expected.kind}: ${failureTitle(expected)})` };
  return { reproduced: false, line: `not reproduced: it failed differently: ${got.kind}: ${failureTitle(got)} (the bundle has ${expected.kind}: ${failureTitle(expected)})` };
}

/** The run options that make a replay "the same conditions": the bundle's module, options and parameters. */
function replayRun(dir: string, m: BundleManifest, image: ImageSpec, scenario: Scenario, workDir: string, onEvent: RunEventSink, gdb?: RunGdbOptions): RigRunOptions {
  return {
    ...(gdb && { gdb }),
    plan: [{ image, scenarios: [scenario] }],
    kmodDir: join(dir, m.module.sources),
    jobs: 1,
    snapshot: m.options.snapshot,
    debug: m.options.debug,
    ...(m.options.cpus !== undefined && { cpus: m.options.cpus }),
    ...(m.options.memoryMb !== undefined && { memoryMb: m.options.memoryMb }),
    ...(m.options.makeArgs ? { makeArgs: m.options.makeArgs } : {}),
    ...(m.options.moduleParams ? { moduleParams: m.options.moduleParams } : {}),
    workDir,
    onEvent,
  };
}

export async function replay(args: ReplayArgs, stdout: Out, stderr: Out, terminal?: Terminal): Promise<number> {
  const dir = resolve(args.bundle);
  const m = await readBundle(dir);
  const [image] = resolveImages(m.image.id);
  for (const d of pinDifferences(m, image!)) stderr.write(`warning: ${d}\n`);
  const scenario = args.shell && m.guest ? undefined : await bundleScenario(dir, m);
  const reporter = createReporter({ verbose: args.verbose, stdout: { write: () => true } });
  await ensureTools(needsForImages([image!]), { onEvent: reporter.sink });
  const work = tmp.dirSync({ prefix: 'ktest-rig-replay-', unsafeCleanup: true });
  // --gdb: as for run (a script once the scenario loaded the module), or, restored at the failure, at once.
  const gdb: RunGdbOptions | undefined = args.gdb && {
    wait: args.gdb.wait, dbg: args.gdb.dbg ?? false,
    dir: gdbDir(join(tmpdir(), 'ktest-rig-logs'), `replay-${image!.id}`),
    onReady: (setup, where) => reporter.sink({ type: 'log', level: 'info', message: gdbReadyLine(setup, args.gdb!.wait, args.shell ? 'the shell' : `the rest of scenario ${where.scenario} [${where.image}]`).trimEnd() }),
  };
  try {
    if (args.shell) {
      if (!terminal) throw new UsageError('replay --shell needs a terminal');
      return await replayShell(dir, m, image!, scenario, work.name, reporter, stdout, stderr, terminal, gdb);
    }
    const [summary] = await runRig(replayRun(dir, m, image!, scenario!, work.name, reporter.sink, gdb));
    reporter.finish();
    if (summary?.error) {
      stderr.write(`ktest-rig: replay could not run: ${summary.error.message}${summary.error.hint ? `\n  hint: ${summary.error.hint}` : ''}\n`);
      return summary.error.exitCode;
    }
    const v = verdict(m.failure, summary?.scenarios[0]?.failure);
    stdout.write(`${v.line}\n`);
    return v.reproduced ? ReplayExitCode.reproduced : ReplayExitCode.notReproduced;
  } finally {
    work.removeCallback();
  }
}

/**
 * `replay --shell`: the shell of `rig shell` (runShell, same exit codes) in the guest at the moment of
 * failure: restored from the bundle's snapshot when it has one that this machine can restore, else after
 * re-running the scenario up to its failure in a fresh guest.
 */
async function replayShell(
  dir: string,
  m: BundleManifest,
  image: ImageSpec,
  scenario: Scenario | undefined,
  workDir: string,
  reporter: ReturnType<typeof createReporter>,
  stdout: Out,
  stderr: Out,
  terminal: Terminal,
  gdb?: RunGdbOptions,
): Promise<number> {
  const shellOptions: ShellOptions = { terminal, say: (t) => stderr.write(t), keepConsole: (text) => keepConsole(join(tmpdir(), 'ktest-rig-logs'), image.id, text) };
  const failed = `${m.failure.kind}: ${failureTitle(m.failure)}`;
  const restored = m.guest ? await restoreAtFailure(dir, m, image, workDir, reporter.sink, (why) => stderr.write(`ktest-rig: ${why}: re-running the scenario up to its failure instead\n`), gdb) : undefined;
  if (restored) {
    reporter.finish();
    stderr.write(`ktest-rig replay --shell: ${image.id}, the guest as it was at the failure (${failed}); ${m.module.name} is loaded as the scenario left it. Kernel messages: dmesg. Ctrl-] q quits.\n`);
    return runShell(restored, shellOptions);
  }
  let code: number | undefined;
  let shellOpen = false;
  const onEvent: RunEventSink = (e) => (shellOpen || e.type === 'run-start' || e.type === 'run-end' ? undefined : reporter.sink(e));
  const [summary] = await runRig({
    ...replayRun(dir, m, image, scenario ?? (await bundleScenario(dir, m)), workDir, onEvent, gdb),
    afterScenario: async (guest, art, outcome) => {
      shellOpen = true;
      reporter.finish();
      stdout.write(`${verdict(m.failure, outcome.failure).line}\n`);
      if ((outcome.failure && !guestAlive(outcome.failure)) || !(await guest.ping())) {
        stderr.write(`ktest-rig: the guest did not survive the failure (${outcome.failure ? `${outcome.failure.kind}: ${failureTitle(outcome.failure)}` : 'it stopped answering'}): no shell to open\n`);
        code = ExecExitCode.kernelFailed;
        return;
      }
      stderr.write(`ktest-rig replay --shell: ${image.id}, the guest right after the scenario ${outcome.failure ? 'failed' : 'ended'} (re-run: the bundle has no snapshot); ${art.module.name} is loaded as the scenario left it. Kernel messages: dmesg. Ctrl-] q quits.\n`);
      code = await runShell({ guest, module: art.module, consoleMark: guest.console.mark() }, shellOptions);
    },
  });
  if (!shellOpen) reporter.finish();
  if (summary?.error) {
    stderr.write(`ktest-rig: replay could not run: ${summary.error.message}${summary.error.hint ? `\n  hint: ${summary.error.hint}` : ''}\n`);
    return summary.error.exitCode;
  }
  if (code === undefined) {
    // The guest did not even start (its failure is the scenario's).
    const got = summary?.scenarios[0]?.failure;
    stderr.write(`ktest-rig: no guest to open a shell in${got ? ` (${got.kind}: ${got.message})` : ''}\n`);
    return ExecExitCode.kernelFailed;
  }
  return code;
}

/** Where a bundle's snapshot (taken under `taken`) can be restored here: the same accelerator, or none. */
async function restoreAccel(taken: string): Promise<{ readonly accel?: Accel; readonly why?: string }> {
  if (taken === 'tcg') return { accel: 'tcg' };
  const here = await probeAccel();
  return here.accel === taken ? { accel: here.accel } : { why: `the bundle's snapshot was taken under ${taken}, this machine runs ${here.accel} (${here.reason})` };
}

/** The guest of the bundle's snapshot, restored with the options it was saved with; undefined (and why, to `fallBack`) when it cannot be. */
async function restoreAtFailure(dir: string, m: BundleManifest, image: ImageSpec, workDir: string, onEvent: RunEventSink, fallBack: (why: string) => void, gdb?: RunGdbOptions): Promise<ShellSession | undefined> {
  const snapshot = join(dir, m.guest!.snapshot);
  const initrd = join(dir, m.guest!.initrd);
  if (!existsSync(snapshot) || !existsSync(initrd)) return void fallBack(`the bundle's ${existsSync(snapshot) ? m.guest!.initrd : m.guest!.snapshot} is missing`);
  const { accel, why } = await restoreAccel(m.options.accel);
  if (!accel) return void fallBack(why!);
  // The module is built again (the build cache has it) for its symbols: reports in the shell name its lines.
  const art = await prepareArtifacts({ image, kmodDir: join(dir, m.module.sources), workDir, ...(m.options.makeArgs ? { makeArgs: m.options.makeArgs } : {}), onEvent });
  const options = { ...guestOptionsFor({ image, debug: m.options.debug, workDir, cpus: m.options.cpus, memoryMb: m.options.memoryMb }, art, accel), initrdPath: initrd, ...(gdb && { gdb: true }) };
  onEvent({ type: 'stage', image: image.id, stage: 'boot', message: `restoring ${image.id} (${accel}) at the failure from ${snapshot}` });
  let guest: Guest;
  try {
    guest = await Guest.restore(options, snapshot);
  } catch (error) {
    if (!(error instanceof RigError || error instanceof GuestError)) throw error;
    return void fallBack(`the bundle's snapshot did not restore (${error.message.split('\n')[0]})`);
  }
  if (gdb) {
    // The module is loaded as the scenario left it (or not, if it unloaded it): its sections are in sysfs now.
    const loaded = (await guest.exec(['test', '-d', `/sys/module/${art.module.name.replaceAll('-', '_')}`])).exitCode === 0;
    await offerGdb(
      { wait: gdb.wait, dbg: gdb.dbg ?? false, dir: gdb.dir, onReady: (setup) => gdb.onReady(setup, { image: image.id, scenario: m.scenario.name }) },
      { guest, kernel: art.kernel, module: art.module, loaded, cacheDir: cacheRoot(), what: `rig replay --shell ${dir}`, onEvent },
    ).catch(async (error: unknown) => {
      await guest.close();
      throw error;
    });
  }
  return { guest, module: art.module, consoleMark: guest.console.mark() };
}

// `npm run rig`: glue between the argument parser, the engine, the reporter and the exit codes. No logic of its own.
// Only the parser, the error and environment tables load up front: each command imports its stages when
// it runs, so `--help`, `--version` and usage errors cost no engine, QEMU, build or report modules.
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { cacheRoot, DEFAULT_KMOD_DIR } from '../core/paths.ts';
import { loadScenarioFile } from '../scenario/load.ts';
import { keepConsole } from '../report/write.ts';
import type { Terminal } from './shell.ts';
import { gdbDir, gdbReadyLine } from '../run/gdb-text.ts';
import type { GdbSetup } from '../run/gdb.ts';
import { pathToFileURL } from 'node:url';
import tmp from 'tmp';
import { parseCli, helpText, type ExecArgs, type RunArgs, type ShellArgs } from './options.ts';
import { checkEnv } from '../core/env.ts';
import { filterText } from '../scenario/filter.ts';
import { loadImages, resolveImages, DEFAULT_IMAGE_ID } from '../kernels/images.ts';
import { selectScenarios, validateScenarios, type Scenario } from '../scenario/api.ts';
import { runsOn } from '../scenario/backends/registry.ts';
import { workItems, shard } from '../run/plan.ts';
import { rigVersion } from '../core/version.ts';
import { writeFileSync } from 'node:fs';
import { BuildError, ExitCode, SignalExitCode, UsageError, execExitCodeOf, exitCodeOf, formatError } from '../core/errors.ts';
import { findProjectFile, loadProject, type Project } from '../project/load.ts';
import { mergeSettings } from '../project/merge.ts';
import { patternText } from '../detect/allowed.ts';
import { unusedAllowed } from '../detect/allowed.ts';
import type { EventSink } from '../core/events.ts';
import { isBuiltImage, type ImageSpec } from '../kernels/spec.ts';
import type { RunSummary } from '../report/results.ts';
import { builtKernelState } from '../build/kernel.ts';

type Out = { write(s: string | Uint8Array): unknown };

export { loadScenarioFile };

/** The images and scenarios a run covers, after --kernel, --only and --shard. Pure. */
export function planRun(images: readonly ImageSpec[], scenarios: readonly Scenario[], args: Pick<RunArgs, 'shard'>) {
  if (!args.shard) return images.map((image) => ({ image, scenarios }));
  const mine = shard(workItems(images, scenarios.map((s) => s.name)), args.shard.index, args.shard.count);
  return images
    .map((image) => ({ image, scenarios: scenarios.filter((s) => mine.some((w) => w.image === image.id && w.scenario === s.name)) }))
    .filter((p) => p.scenarios.length > 0);
}

function selectedImages(k: RunArgs['kernels']): ImageSpec[] {
  return resolveImages(k.kind === 'default' ? DEFAULT_IMAGE_ID : k.kind === 'all' ? 'all' : k.ids.join(','));
}

/**
 * Work to do synchronously when a signal stops the rig (process.exit follows at once): an
 * interrupted run writes the reports of the images that ended, so no finished result is lost.
 */
const onInterrupt = new Set<() => void>();

/** --list: one line per scenario the run would execute, "<image> <scenario>" ("host" for --target host). */
export function formatList(plan: ReturnType<typeof planRun>, hostScenarios?: readonly Scenario[]): string {
  const lines = hostScenarios ? hostScenarios.map((s) => `host ${s.name}`) : plan.flatMap((p) => p.scenarios.map((s) => `${p.image.id} ${s.name}`));
  return lines.map((l) => `${l}\n`).join('');
}

/** The project file in effect (--config FILE, or ./ktest-rig.config.ts), loaded and checked. */
async function project(config: string | undefined): Promise<Project | undefined> {
  const file = findProjectFile(config);
  return file ? loadProject(file) : undefined;
}

/** Scenarios of several files, names unique across them. */
async function loadScenarioFiles(files: readonly string[]): Promise<Scenario[]> {
  const all: Scenario[] = [];
  for (const file of files) {
    for (const s of await loadScenarioFile(file)) {
      if (all.some((x) => x.name === s.name)) throw new UsageError(`${file}: scenario "${s.name}" is also in another scenario file`);
      all.push(s);
    }
  }
  return all;
}

async function run(args: RunArgs, stdout: Out): Promise<number> {
  const [{ createReporter }, { ensureTools, needsForImages }, { scenarios: defaultScenarios }, { runRig }, { runOnHost }, { writeJsonReport, writeJsonReportSync }, { formatJunit, writeJunitReport }, { bundlesRoot }, { coverageRoot }, { coverageText }] =
    await Promise.all([
      import('../report/progress.ts'),
      import('../platform/host-tools.ts'),
      import('../scenario/ktest.ts'),
      import('../run/run.ts'),
      import('../run/host.ts'),
      import('../report/json.ts'),
      import('../report/junit.ts'),
      import('../run/bundle.ts'),
      import('../run/coverage.ts'),
      import('../report/coverage.ts'),
    ]);
  const settings = mergeSettings(args, await project(args.config), DEFAULT_KMOD_DIR);
  const { kmodDir } = settings;
  if (settings.scenarioFiles?.length === 0) throw new UsageError(`the project file lists no scenarios: add scenarios: ['scenarios.ts'] (the built-in ktest scenarios test the ktest module only), or pass --scenarios FILE`);
  const all = settings.scenarioFiles ? await loadScenarioFiles(settings.scenarioFiles) : validateScenarios(defaultScenarios, 'rig/scenario/ktest.ts');
  // A scenario whose `backends` leave out the target is not part of this run (nor of --list).
  const scenarios = selectScenarios(all, args.only, filterText(args.only)).filter((s) => runsOn(s, args.target));
  const images = args.target === 'host' ? [] : selectedImages(settings.kernels);
  const plan = planRun(images, scenarios, args);
  if (args.list) {
    stdout.write(formatList(plan, args.target === 'host' ? scenarios : undefined));
    return ExitCode.ok;
  }
  const work = tmp.dirSync({ prefix: 'ktest-rig-', unsafeCleanup: true });
  const startedAt = new Date();
  let summaries: readonly RunSummary[] = [];
  const reporter = createReporter({ verbose: args.verbose, images: Math.max(1, plan.length) });
  const writePartial = () => {
    const meta = { version: rigVersion(), startedAt, interrupted: true };
    try {
      if (args.json) writeJsonReportSync(args.json, reporter.runs, meta);
      if (args.junit) writeFileSync(args.junit, formatJunit(reporter.runs, { timestamp: startedAt.toISOString() }));
    } catch {
      // the process is going away: the signal's own message is what the user sees
    }
  };
  onInterrupt.add(writePartial);
  try {
    if (args.target === 'host') {
      summaries = [await runOnHost({ kmodDir, scenarios, workDir: work.name, makeArgs: settings.makeArgs, moduleParams: settings.moduleParams, allowedReports: settings.allowedReports, onEvent: reporter.sink })];
    } else {
      await ensureTools({ ...needsForImages(plan.map((p) => p.image)), coverage: args.coverage !== undefined }, { onEvent: reporter.sink });
      summaries = await runRig({
        plan,
        kmodDir,
        makeArgs: settings.makeArgs,
        programs: settings.programs,
        moduleParams: settings.moduleParams,
        allowedReports: settings.allowedReports,
        jobs: args.gdb ? 1 : args.jobs,
        ...(args.gdb && {
          gdb: {
            wait: args.gdb.wait, dbg: args.gdb.dbg ?? false,
            dir: args.logs ? join(resolve(args.logs), 'gdb') : gdbDir(join(tmpdir(), 'ktest-rig-logs'), 'run'),
            // through the reporter: its updating status line on a terminal stays intact
            onReady: (setup: GdbSetup, where: { image: string; scenario: string }) =>
              reporter.sink({ type: 'log', level: 'info', message: gdbReadyLine(setup, args.gdb!.wait, `the rest of scenario ${where.scenario} [${where.image}]`).trimEnd() }),
          },
        }),
        snapshot: args.snapshot,
        debug: args.debug,
        faultInject: args.faultInject,
        cpus: args.cpus,
        memoryMb: args.memoryMb,
        workDir: work.name,
        logsDir: args.logs ? resolve(args.logs) : undefined,
        bundles: { dir: bundlesRoot(args), ...(args.scenarios ? { scenarioFile: resolve(args.scenarios) } : {}) },
        ...(args.coverage && { coverageDir: coverageRoot({ ...args, coverageDir: args.coverage.dir }) }),
        onEvent: reporter.sink,
      });
    }
    // Stale entries get noticed: an allowed pattern no scenario of the whole run needed.
    // (Only when every image ran: an image that did not run matched nothing by force.)
    for (const a of summaries.some((s) => s.error) ? [] : unusedAllowed(settings.allowedReports, summaries))
      reporter.sink({ type: 'log', level: 'warn', message: `allowed report ${patternText(a)} (${a.reason}) matched no kernel report in this run` });
    reporter.finish();
    for (const s of summaries) if (s.coverage) process.stderr.write(coverageText(s.image, s.coverage));
  } catch (error) {
    reporter.finish(error);
    throw error;
  } finally {
    onInterrupt.delete(writePartial);
    work.removeCallback();
  }
  const meta = { version: rigVersion(), startedAt };
  if (args.json) await writeJsonReport(args.json, summaries, meta);
  if (args.junit) await writeJunitReport(args.junit, summaries, { timestamp: startedAt.toISOString() });
  // Images that could not run: each says why on stderr; the first one's exit code is the run's.
  const errors = summaries.filter((s) => s.error);
  for (const s of errors) {
    const e = s.error!;
    process.stderr.write(`error: ${summaries.length > 1 ? `[${s.image}] ` : ''}${e.message}${e.hint ? `\n  hint: ${e.hint}` : ''}\n`);
  }
  if (errors.length > 0) return errors[0]!.error!.exitCode;
  return summaries.some((s) => s.failed > 0) ? ExitCode.scenarioFailed : ExitCode.ok;
}

/** The terminal of this process, for `rig shell`. */
export const processTerminal: Terminal = { input: process.stdin, output: process.stdout };

async function shell(args: ShellArgs, stderr: Out): Promise<number> {
  const [{ createReporter }, { ensureTools, needsForImages }, { bootShellGuest, runShell }] = await Promise.all([
    import('../report/progress.ts'),
    import('../platform/host-tools.ts'),
    import('./shell.ts'),
  ]);
  const [image] = resolveImages(args.kernel ?? DEFAULT_IMAGE_ID);
  const reporter = createReporter({ verbose: args.verbose, stdout: { write: () => true } });
  const onEvent: EventSink = reporter.sink;
  await ensureTools(needsForImages([image!]), { onEvent });
  const work = tmp.dirSync({ prefix: 'ktest-rig-shell-', unsafeCleanup: true });
  try {
    const gdb = args.gdb && { wait: args.gdb.wait, dbg: args.gdb.dbg ?? false, dir: gdbDir(join(tmpdir(), 'ktest-rig-logs'), image!.id), onReady: (setup: GdbSetup) => stderr.write(gdbReadyLine(setup, args.gdb!.wait, 'the shell')) };
    const session = await bootShellGuest({ image: image!, kmodDir: resolve(args.kmod ?? DEFAULT_KMOD_DIR), load: args.load, workDir: work.name, debug: true, ...(gdb && { gdb }), onEvent });
    reporter.finish();
    stderr.write(`ktest-rig shell: ${image!.id}, ${args.load ? `${session.module.name} loaded` : 'module not loaded'}; nlclient is on PATH. Kernel messages: dmesg (dmesg -w follows them). Ctrl-] q quits.\n`);
    return await runShell(session, { terminal: processTerminal, say: (t) => stderr.write(t), keepConsole: (text) => keepConsole(join(tmpdir(), 'ktest-rig-logs'), image!.id, text) });
  } finally {
    work.removeCallback();
  }
}

async function exec(args: ExecArgs, stdout: Out, stderr: Out, stdin: NodeJS.ReadStream = process.stdin): Promise<number> {
  try {
    return await execOrThrow(args, stdout, stderr, stdin);
  } catch (error) {
    // Nothing was tested (no build, no guest): 125 tells git bisect to skip this commit; usage stays 2.
    if (error instanceof BuildError && args.verbose) stderr.write(`${error.log}\n`);
    stderr.write(`${formatError(error)}\n`);
    return execExitCodeOf(error);
  }
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks);
}

async function execOrThrow(args: ExecArgs, stdout: Out, stderr: Out, stdin: NodeJS.ReadStream): Promise<number> {
  const [{ createReporter }, { ensureTools, needsForImages }, { execCommand }, { reportsSummary }] = await Promise.all([
    import('../report/progress.ts'),
    import('../platform/host-tools.ts'),
    import('./exec.ts'),
    import('../report/details.ts'),
  ]);
  const settings = mergeSettings({ kmod: args.kmod, params: args.params, kernels: { kind: 'default' } }, await project(args.config), DEFAULT_KMOD_DIR);
  const first = settings.kernels.kind === 'ids' ? settings.kernels.ids[0] : undefined;
  const [image] = resolveImages(args.kernel ?? first ?? DEFAULT_IMAGE_ID);
  const reporter = createReporter({ verbose: args.verbose, stdout: { write: () => true } });
  const onEvent: EventSink = reporter.sink;
  await ensureTools(needsForImages([image!]), { onEvent });
  // A pipe or a file on our stdin goes to CMD's; a terminal does not (CMD would wait for it forever).
  const input = stdin.isTTY ? undefined : await readAll(stdin);
  const work = tmp.dirSync({ prefix: 'ktest-rig-exec-', unsafeCleanup: true });
  try {
    const logsDir = args.logs ? resolve(args.logs) : join(tmpdir(), 'ktest-rig-logs');
    const gdb = args.gdb && { wait: args.gdb.wait, dbg: args.gdb.dbg ?? false, dir: gdbDir(logsDir, image!.id), onReady: (setup: GdbSetup) => stderr.write(gdbReadyLine(setup, args.gdb!.wait, 'the command')) };
    const r = await execCommand({ image: image!, kmodDir: settings.kmodDir, makeArgs: settings.makeArgs, programs: settings.programs, moduleParams: settings.moduleParams, load: args.load, argv: args.command, debug: true, snapshot: args.snapshot, cpus: args.cpus, memoryMb: args.memoryMb, workDir: work.name, timeoutMs: args.timeoutMs, stdin: input, ...(gdb && { gdb }), onEvent });
    reporter.finish();
    stdout.write(r.stdout);
    stderr.write(r.stderr);
    if (r.kernelLog.trim()) stderr.write(`--- kernel messages ---\n${r.kernelLog.trimEnd()}\n`);
    if (r.problem) stderr.write(`ktest-rig: ${r.problem}\n`);
    if (r.reports.length > 0) {
      const logFile = await keepConsole(logsDir, image!.id, r.console);
      stderr.write(`--- kernel reports ---\n${reportsSummary(r.reports, logFile)}`);
    }
    return r.exitCode;
  } finally {
    work.removeCallback();
  }
}

export async function main(argv: readonly string[], stdout: Out = process.stdout, stderr: Out = process.stderr, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const cmd = parseCli(argv);
  switch (cmd.command) {
    case 'help':
      stdout.write(`${helpText(cmd.topic)}\n`);
      return ExitCode.ok;
    case 'version':
      stdout.write(`${rigVersion()}\n`);
      return ExitCode.ok;
  }
  checkEnv(env);
  switch (cmd.command) {
    case 'doctor': {
      const { doctor, formatDoctorTable } = await import('./doctor.ts');
      const rows = await doctor();
      stdout.write(`${formatDoctorTable(rows)}\n`);
      return rows.some((r) => r.status === 'missing') ? ExitCode.infra : ExitCode.ok;
    }
    case 'images': {
      const [{ createReporter }, { imagesList, imagesFetch, imagesUpdate, imagesVerify, formatSnapshotList }, { clearSnapshots, listSnapshots, snapshotCacheBound, snapshotsDir }, { treeIsValid, kernelDirName }] =
        await Promise.all([import('../report/progress.ts'), import('./images.ts'), import('../vm/snapshot-cache.ts'), import('../kernels/fetch.ts')]);
      const onEvent = createReporter({ verbose: cmd.verbose, stdout: { write: () => true } }).sink;
      if (cmd.action === 'list') {
        const rows = imagesList();
        const specs = new Map(loadImages().map((i) => [i.id, i]));
        const w = Math.max(...rows.map((r) => r.id.length));
        // the pocket column (bookworm-security, ...) only once an image file records one (images update)
        const pw = Math.max(0, ...rows.map((r) => r.pocket?.length ?? 0));
        for (const r of rows) {
          const spec = specs.get(r.id)!;
          const cached = isBuiltImage(spec) ? (await builtKernelState(spec)).ok : await treeIsValid(join(cacheRoot(), 'kernels', kernelDirName(spec)));
          stdout.write(`${r.id.padEnd(w)}  ${r.arch.padEnd(7)} ${r.release.padEnd(22)} ${r.version.padEnd(14)} ${pw ? `${(r.pocket ?? '-').padEnd(pw)} ` : ''}${cached ? 'cached' : '-     '} ${r.isDefault ? '(default) ' : ''}${r.description}\n`);
        }
        stdout.write(`${formatSnapshotList(await listSnapshots(snapshotsDir(cacheRoot())), snapshotsDir(cacheRoot()), snapshotCacheBound())}\n`);
        return ExitCode.ok;
      }
      if (cmd.action === 'clear') {
        const { removed, bytes } = await clearSnapshots(snapshotsDir(cacheRoot()), cmd.ids);
        stdout.write(`removed ${removed} snapshot${removed === 1 ? '' : 's'} (${(bytes / 1048576).toFixed(0)} MB) from ${snapshotsDir(cacheRoot())}\n`);
        return ExitCode.ok;
      }
      const ids = cmd.ids.length ? cmd.ids.join(',') : cmd.action === 'fetch' ? DEFAULT_IMAGE_ID : 'all';
      if (cmd.action === 'verify') {
        for (const v of await imagesVerify(ids, { onEvent }))
          stdout.write(`${v.id}: ${v.state === 'ok' ? 'verified (every file\'s sha256 matches its record)' : v.state === 'absent' ? 'not cached' : `was damaged (${v.problem}); made again from verified packages`}\n`);
        return ExitCode.ok;
      }
      if (cmd.action === 'fetch') {
        const ready = await imagesFetch(ids, { onEvent });
        for (const k of ready) stdout.write(`${k.image.id}: ${k.image.release} cached\n`);
      } else {
        for (const u of await imagesUpdate(ids, { onEvent }))
          stdout.write(`${u.id}: ${u.changed ? `${u.from.release} ${u.from.version} -> ${u.to.release} ${u.to.version}${u.to.pocket ? ` from ${u.to.pocket}` : ''} (rewrote ${u.file})` : `${u.to.release} ${u.to.version}${u.to.pocket ? ` from ${u.to.pocket}` : ''} is current`}\n`);
      }
      return ExitCode.ok;
    }
    case 'exec':
      return exec(cmd.args, stdout, stderr);
    case 'replay':
      return (await import('./replay.ts')).replay(cmd.args, stdout, stderr, processTerminal);
    case 'shell':
      return shell(cmd.args, stderr);
    case 'bench':
      return (await import('./bench.ts')).benchCommand(cmd.args, stdout);
    case 'run':
      return run(cmd.args, stdout);
  }
}

/**
 * The process around main(): signal handlers, exit codes, errors as one line. `npm run rig` (this file) and
 * the package's `ktest-rig` command (bin/ktest-rig.js) both end here.
 */
export function runCli(argv: readonly string[]): void {
  // Ctrl-C or a CI cancel: exit through process.exit, so that 'exit' handlers run: QEMU processes are
  // killed (rig/vm/qemu.ts) and temporary work dirs, snapshots included, are removed (tmp's graceful cleanup).
  tmp.setGracefulCleanup();
  for (const [signal, code] of Object.entries(SignalExitCode)) {
    process.once(signal, () => {
      process.stderr.write(`\nktest-rig: ${signal}, stopping\n`);
      for (const hook of onInterrupt) hook();
      process.exit(code);
    });
  }
  // `npm run rig | head` closes stdout early: that is the reader's choice, not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => (e.code === 'EPIPE' ? process.exit(process.exitCode ?? 0) : undefined));
  main(argv).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      // The whole compiler log with --verbose (the build dir is temporary); the first error otherwise.
      if (error instanceof BuildError && argv.some((a) => a === '-v' || a === '--verbose')) process.stderr.write(`${error.log}\n`);
      process.stderr.write(`${formatError(error)}\n`);
      process.exitCode = exitCodeOf(error);
    },
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) runCli(process.argv.slice(2));

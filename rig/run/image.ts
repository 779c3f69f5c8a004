// The engine: for one image, prepare artifacts, boot a template guest, snapshot it, and run each scenario in a fresh guest.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Guest, type GuestOptions } from '../vm/guest.ts';
import { findModuleReports } from '../detect/symbolize.ts';
import { findReports } from '../detect/parse.ts';
import { writeBundle } from './bundle.ts';
import { GuestBackend } from '../scenario/backends/guest.ts';
import { makeContext } from '../scenario/context.ts';
import { type ModuleLoad, DEFAULT_SCENARIO_TIMEOUT_MS, short, type Backend, type KernelMessages, type Scenario } from '../scenario/api.ts';
import { POST_SCENARIO_SCRIPT } from '../vm/guest-setup.ts';
import type { Artifacts } from '../build/artifacts.ts';
import { prepareGuest, readySnapshot } from './ready-guest.ts';
import { shipFiles } from '../vm/files.ts';
import { stopReason, type StopReason } from '../detect/stop.ts';
import { pool } from '../core/pool.ts';
import { cacheRoot } from '../core/paths.ts';
import { splitAllowed } from '../detect/allowed.ts';
import type { AllowedReport } from '../project/config.ts';
import type { ProgramSpec } from '../project/load.ts';
import type { ModuleParams } from '../scenario/api.ts';
import { AssertionFailed, GuestError, UsageError } from '../core/errors.ts';
import { CoverageCollector } from './coverage.ts';
import { FAULT_SETUP_SCRIPT, injectedFailure, MAX_FAULT_INJECTIONS, sweepScenario, type PlannedRun } from './fault-inject.ts';
import { injectedFaults, moduleFrameOf } from '../detect/fault-site.ts';
import { koSymbols, nameRawFrames, symbolizeFrames } from '../detect/symbolize.ts';
import type { FaultPlan } from '../scenario/context.ts';
import { GdbGuestBackend, offerGdb, type RunGdbOptions } from './gdb.ts';
import type { Accel } from '../platform/arch/index.ts';
import type { AllowedReportMatch } from '../detect/allowed.ts';
import type { BuiltModule } from '../build/module.ts';
import type { ImageSpec } from '../kernels/spec.ts';
import type { KernelReport } from '../detect/kernel-report.ts';
import type { EventSink } from '../core/events.ts';
import type { InjectedSite, RunEventSink, RunSummary, ScenarioFailure, ScenarioResult } from '../report/results.ts';

export interface ImageRunOptions {
  readonly image: ImageSpec;
  readonly kmodDir: string;
  readonly scenarios: readonly Scenario[];
  /** Start each scenario from a snapshot of a booted guest (default); false cold-boots per scenario. */
  readonly snapshot: boolean;
  /** Memory-error detection in the guest (slub_debug, KFENCE, slab validation). */
  readonly debug: boolean;
  /** Temporary directory for this image's run (builds, initramfs, snapshot, sockets). */
  readonly workDir: string;
  readonly logsDir?: string;
  readonly cacheDir?: string;
  readonly accel?: Accel;
  /** Guest vCPUs and memory (default: 1, the image's memoryMb); part of the snapshot key. */
  readonly cpus?: number;
  readonly memoryMb?: number;
  /** Guests of this image running scenarios at once (default 1). */
  readonly lanes?: number;
  /** From the project file: extra make arguments, guest programs, default module parameters, allowed reports. */
  readonly makeArgs?: readonly string[];
  readonly programs?: readonly ProgramSpec[];
  readonly moduleParams?: ModuleParams;
  readonly allowedReports?: readonly AllowedReport[];
  /** Write a failure bundle for each failed scenario into `dir` (scenarioFile: where the scenarios came from; none: built in). */
  readonly bundles?: { readonly dir: string; readonly scenarioFile?: string };
  /**
   * Called with each scenario's guest once the scenario is judged (and its bundle written), before the
   * guest is closed: `replay --shell` opens its shell there. The guest may have died (a fatal report).
   */
  readonly afterScenario?: (guest: Guest, art: Artifacts, outcome: Outcome) => Promise<void>;
  /** --coverage: the run's coverage directory (this image's tracefiles and HTML go into <dir>/<image>/). */
  readonly coverageDir?: string;
  /** --gdb / --gdb-wait: the stub in every scenario's guest, a script once the scenario loaded the module, no scenario timeout. */
  readonly gdb?: RunGdbOptions;
  /** --fault-inject: sweep each scenario's fault points, at most this many injections per scenario. */
  readonly faultInject?: number;
  readonly onEvent: RunEventSink;
}

/** Default netlink protocol of ktest (module parameter proto). */
export const DEFAULT_PROTO = 30;

export async function runImage(o: ImageRunOptions): Promise<RunSummary> {
  const { art, accel, reason, options: guestOptions } = await prepareGuest({ ...o, coverage: o.coverageDir !== undefined });
  const coverage = o.coverageDir !== undefined
    ? await CoverageCollector.start({ image: o.image, module: art.module, kmodDir: o.kmodDir, workDir: o.workDir, dir: join(o.coverageDir, o.image.id), onEvent: o.onEvent })
    : undefined;
  o.onEvent({ type: 'log', level: 'info', message: `${o.image.id}: accelerator ${accel} (${reason})` });
  o.onEvent({ type: 'run-start', image: o.image.id, total: o.scenarios.length });
  const cached = o.snapshot ? await readySnapshot(o, guestOptions) : undefined;
  let results: ScenarioResult[];
  try {
    const one = (scenario: Scenario, plan?: FaultPlan) => runOne(o, art, guestOptions, cached?.file, scenario, coverage, plan);
    const bound = (scenario: Scenario) => faultBound(o.faultInject, scenario);
    results = await runSequence(o.image.id, o.scenarios, o.onEvent, (scenario) => {
      const max = bound(scenario);
      if (max === undefined) return one(scenario).then((r) => r.result);
      // A sweep is one fresh guest per fault point (seconds each under TCG): say how far it is.
      return sweepScenario(max, (plan) => one(scenario, plan), (done, of, points, run) => {
        const outcome = run.result.failure ? `failed: ${run.result.failure.message}` : run.site ? `handled${run.site.at ? ` (${run.site.at})` : ''}` : 'handled';
        o.onEvent({ type: 'log', level: 'info', message: `[${o.image.id}] ${scenario.name}: injection ${done}/${of} (${points} fault points) ${outcome}` });
      });
    }, o.lanes ?? 1);
  } finally {
    await cached?.release();
  }
  const report = await coverage?.finish(o.scenarios.map((s) => s.name));
  const summary = { ...summarize({ image: o.image.id, kernel: o.image.release, arch: o.image.arch, accel }, results), ...(report && { coverage: report }) };
  o.onEvent({ type: 'run-end', summary });
  return summary;
}

/**
 * Run scenarios, up to `lanes` at once (each in a guest of its own), with their start and end events.
 * End events come in the scenarios' order whatever order they finish in, so reports read the same.
 * Shared by both targets (the host runs one lane: one kernel, one module).
 */
export async function runSequence(
  image: string,
  scenarios: readonly Scenario[],
  onEvent: RunEventSink,
  runOne: (scenario: Scenario) => Promise<ScenarioResult>,
  lanes = 1,
): Promise<ScenarioResult[]> {
  const total = scenarios.length;
  const done = new Map<number, ScenarioResult>();
  let emitted = 0;
  return pool(scenarios, lanes, async (scenario, index) => {
    onEvent({ type: 'scenario-start', image, name: scenario.name, index, total });
    const result = await runOne(scenario);
    done.set(index, result);
    for (let next = done.get(emitted); next; next = done.get(emitted)) onEvent({ type: 'scenario-end', result: next, index: emitted++, total });
    return result;
  });
}

export function scenarioResult(image: string, name: string, started: number, failure: ScenarioFailure | undefined, allowed: readonly AllowedReportMatch[] = []): ScenarioResult {
  return { image, name, status: failure ? 'fail' : 'pass', durationMs: Date.now() - started, ...(failure ? { failure } : {}), ...(allowed.length > 0 && { allowed }) };
}

export function summarize(head: Omit<RunSummary, 'scenarios' | 'passed' | 'failed'>, results: readonly ScenarioResult[]): RunSummary {
  return {
    ...head,
    scenarios: results,
    passed: results.filter((r) => r.status === 'pass').length,
    failed: results.filter((r) => r.status === 'fail').length,
  };
}

async function startGuest(options: GuestOptions, snapshotFile: string | undefined, gdb: boolean): Promise<Guest> {
  // The stub is no device: the snapshot is the same with or without it.
  const started = gdb ? { ...options, gdb: true } : options;
  return snapshotFile ? Guest.restore(started, snapshotFile) : Guest.boot(started);
}

/** Injections for a scenario under --fault-inject N (its own faultInject option wins), or undefined: no sweep. Pure. */
export function faultBound(runBound: number | undefined, scenario: Pick<Scenario, 'faultInject'>): number | undefined {
  if (runBound === undefined || scenario.faultInject === false) return undefined;
  return Math.min(scenario.faultInject?.max ?? runBound, MAX_FAULT_INJECTIONS);
}

async function runOne(
  o: ImageRunOptions,
  art: Artifacts,
  guestOptions: GuestOptions,
  snapshotFile: string | undefined,
  scenario: Scenario,
  coverage?: CoverageCollector,
  plan?: FaultPlan,
): Promise<PlannedRun> {
  const started = Date.now();
  const finish = (failure?: ScenarioFailure, allowed?: readonly AllowedReportMatch[], site?: InjectedSite): PlannedRun => ({
    result: scenarioResult(o.image.id, scenario.name, started, failure, allowed),
    ...(site && { site }),
  });
  let guest: Guest;
  try {
    guest = await startGuest(guestOptions, snapshotFile, o.gdb !== undefined);
  } catch (error) {
    if (!(error instanceof GuestError)) throw error;
    const failure: ScenarioFailure = { message: `guest did not start: ${error.message}`, kind: error.kind === 'hang' ? 'hang' : 'panic', consoleTail: error.consoleTail };
    return finish(await withBundle(o, art, guestOptions.accel, scenario, { failure, allowed: [], console: error.consoleTail, dmesg: '' }));
  }
  try {
    const ran = await runInGuest({ ...o, faults: plan }, art, guest, scenario);
    const site = plan?.mode === 'inject' ? await injectedSite(plan, ran.dmesg || ran.console, art.module) : undefined;
    const outcome = site ? { ...ran, failure: injectedFailure(ran.failure, site) } : ran;
    // The counters of this guest, read before anything else touches it (a bundle's snapshot, the close).
    await coverage?.collect(guest, scenario.name);
    if (!site || outcome.failure) await writeLogs(o, site ? `${scenario.name}.fault-${site.call + 1}-${site.nth}` : scenario.name, outcome.console, outcome.dmesg);
    const result = finish(await withBundle(o, art, guest.accel, scenario, outcome, guest, site), outcome.allowed, site);
    await o.afterScenario?.(guest, art, outcome);
    return result;
  } finally {
    await guest.close();
  }
}

/** Whether the guest is still worth saving after this failure (nothing fatal happened to its kernel). Pure. */
export function guestAlive(failure: ScenarioFailure): boolean {
  return failure.kind === 'assertion' || (failure.kind === 'kernel' && !(failure.reports ?? []).some((r) => r.fatal));
}

/** The failure with the bundle written for it (and the guest's snapshot while it is alive); the outcome's failure when bundles are off. */
async function withBundle(o: ImageRunOptions, art: Artifacts, accel: Accel, scenario: Scenario, outcome: Outcome, guest?: Guest, site?: InjectedSite): Promise<ScenarioFailure | undefined> {
  const failure = outcome.failure;
  if (!failure || !o.bundles) return failure;
  const alive = guest && guestAlive(failure) ? guest : undefined;
  const dir = await writeBundle(
    o.bundles.dir,
    {
      image: o.image,
      scenario: { name: scenario.name, ...(o.bundles.scenarioFile ? { file: o.bundles.scenarioFile } : {}), ...(scenario.params ? { params: scenario.params } : {}) },
      module: { name: art.module.name, sourceDir: o.kmodDir },
      options: { debug: o.debug, snapshot: o.snapshot, accel, ...(site && { faultInject: { call: site.call, nth: site.nth } }), ...(o.cpus !== undefined && { cpus: o.cpus }), ...(o.memoryMb !== undefined && { memoryMb: o.memoryMb }), ...(o.makeArgs?.length ? { makeArgs: o.makeArgs } : {}), ...(o.moduleParams && Object.keys(o.moduleParams).length > 0 ? { moduleParams: o.moduleParams } : {}) },
      failure,
      console: outcome.console,
      dmesg: outcome.dmesg,
    },
    alive ? { initrd: art.initrdPath, saveGuest: (file) => alive.saveSnapshot(file) } : {},
  );
  o.onEvent({ type: 'log', level: 'info', message: `[${o.image.id}] ${scenario.name}: bundle ${dir} (replay: npm run rig -- replay ${dir})` });
  return { ...failure, bundle: dir };
}

export interface Outcome {
  readonly failure?: ScenarioFailure;
  /** Reports the project file allows (they did not fail the scenario). */
  readonly allowed: readonly AllowedReportMatch[];
  readonly console: string;
  readonly dmesg: string;
}

/** Copy the module(s) into a fresh guest, run one scenario, then read the kernel log and judge it. */
export async function runInGuest(o: Pick<ImageRunOptions, 'debug' | 'image' | 'moduleParams' | 'allowedReports' | 'gdb' | 'cacheDir'> & { readonly onEvent: EventSink; readonly faults?: FaultPlan }, art: Artifacts, guest: Guest, scenario: Scenario): Promise<Outcome> {
  const mark = guest.console.mark();
  try {
    await shipFiles(guest, art.guestFiles);
    if (o.faults) {
      const r = await guest.exec(['sh', '-c', FAULT_SETUP_SCRIPT], { timeoutMs: 30_000 });
      if (r.exitCode !== 0) throw new UsageError(`${o.image.id}: ${r.stderr.toString('utf8').trim() || 'fault injection could not be set up'}`, { hint: 'run --fault-inject on a kernel built with fault injection: --kernel bookworm-6.1-debug' });
    }
  } catch (error) {
    if (!(error instanceof GuestError)) throw error;
    return { failure: guestFailure(error), console: guest.console.since(mark), dmesg: '', allowed: [] };
  }
  // With debugging on, the kmalloc slabs are validated and leaks scanned in the same guest command that reads the log.
  const beforeLogRead = o.debug ? POST_SCENARIO_SCRIPT : undefined;
  const gdb = o.gdb;
  const backend = gdb
    ? new GdbGuestBackend(guest, art.module.name, beforeLogRead, () =>
        offerGdb(
          { wait: gdb.wait, dbg: gdb.dbg ?? false, dir: join(gdb.dir, `${o.image.id}-${scenario.name.replace(/[^\w.+-]+/g, '_')}`), onReady: (setup) => gdb.onReady(setup, { image: o.image.id, scenario: scenario.name }) },
          { guest, kernel: art.kernel, module: art.module, loaded: true, cacheDir: o.cacheDir ?? cacheRoot(), what: `scenario ${scenario.name}`, onEvent: o.onEvent },
        ),
      )
    : new GuestBackend(guest, art.module.name, beforeLogRead);
  return runScenarioOn(backend, scenario, {
    module: art.module,
    uapi: art.uapi,
    onEvent: o.onEvent,
    moduleParams: o.moduleParams,
    allowedReports: o.allowedReports,
    faults: o.faults,
    consoleSince: () => guest.console.since(mark),
    consoleTail: () => guest.console.tail(8192),
    watchConsole: (listener) => guest.console.onLine(listener),
    untimed: gdb !== undefined,
  });
}

export interface JudgeOptions {
  readonly module: BuiltModule;
  readonly uapi: Readonly<Record<string, number>>;
  readonly onEvent: EventSink;
  /** Parameters of every module load (project file); the scenario's own params override them. */
  readonly moduleParams?: ModuleParams;
  /** Reports that do not fail the scenario (project file). */
  readonly allowedReports?: readonly AllowedReport[];
  /** The kernel console since the scenario began (guests; the host has none). */
  readonly consoleSince?: () => string;
  readonly consoleTail?: () => string;
  /** Kernel console lines as they come (guests): a lockup or an oops ends the scenario early (rig/detect/stop.ts). */
  readonly watchConsole?: (listener: (line: string) => void) => () => void;
  /** No scenario timeout: a debugger may hold the guest for as long as it likes (--gdb). */
  readonly untimed?: boolean;
  /** A fault-injection sweep's plan for this run. */
  readonly faults?: FaultPlan;
}

/**
 * Run one scenario on a backend, then judge the kernel: any kernel report in the scenario's part of
 * the log fails it, even when its own assertions held. Shared by the guest and host targets.
 */
export async function runScenarioOn(backend: Backend, scenario: Scenario, o: JudgeOptions): Promise<Outcome> {
  const marker = `ktest-rig: scenario ${scenario.name} begin ${randomBytes(4).toString('hex')}`;
  let failure: ScenarioFailure | undefined;
  let dmesg = '';
  let judged: string | undefined;
  let lost = 0;
  try {
    await backend.markKernelLog(marker);
    const log = (m: string) => o.onEvent({ type: 'log', level: 'debug', message: `${scenario.name}: ${m}` });
    failure = await runScenarioBody(backend, scenario, marker, o.uapi, log, o.moduleParams, o.watchConsole, o.untimed, o.faults);
    if (failure?.kind !== 'hang') {
      const msgs = await kernelMessagesOf(backend, marker);
      dmesg = msgs.all;
      judged = msgs.kernel;
      lost = msgs.lost;
      warnUserWrites(msgs.user, (m) => o.onEvent({ type: 'log', level: 'warn', message: `${scenario.name}: ${m}` }));
    }
  } catch (error) {
    if (!(error instanceof GuestError)) throw error;
    failure ??= guestFailure(error);
  }
  const consoleText = o.consoleSince?.() ?? '';
  // A live kernel's own records (user space's left out); a dead guest left only its console.
  const found = await chargedReports(judged ?? (dmesg || consoleText), lost, o.module, backend.moduleLoads?.());
  const { allowed, reports } = splitAllowed(found, o.allowedReports ?? []);
  for (const a of allowed) o.onEvent({ type: 'log', level: 'debug', message: `${scenario.name}: allowed kernel report ${a.title}` });
  // After an injected allocation failure the client's own failed assertion is the expected sight, not news: the report leaves it out.
  const earlier = o.faults?.mode === 'inject' && failure?.kind === 'assertion' ? undefined : failure;
  if (reports.length > 0) failure = kernelFailure(reports, earlier, o.consoleTail?.() ?? dmesg.slice(-8192));
  return { failure, allowed, console: consoleText, dmesg };
}

/** The kernel's messages since a mark: the backend's unclearable source when it has one, else its dmesg. */
export async function kernelMessagesOf(backend: Backend, marker: string): Promise<KernelMessages> {
  if (backend.kernelMessages) return backend.kernelMessages(marker);
  const all = await backend.kernelLog(marker);
  return { all, kernel: all, user: '', lost: 0 };
}

/** Messages the kernel overwrote before anyone read them may have held a report: that is a report too. */
export function lostReport(lost: number): KernelReport {
  return {
    kind: 'lost-messages',
    title: `kernel log overrun: ${lost} message${lost === 1 ? '' : 's'} lost before they were read`,
    frames: [],
    moduleFrames: [],
    fatal: false,
    raw: `ktest-rig: the kernel overwrote ${lost} record(s) of its log buffer before the agent read them; a report may have been among them`,
  };
}

async function runScenarioBody(
  backend: Backend,
  scenario: Scenario,
  marker: string,
  uapi: Readonly<Record<string, number>>,
  log: (m: string) => void,
  moduleParams?: ModuleParams,
  watchConsole?: JudgeOptions['watchConsole'],
  untimed = false,
  faults?: FaultPlan,
): Promise<ScenarioFailure | undefined> {
  const t = makeContext({ backend, beginMarker: marker, proto: uapi.KTEST_NETLINK_PROTO ?? DEFAULT_PROTO, uapi, log, moduleParams, faults });
  const timeoutMs = scenario.timeoutMs ?? DEFAULT_SCENARIO_TIMEOUT_MS;
  const body = (async () => {
    if (scenario.load !== false) await t.module.load(scenario.params);
    await scenario.run(t);
  })();
  body.catch(() => {}); // it may still settle after a timeout
  const timer = untimed ? new Promise<'timeout'>(() => {}) : sleep(timeoutMs, 'timeout' as const, { ref: false });
  // A report after which the guest will not finish the scenario ends it now, not at its timeout.
  let stopTimer: NodeJS.Timeout | undefined;
  let unwatch: (() => void) | undefined;
  const stopped = new Promise<StopReason>((resolve) => {
    unwatch = watchConsole?.((line) => {
      const reason = stopTimer === undefined ? stopReason(line) : undefined;
      if (reason) stopTimer = setTimeout(() => resolve(reason), reason.afterMs);
    });
  });
  try {
    const r = await Promise.race([body.then(() => 'done' as const), timer, stopped]);
    if (r === 'timeout') return { message: `scenario did not finish within ${timeoutMs} ms`, kind: 'hang' };
    if (r !== 'done') return { message: `scenario stopped early: the kernel reported ${r.kind} (${r.line.slice(0, 160)})`, kind: 'hang' };
    return undefined;
  } catch (error) {
    if (error instanceof AssertionFailed) return assertionFailure(error);
    if (error instanceof GuestError) return guestFailure(error);
    return { message: error instanceof Error ? `${error.name}: ${error.message}` : String(error), kind: 'error' };
  } finally {
    unwatch?.();
    clearTimeout(stopTimer);
  }
}

/** An assertion's failure with what it found and wanted (TAP's found/wanted/at) when it says. */
export function assertionFailure(error: AssertionFailed): ScenarioFailure {
  const d = error.details;
  return {
    message: error.message,
    kind: 'assertion',
    ...(d && 'actual' in d && { found: short(d.actual) }),
    ...(d && 'expected' in d && { wanted: short(d.expected) }),
    ...(d?.at && { at: d.at }),
  };
}

/**
 * Reports a scenario is charged with: every report, except leaks that the module's code did not
 * allocate (kmemleak also finds the kernel's own unreferenced objects).
 */
export function chargeable(reports: readonly KernelReport[]): KernelReport[] {
  return reports.filter((r) => r.kind !== 'memory-leak' || r.moduleFrames.length > 0);
}

/** The reports in kernel text that what just ran (a scenario, an exec) is charged with; lost records are one more. */
export async function chargedReports(text: string, lost: number, module: Pick<BuiltModule, 'name' | 'koPath'>, loads: readonly ModuleLoad[] = []): Promise<KernelReport[]> {
  const found = chargeable(await findModuleReports(await withUnloadedNamed(text, loads, module), module));
  return lost > 0 ? [...found, lostReport(lost)] : found;
}

/** Reports user space wrote to /dev/kmsg are said (one line each to `warn`), never judged. */
export function warnUserWrites(user: string, warn: (message: string) => void): void {
  for (const r of findReports(user)) warn(`user space wrote "${r.title}" to /dev/kmsg: not a kernel report, not judged`);
}

function guestFailure(error: GuestError): ScenarioFailure {
  const kind = error.kind === 'hang' ? 'hang' : 'panic';
  return { message: `guest ${kind === 'hang' ? 'stopped answering' : 'died'}: ${error.message}`, kind, consoleTail: error.consoleTail };
}

function kernelFailure(reports: readonly KernelReport[], earlier: ScenarioFailure | undefined, tail: string): ScenarioFailure {
  const titles = [...new Set(reports.map((r) => r.title))];
  const where = reports
    .flatMap((r) => r.moduleFrames)
    .filter((f) => f.file)
    .map((f) => `${f.symbol} (${f.file}:${f.line})`);
  const message = `kernel reported ${titles.join('; ')}${where.length ? ` at ${[...new Set(where)].slice(0, 3).join(', ')}` : ''}${
    earlier ? ` [also: ${earlier.message}]` : ''
  }`;
  return { message, kind: 'kernel', reports, consoleTail: earlier?.consoleTail ?? tail };
}


/** Where the injected fault struck, from the kernel's dump of the failing stack (the module's frame symbolised). */
async function injectedSite(plan: Extract<FaultPlan, { mode: 'inject' }>, log: string, module: BuiltModule): Promise<InjectedSite> {
  const base: InjectedSite = { call: plan.call, nth: plan.nth };
  const fault = injectedFaults(log)[0];
  if (!fault) return base;
  const frame = moduleFrameOf(fault, module.name);
  if (!frame) return { ...base, attr: fault.attr };
  const [sym] = await symbolizeFrames([frame], module.koPath, { firstIsPc: false }).catch(() => [frame]);
  return { ...base, attr: fault.attr, function: sym.symbol, ...(sym.file && { at: `${sym.file}:${sym.line}` }) };
}

/** The log with raw addresses in the module's former code named (a leak reported after rmmod), when there are any. */
async function withUnloadedNamed(text: string, loads: readonly ModuleLoad[], module: Pick<BuiltModule, 'name' | 'koPath'>): Promise<string> {
  if (loads.length === 0 || !/\] 0x[0-9a-f]+\s*$/m.test(text)) return text;
  const symbols = await koSymbols(module.koPath).catch(() => []);
  return nameRawFrames(text, loads, symbols, module.name);
}

async function writeLogs(o: ImageRunOptions, name: string, consoleText: string, dmesg: string): Promise<void> {
  if (!o.logsDir) return;
  const dir = join(o.logsDir, o.image.id);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, `${name}.console.log`), consoleText);
  if (dmesg) await writeFile(join(dir, `${name}.dmesg.log`), dmesg);
}

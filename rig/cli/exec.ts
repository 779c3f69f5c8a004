// `rig exec`: boot a fresh guest, load the module, run one command in it, and judge the kernel afterwards (exit codes: EXEC_EXIT_CODES).
import { Guest } from '../vm/guest.ts';
import { findModuleReports as moduleReports } from '../detect/symbolize.ts';
import { GuestBackend } from '../scenario/backends/guest.ts';
import { describeExec } from '../scenario/context.ts';
import { prepareGuest, readySnapshot } from '../run/ready-guest.ts';
import { verifiedBoot } from '../run/verified-boot.ts';
import { shipFiles, type GuestFile } from '../vm/files.ts';
import { cacheRoot } from '../core/paths.ts';
import { DEFAULT_EXEC_TIMEOUT_MS } from '../vm/timeouts.ts';
import { ExecExitCode, GuestError } from '../core/errors.ts';
import { chargedReports, warnUserWrites } from '../run/image.ts';
import type { EventSink } from '../core/events.ts';
import type { Accel } from '../platform/arch/index.ts';
import type { BuiltModule } from '../build/module.ts';
import type { ExecResult } from '../vm/types.ts';
import type { ImageSpec } from '../kernels/spec.ts';
import type { KernelReport } from '../detect/kernel-report.ts';
import type { PreparedKernel } from '../kernels/spec.ts';
import type { ProgramSpec } from '../project/load.ts';
import type { KernelMessages, ModuleParams } from '../scenario/api.ts';
import { offerGdb, type GdbOptions } from '../run/gdb.ts';

export interface ExecCommandOptions {
  readonly image: ImageSpec;
  readonly kmodDir: string;
  readonly load: boolean;
  readonly argv: readonly string[];
  readonly debug: boolean;
  /** Restore from the cached ready-guest snapshot (default); false cold-boots. */
  readonly snapshot?: boolean;
  readonly cpus?: number;
  readonly memoryMb?: number;
  readonly workDir: string;
  readonly cacheDir?: string;
  readonly accel?: Accel;
  readonly timeoutMs?: number;
  /** From the project file: make arguments, guest programs, parameters of the load. */
  readonly makeArgs?: readonly string[];
  readonly programs?: readonly ProgramSpec[];
  readonly moduleParams?: ModuleParams;
  /** Bytes for CMD's standard input (exec forwards its own when it is not a terminal). */
  readonly stdin?: Buffer;
  /** QEMU's gdb stub and a gdb script with the kernel's and the module's symbols (--gdb, --gdb-wait). */
  readonly gdb?: GdbOptions;
  readonly onEvent: EventSink;
}

export interface ExecCommandResult {
  /** CMD's exit status, 124 when it timed out, 125 when the kernel crashed or hung. */
  readonly exitCode: number;
  readonly stdout: Buffer;
  readonly stderr: Buffer;
  /** Kernel messages while the module was loaded and CMD ran (the agent's own reader: dmesg -c cannot hide them). */
  readonly kernelLog: string;
  readonly reports: readonly KernelReport[];
  /** Why the run ended abnormally (load refused, crash, hang, signal), if it did. */
  readonly problem?: string;
  /** The guest's whole console, boot included (to keep next to a report). */
  readonly console: string;
}


export { DEFAULT_EXEC_TIMEOUT_MS };

/** Signal numbers (Linux, x86_64 and arm64 agree) of the names the agent reports. */
export const SIGNALS: Readonly<Record<string, number>> = {
  SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGILL: 4, SIGTRAP: 5, SIGABRT: 6, SIGBUS: 7, SIGFPE: 8, SIGKILL: 9, SIGUSR1: 10,
  SIGSEGV: 11, SIGUSR2: 12, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15, SIGCHLD: 17, SIGCONT: 18, SIGSTOP: 19, SIGTSTP: 20,
  SIGTTIN: 21, SIGTTOU: 22, SIGURG: 23, SIGXCPU: 24, SIGXFSZ: 25, SIGVTALRM: 26, SIGPROF: 27, SIGWINCH: 28, SIGIO: 29,
  SIGPWR: 30, SIGSYS: 31,
};

/** 128 + the signal's number, as a shell reports a command killed by it (SIG<n> as the agent writes unknown ones). Pure. */
export function signalExitCode(signal: string): number {
  return 128 + (SIGNALS[signal] ?? Number(/^SIG(\d+)$/.exec(signal)?.[1] ?? 0));
}

/** The verdict of one exec from what happened: the kernel first, then the timeout, a signal, CMD's own status. Pure. */
export function execVerdict(r: ExecResult, reports: readonly KernelReport[]): { exitCode: number; problem?: string } {
  if (reports.length > 0) return { exitCode: ExecExitCode.kernelFailed, problem: `kernel reported ${reports.map((x) => x.title).join('; ')}` };
  if (r.timedOut) return { exitCode: ExecExitCode.timedOut, problem: 'command timed out' };
  if (r.signal) return { exitCode: signalExitCode(r.signal), problem: `command killed by ${r.signal} (exit ${signalExitCode(r.signal)})` };
  return { exitCode: r.exitCode ?? ExecExitCode.untestable };
}

export async function execCommand(o: ExecCommandOptions): Promise<ExecCommandResult> {
  const { art, accel, options } = await prepareGuest(o);
  // The stub is no device: the snapshot is the same with or without it (rig/vm/snapshot-cache.ts).
  const started = o.gdb ? { ...options, gdb: true } : options;
  let guest: Guest;
  if (o.snapshot ?? true) {
    // The same snapshot as `rig run` (same options, same preparation): a warm exec after a run boots nothing.
    const cached = await readySnapshot(o, options);
    try {
      o.onEvent({ type: 'stage', image: o.image.id, stage: 'boot', message: `restoring ${o.image.id} (${accel}) from its snapshot` });
      guest = await Guest.restore(started, cached.file);
    } finally {
      // QEMU's `cat` holds the file open once the restore is under way.
      await cached.release();
    }
  } else {
    o.onEvent({ type: 'stage', image: o.image.id, stage: 'boot', message: `booting ${o.image.id} (${accel})` });
    guest = await verifiedBoot(o, () => Guest.boot(started));
  }
  const empty = Buffer.alloc(0);
  try {
    const r = await execInGuest(o, guest, art.module, art.guestFiles, empty, art.kernel);
    return { ...r, console: guest.console.text() };
  } finally {
    await guest.close();
  }
}

async function execInGuest(o: ExecCommandOptions, guest: Guest, module: BuiltModule, files: readonly GuestFile[], empty: Buffer, kernel: PreparedKernel): Promise<Omit<ExecCommandResult, 'console'>> {
  const backend = new GuestBackend(guest, module.name);
  const marker = `ktest-rig: exec begin`;
  const mark = guest.console.mark();
  const judge = async (msgs: KernelMessages): Promise<KernelReport[]> => {
    warnUserWrites(msgs.user, (message) => o.onEvent({ type: 'log', level: 'warn', message }));
    return chargedReports(msgs.kernel, msgs.lost, module);
  };
  try {
    await shipFiles(guest, files);
    await backend.markKernelLog(marker);
    if (o.load) {
      const loaded = await backend.loadModule(o.moduleParams);
      if (loaded.exitCode !== 0) {
        const msgs = await backend.kernelMessages(marker);
        const reports = await judge(msgs);
        const why = `the kernel refused to load ${module.name} (${describeExec(loaded)})`;
        return reports.length > 0
          ? { exitCode: ExecExitCode.kernelFailed, stdout: empty, stderr: empty, kernelLog: msgs.all, reports, problem: `${why}; kernel reported ${reports.map((x) => x.title).join('; ')}` }
          : { exitCode: ExecExitCode.moduleRefused, stdout: empty, stderr: empty, kernelLog: msgs.all, reports, problem: why };
      }
    }
    if (o.gdb) await offerGdb(o.gdb, { guest, kernel, module, loaded: o.load, cacheDir: o.cacheDir ?? cacheRoot(), what: `rig exec -- ${o.argv.join(' ')}`, onEvent: o.onEvent });
    const r = await guest.exec(o.argv, { timeoutMs: o.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS, stdin: o.stdin });
    const msgs = await backend.kernelMessages(marker);
    const reports = await judge(msgs);
    return { ...execVerdict(r, reports), stdout: r.stdout, stderr: r.stderr, kernelLog: msgs.all, reports };
  } catch (error) {
    if (!(error instanceof GuestError)) throw error;
    const consoleText = guest.console.since(mark);
    return { exitCode: ExecExitCode.kernelFailed, stdout: empty, stderr: empty, kernelLog: consoleText, reports: await moduleReports(consoleText, module), problem: `guest ${error.kind}: ${error.message}` };
  }
}


// `rig exec`: boot a fresh guest, load the module, run one command in it, and judge the kernel afterwards.
import { Guest } from '../vm/guest.ts';
import { probeAccel } from '../platform/kvm.ts';
import { findModuleReports as moduleReports } from '../detect/symbolize.ts';
import { GuestBackend } from '../scenario/backends/guest.ts';
import { describeExec } from '../scenario/context.ts';
import { prepareArtifacts } from '../build/artifacts.ts';
import { guestOptionsFor } from '../run/image.ts';
import { verifiedBoot } from '../run/verified-boot.ts';
import { ExecExitCode, GuestError } from '../core/errors.ts';
import type { EventSink } from '../core/events.ts';
import type { Accel, BuiltModule, ImageSpec, KernelReport } from '../core/types.ts';
import type { ProgramSpec } from '../project/load.ts';
import type { ModuleParams } from '../scenario/api.ts';

export interface ExecCommandOptions {
  readonly image: ImageSpec;
  readonly kmodDir: string;
  readonly load: boolean;
  readonly argv: readonly string[];
  readonly debug: boolean;
  readonly workDir: string;
  readonly cacheDir?: string;
  readonly accel?: Accel;
  readonly timeoutMs?: number;
  /** From the project file: make arguments, guest programs, parameters of the load. */
  readonly makeArgs?: readonly string[];
  readonly programs?: readonly ProgramSpec[];
  readonly moduleParams?: ModuleParams;
  readonly onEvent: EventSink;
}

export interface ExecCommandResult {
  /** CMD's exit status, 124 when it timed out, 125 when the kernel crashed or hung. */
  readonly exitCode: number;
  readonly stdout: Buffer;
  readonly stderr: Buffer;
  /** Kernel messages while the module was loaded and CMD ran. */
  readonly kernelLog: string;
  readonly reports: readonly KernelReport[];
  /** Why the run ended abnormally (load failure, crash, hang), if it did. */
  readonly problem?: string;
  /** The guest's whole console, boot included (to keep next to a report). */
  readonly console: string;
}


export const DEFAULT_EXEC_TIMEOUT_MS = 60_000;

export async function execCommand(o: ExecCommandOptions): Promise<ExecCommandResult> {
  const art = await prepareArtifacts(o);
  const { accel } = o.accel ? { accel: o.accel } : await probeAccel();
  o.onEvent({ type: 'stage', image: o.image.id, stage: 'boot', message: `booting ${o.image.id} (${accel})` });
  const guest = await verifiedBoot(o, () => Guest.boot(guestOptionsFor(o, art, accel)));
  const empty = Buffer.alloc(0);
  try {
    const r = await execInGuest(o, guest, art.module, empty);
    return { ...r, console: guest.console.text() };
  } finally {
    await guest.close();
  }
}

async function execInGuest(o: ExecCommandOptions, guest: Guest, module: BuiltModule, empty: Buffer): Promise<Omit<ExecCommandResult, 'console'>> {
  const backend = new GuestBackend(guest, module.name);
  const marker = `ktest-rig: exec begin`;
  const mark = guest.console.mark();
  try {
    await backend.markKernelLog(marker);
    if (o.load) {
      const loaded = await backend.loadModule(o.moduleParams);
      if (loaded.exitCode !== 0) {
        const kernelLog = await backend.kernelLog(marker);
        return { exitCode: ExecExitCode.kernelCrashed, stdout: empty, stderr: empty, kernelLog, reports: await moduleReports(kernelLog, module), problem: `loading ${module.name} failed (${describeExec(loaded)})` };
      }
    }
    const r = await guest.exec(o.argv, { timeoutMs: o.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS });
    const kernelLog = await backend.kernelLog(marker);
    const reports = await moduleReports(kernelLog, module);
    const exitCode = reports.length > 0 ? ExecExitCode.kernelCrashed : r.timedOut ? ExecExitCode.timedOut : (r.exitCode ?? 128);
    return { exitCode, stdout: r.stdout, stderr: r.stderr, kernelLog, reports, ...(reports.length ? { problem: `kernel reported ${reports.map((x) => x.title).join('; ')}` } : r.timedOut ? { problem: 'command timed out' } : {}) };
  } catch (error) {
    if (!(error instanceof GuestError)) throw error;
    const consoleText = guest.console.since(mark);
    return { exitCode: ExecExitCode.kernelCrashed, stdout: empty, stderr: empty, kernelLog: consoleText, reports: await moduleReports(consoleText, module), problem: `guest ${error.kind}: ${error.message}` };
  }
}

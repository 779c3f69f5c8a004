// `rig shell`: an interactive shell on a pty in a fresh guest (module loaded), until exit, Ctrl-] q or a kernel crash.
import { Guest } from '../vm/guest.ts';
import { shipFiles } from '../vm/files.ts';
import { GuestBackend } from '../scenario/backends/guest.ts';
import { describeExec } from '../scenario/context.ts';
import { prepareGuest } from '../run/ready-guest.ts';
import { findReports } from '../detect/parse.ts';
import { findModuleReports } from '../detect/symbolize.ts';
import { reportsSummary } from '../report/details.ts';
import { ExecExitCode, GuestError } from '../core/errors.ts';
import { EscapeFilter, ESCAPE_HELP } from './escape.ts';
import type { EventSink } from '../core/events.ts';
import type { Accel } from '../platform/arch/index.ts';
import type { BuiltModule } from '../build/module.ts';
import type { ImageSpec } from '../kernels/spec.ts';
import type { KernelReport } from '../detect/kernel-report.ts';
import type { WindowSize } from '../vm/agent-protocol.ts';
import { offerGdb, type GdbOptions } from '../run/gdb.ts';
import { cacheRoot } from '../core/paths.ts';

/** The terminal the shell runs in (process.stdin/stdout, or a test's streams). */
export interface Terminal {
  readonly input: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  readonly output: NodeJS.WritableStream & { columns?: number; rows?: number; on(event: 'resize', cb: () => void): unknown; off(event: 'resize', cb: () => void): unknown };
}

/** The guest's shell: busybox ash, interactive (line editing, job control on its controlling pty). */
export const SHELL_ARGV = ['/bin/sh', '-c', 'cd /; export PS1="ktest:\\w# " HOME=/ TERM=linux; exec /bin/sh -i'];

/** After the last console line of a kernel report, wait this long for the rest before judging. */
export const REPORT_SETTLE_MS = 1500;

export interface ShellSession {
  readonly guest: Guest;
  readonly module: BuiltModule;
  /** Where the kernel console of this session starts (reports before it are not the session's). */
  readonly consoleMark: number;
}

export interface ShellOptions {
  readonly terminal: Terminal;
  /** Messages for the user (banner, summary): stderr. */
  readonly say: (text: string) => void;
  /** Where to keep the whole console log when the kernel printed a report; returns its path. */
  readonly keepConsole: (text: string) => Promise<string>;
}

/** Window size of the terminal (80x24 when it says nothing). Pure. */
export function windowSize(out: { columns?: number; rows?: number }): WindowSize {
  return { rows: out.rows && out.rows > 0 ? out.rows : 24, cols: out.columns && out.columns > 0 ? out.columns : 80 };
}

/** Boot a fresh guest for `rig shell` (or `exec`-like use): module built, loaded unless load is false. */
export async function bootShellGuest(o: {
  readonly image: ImageSpec;
  readonly kmodDir: string;
  readonly load: boolean;
  readonly workDir: string;
  readonly debug: boolean;
  readonly cacheDir?: string;
  readonly accel?: Accel;
  /** --gdb / --gdb-wait: the stub, the script once the module is loaded, and with wait a hold before the shell. */
  readonly gdb?: GdbOptions;
  readonly onEvent: EventSink;
}): Promise<ShellSession> {
  const { art, accel, options } = await prepareGuest(o);
  o.onEvent({ type: 'stage', image: o.image.id, stage: 'boot', message: `booting ${o.image.id} (${accel})` });
  const guest = await Guest.boot({ ...options, ...(o.gdb && { gdb: true }) });
  const consoleMark = guest.console.mark();
  // The module and the guest programs travel outside the initramfs (the files channel), as for exec.
  await shipFiles(guest, art.guestFiles).catch(async (error: unknown) => {
    await guest.close();
    throw error;
  });
  if (o.load) {
    const loaded = await new GuestBackend(guest, art.module.name).loadModule().catch(async (error: unknown) => {
      await guest.close();
      throw error;
    });
    if (loaded.exitCode !== 0) o.onEvent({ type: 'log', level: 'warn', message: `loading ${art.module.name} failed (${describeExec(loaded)}); the shell starts anyway` });
  }
  if (o.gdb) {
    const gdb = o.gdb;
    const loaded = o.load && (await guest.exec(['test', '-d', `/sys/module/${art.module.name.replaceAll('-', '_')}`])).exitCode === 0;
    await offerGdb(gdb, { guest, kernel: art.kernel, module: art.module, loaded, cacheDir: o.cacheDir ?? cacheRoot(), what: 'rig shell', onEvent: o.onEvent }).catch(async (error: unknown) => {
      await guest.close();
      throw error;
    });
  }
  return { guest, module: art.module, consoleMark };
}

/**
 * Runs the interactive shell in a ready guest until the shell exits (its status), Ctrl-] q (0), or the
 * kernel reports something (the report summary, ExecExitCode.kernelFailed). The guest is closed at the end.
 */
export async function runShell(session: ShellSession, o: ShellOptions): Promise<number> {
  const { guest, module } = session;
  const { input, output } = o.terminal;
  const raw = !!input.isTTY && typeof input.setRawMode === 'function';
  let finish!: (code: number) => void;
  const finished = new Promise<number>((resolve) => (finish = resolve));
  let ended = false;
  const end = (code: number) => {
    if (!ended) {
      ended = true;
      finish(code);
    }
  };

  // A kernel report (or the guest's death) ends the session with the structured report.
  let judging: NodeJS.Timeout | undefined;
  let guestGone = false;
  const judge = async (): Promise<void> => {
    const text = guest.console.since(session.consoleMark);
    const reports: KernelReport[] = await findModuleReports(text, module);
    if (reports.length === 0 && !guestGone) return;
    restoreTerminal();
    const log = await o.keepConsole(guest.console.text());
    o.say(reports.length > 0 ? `\r\n--- kernel reports ---\n${reportsSummary(reports, log)}` : `\r\nktest-rig: the guest ended (console log: ${log})\n`);
    end(ExecExitCode.kernelFailed);
  };
  const offLine = guest.console.onLine((line) => {
    if (ended || findReports(line).length === 0) return;
    clearTimeout(judging);
    judging = setTimeout(() => void judge(), REPORT_SETTLE_MS);
  });
  void guest.exited.then(() => {
    guestGone = true;
    clearTimeout(judging);
    if (!ended) void judge().then(() => end(ExecExitCode.kernelFailed));
  });

  const pty = guest.openPty(SHELL_ARGV, windowSize(output), (data) => {
    if (!ended) output.write(data);
  });
  pty.done.then(
    (r) => {
      // The shell's own status, as a shell reports it (128+N for a signal).
      void (async () => {
        await new Promise((r2) => setTimeout(r2, 50));
        const reports = await findModuleReports(guest.console.since(session.consoleMark), module);
        if (reports.length > 0) return judge();
        end(r.exitCode ?? (r.signal ? 128 + (signalNumber(r.signal) ?? 1) : 1));
      })();
    },
    (error: unknown) => {
      if (error instanceof GuestError) return void judge().then(() => end(ExecExitCode.kernelFailed));
      end(ExecExitCode.kernelFailed);
    },
  );

  const escape = new EscapeFilter();
  const onData = (chunk: Buffer | string) => {
    const { send, actions } = escape.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
    pty.write(send);
    for (const a of actions) {
      if (a === 'help') o.say(`\r\n${ESCAPE_HELP}\r\n`);
      else {
        o.say('\r\nktest-rig: Ctrl-] q: ending the guest\r\n');
        end(0);
      }
    }
  };
  const onResize = () => pty.resize(windowSize(output));
  const onEnd = () => end(0);
  function restoreTerminal() {
    input.off('data', onData);
    input.off('end', onEnd);
    output.off('resize', onResize);
    if (raw) input.setRawMode!(false);
    input.pause();
  }
  if (raw) input.setRawMode!(true);
  input.on('data', onData);
  input.on('end', onEnd);
  output.on('resize', onResize);
  input.resume();
  try {
    return await finished;
  } finally {
    clearTimeout(judging);
    offLine();
    restoreTerminal();
    await guest.close();
  }
}

const SIGNALS: Readonly<Record<string, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGTERM: 15 };

function signalNumber(name: string): number | undefined {
  return SIGNALS[name];
}

// The QEMU process: spawn, bounded console capture, a process-wide registry that never leaves a QEMU behind.
import { createWriteStream, existsSync, type WriteStream } from 'node:fs';
import { execa, type ResultPromise } from 'execa';
import { QemuError } from '../core/errors.ts';
import { missingTool } from '../platform/host-tools.ts';

/** How QEMU ended. `error` is set when it could not even start. */
export interface QemuExit {
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly error?: Error;
}

/** Bounds of the in-memory console: the first 64 KiB (boot) and the last 1 MiB (the crash). */
export const CONSOLE_HEAD_BYTES = 64 * 1024;
export const CONSOLE_TAIL_BYTES = 1024 * 1024;
/** A "line" longer than this is delivered in pieces to onLine listeners. */
const MAX_LINE_BYTES = 64 * 1024;

/**
 * The kernel console stream, kept bounded: a module flooding the console must not eat memory.
 * Offsets (mark/since) count every byte ever received, dropped ones included.
 */
export class ConsoleBuffer {
  readonly #headMax: number;
  readonly #tailMax: number;
  #head: Buffer[] = [];
  #headLen = 0;
  #tail: Buffer[] = [];
  #tailLen = 0;
  #total = 0;
  #partialLine = '';
  readonly #lineListeners = new Set<(line: string) => void>();

  constructor(headMax: number = CONSOLE_HEAD_BYTES, tailMax: number = CONSOLE_TAIL_BYTES) {
    this.#headMax = headMax;
    this.#tailMax = tailMax;
  }

  push(chunk: Buffer): void {
    let rest = chunk;
    if (this.#headLen < this.#headMax) {
      const take = rest.subarray(0, this.#headMax - this.#headLen);
      this.#head.push(Buffer.from(take));
      this.#headLen += take.length;
      rest = rest.subarray(take.length);
    }
    if (rest.length > 0) {
      this.#tail.push(Buffer.from(rest));
      this.#tailLen += rest.length;
      this.#trimTail();
    }
    this.#total += chunk.length;
    if (this.#lineListeners.size > 0) this.#emitLines(chunk);
  }

  /** Bytes received in all. */
  get totalBytes(): number {
    return this.#total;
  }

  /** Bytes dropped between the head and the tail. */
  get droppedBytes(): number {
    return this.#total - this.#headLen - this.#tailLen;
  }

  /** Everything kept, with a marker where bytes were dropped. */
  text(): string {
    return this.since(0);
  }

  /** An offset to pass to since() later. */
  mark(): number {
    return this.#total;
  }

  /** What arrived after `mark` (as far as it is still kept). */
  since(mark: number): string {
    const tailStart = this.#total - this.#tailLen;
    const parts: string[] = [];
    if (mark < this.#headLen) parts.push(Buffer.concat(this.#head).subarray(mark).toString());
    if (mark < tailStart && tailStart > this.#headLen) parts.push(`\n[... ${tailStart - Math.max(mark, this.#headLen)} bytes dropped ...]\n`);
    parts.push(Buffer.concat(this.#tail).subarray(Math.max(0, mark - tailStart)).toString());
    return parts.join('');
  }

  /** The last `bytes` bytes kept. */
  tail(bytes: number): string {
    return this.since(Math.max(0, this.#total - bytes));
  }

  /** Call `listener` with each complete line (no newline) from now on; returns the unsubscribe function. */
  onLine(listener: (line: string) => void): () => void {
    this.#lineListeners.add(listener);
    return () => this.#lineListeners.delete(listener);
  }

  #trimTail(): void {
    while (this.#tailLen > this.#tailMax) {
      const first = this.#tail[0]!;
      const excess = this.#tailLen - this.#tailMax;
      if (first.length <= excess) {
        this.#tail.shift();
        this.#tailLen -= first.length;
      } else {
        this.#tail[0] = first.subarray(excess);
        this.#tailLen -= excess;
      }
    }
  }

  #emitLines(chunk: Buffer): void {
    const lines = (this.#partialLine + chunk.toString()).split('\n');
    this.#partialLine = lines.pop() ?? '';
    if (this.#partialLine.length > MAX_LINE_BYTES) {
      lines.push(this.#partialLine);
      this.#partialLine = '';
    }
    for (const line of lines) {
      const clean = line.endsWith('\r') ? line.slice(0, -1) : line;
      for (const listener of [...this.#lineListeners]) listener(clean);
    }
  }
}

// ---- process registry: every QEMU we start is killed when this process ends, however it ends ----

const live = new Map<number, ResultPromise>();
let handlersInstalled = false;

/** Pids of the QEMUs this process started that are still running. */
export function liveQemuPids(): number[] {
  return [...live.keys()];
}

/** SIGKILL every QEMU this process started (synchronous: safe in an 'exit' handler). */
export function killAllQemu(): void {
  for (const [pid] of live) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/**
 * Every QEMU runs under util-linux `setpriv --pdeathsig KILL`: the kernel kills it the moment this
 * process dies, however (signal, crash, SIGKILL, OOM), with no handler to run. On top of that, 'exit'
 * and uncaught errors kill them explicitly. Only without setpriv do we add SIGINT/SIGTERM/SIGHUP
 * handlers: a handler changes what the signal does (the process no longer dies of it unless the last
 * handler re-raises it, and signal-exit style libraries in the same process then wait for each other).
 */
const SETPRIV = '/usr/bin/setpriv';

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', killAllQemu);
  // A monitor does not change how Node handles the error: it still crashes (and then 'exit' runs too).
  process.on('uncaughtExceptionMonitor', killAllQemu);
  if (existsSync(SETPRIV)) return;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const handler = (): void => {
      killAllQemu();
      // We were the only listener: restore the default action (die of the signal).
      if (process.listenerCount(signal) === 1) {
        process.off(signal, handler);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, handler);
  }
}

export interface QemuStartOptions {
  readonly binary: string;
  readonly args: readonly string[];
  /** Also append the console to this file. */
  readonly consoleLog?: string;
  readonly console?: ConsoleBuffer;
}

export class QemuProcess {
  readonly pid: number;
  readonly console: ConsoleBuffer;
  /** Resolves (never rejects) when QEMU has ended. */
  readonly exited: Promise<QemuExit>;
  readonly argv: readonly string[];
  #exit: QemuExit | undefined;
  #stderr = '';
  readonly #child: ResultPromise;
  readonly #log: WriteStream | undefined;

  private constructor(opts: QemuStartOptions) {
    installHandlers();
    this.console = opts.console ?? new ConsoleBuffer();
    this.argv = [opts.binary, ...opts.args];
    const [file, args] = existsSync(SETPRIV)
      ? [SETPRIV, ['--pdeathsig', 'KILL', opts.binary, ...opts.args]]
      : [opts.binary, [...opts.args]];
    this.#log = opts.consoleLog ? createWriteStream(opts.consoleLog, { flags: 'a' }) : undefined;
    this.#child = execa(file, args, {
      stdin: 'ignore',
      stdout: 'pipe',
      stderr: 'pipe',
      buffer: false,
      reject: false,
      stripFinalNewline: false,
      cleanup: false, // our own handlers below; signal-exit would keep a SIGTERM from ending the process
    });
    this.pid = this.#child.pid ?? -1;
    if (this.pid > 0) live.set(this.pid, this.#child);
    this.#child.stdout?.on('data', (chunk: Buffer) => {
      this.console.push(chunk);
      this.#log?.write(chunk);
    });
    this.#child.stderr?.on('data', (chunk: Buffer) => {
      if (this.#stderr.length < 64 * 1024) this.#stderr += chunk.toString();
    });
    this.exited = this.#child.then(
      (result) => this.#ended({ exitCode: result.exitCode ?? null, signal: result.signal ?? null, error: startError(result, opts.binary) }),
      (error: Error) => this.#ended({ exitCode: null, signal: null, error }),
    );
  }

  /** Start QEMU; throws MissingToolError when the binary is not on PATH. */
  static start(opts: QemuStartOptions): QemuProcess {
    if (!findInPath(opts.binary)) {
      throw missingTool(opts.binary);
    }
    return new QemuProcess(opts);
  }

  /** Set once QEMU has ended. */
  get exit(): QemuExit | undefined {
    return this.#exit;
  }

  /** QEMU's own messages (bounded). */
  stderr(): string {
    return this.#stderr;
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves when QEMU is gone. */
  async kill(graceMs = 1000): Promise<QemuExit> {
    if (this.#exit) return this.#exit;
    this.#child.kill('SIGTERM');
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  #ended(exit: QemuExit): QemuExit {
    this.#exit = exit;
    live.delete(this.pid);
    this.#log?.end();
    return exit;
  }
}

/** The binary's path, looked up like execvp does. */
export function findInPath(binary: string, path: string = process.env.PATH ?? ''): string | undefined {
  if (binary.includes('/')) return existsSync(binary) ? binary : undefined;
  return path
    .split(':')
    .filter((dir) => dir !== '')
    .map((dir) => `${dir}/${binary}`)
    .find((candidate) => existsSync(candidate));
}

/** A start failure becomes a typed error; a normal exit has none. */
function startError(result: { failed?: boolean; exitCode?: number; signal?: string }, binary: string): Error | undefined {
  if (result.failed && result.exitCode === undefined && result.signal === undefined) {
    return new QemuError(`could not start ${binary}`);
  }
  return undefined;
}

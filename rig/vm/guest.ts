// A running guest: QEMU plus the agent on the command port; exec commands, detect panics and hangs, snapshot.
import { constants } from 'node:fs';
import { access, mkdtemp, rm } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeKill, encodeKmsg, encodePing, encodePtyInput, encodePtyResize, encodePtyRun, encodeRun, FrameDecoder, newNonce, type AgentFrame, type WindowSize } from './agent-protocol.ts';
import { parseKmsg, type KmsgRead } from '../detect/kmsg.ts';
import { GuestError, InfraError, InternalError, QemuError } from '../core/errors.ts';
import { kernelCmdline, qemuArgv } from './qemu-args.ts';
import { QemuProcess, type ConsoleBuffer, type QemuExit } from './qemu.ts';
import { connectWithRetry, QmpClient, withDeadline } from './qmp.ts';
import { migrateToFile, waitMigration } from './migrate.ts';
import { timeoutsFor, type Timeouts } from './timeouts.ts';
import type { Accel } from '../platform/arch/index.ts';
import type { ExecOptions, ExecResult, QemuSpec } from './types.ts';

export interface GuestOptions {
  readonly kernelPath: string;
  readonly initrdPath: string;
  readonly qemu: QemuSpec;
  readonly accel: Accel;
  /** Default: the image's memoryMb, else 256. */
  readonly memoryMb?: number;
  /** vCPUs (default DEFAULT_CPUS). */
  readonly cpus?: number;
  /** Extra kernel parameters (debug knobs), appended last. */
  readonly appendExtra?: readonly string[];
  /** Also append the kernel console to this file. */
  readonly consoleLog?: string;
  /** Where the guest's temporary dir (sockets) goes; default the OS temp dir. */
  readonly workDir?: string;
  readonly timeouts?: Partial<Timeouts>;
  /**
   * Serve QEMU's gdb stub on a unix socket in the guest's dir (Guest.gdbSocket). A debugger may stop
   * the guest for as long as it likes: a guest that does not answer while QEMU says it is stopped is
   * not hung. Not part of a snapshot's key (the stub is no device).
   */
  readonly gdb?: boolean;
}

/** The marker the kernel prints when it panics; with panic=-1 and -no-reboot QEMU exits right after. */
export const PANIC_MARKER = 'Kernel panic - not syncing';
/** After a panic line, wait this long for QEMU to exit (panic=-1) before asking the agent whether the kernel still runs. */
const PANIC_SETTLE_MS = 1000;
/** Pings (each timeouts.pingMs) the agent may miss after a panic line before the kernel counts as stopped. */
const PANIC_PINGS = 2;
/** Bytes of console attached to a GuestError. */
export const ERROR_CONSOLE_TAIL = 16 * 1024;
/** Longest unix socket path (sun_path is 108 bytes with its NUL). */
const MAX_SOCKET_PATH = 107;

/** An interactive command on a guest pty (Guest.openPty). */
export interface PtySession {
  readonly done: Promise<ExecResult>;
  write(data: Buffer): void;
  resize(size: WindowSize): void;
  /** SIGKILL its process group. */
  kill(): void;
}

interface RunningCommand {
  readonly stdout: Buffer[];
  readonly stderr: Buffer[];
  /** Pty sessions: output streamed instead of collected. */
  readonly onOutput?: (data: Buffer) => void;
  readonly resolve: (result: ExecResult) => void;
  readonly reject: (error: Error) => void;
}

export class Guest {
  readonly accel: Accel;
  readonly timeouts: Timeouts;
  /** Ends when QEMU has ended, however. */
  readonly exited: Promise<QemuExit>;
  readonly #qemu: QemuProcess;
  readonly #dir: string;
  readonly #qmpSocket: string;
  /** The files channel's socket path, when the image has one (rig/vm/files.ts). */
  readonly #filesSocket: string | undefined;
  readonly #gdbSocket: string | undefined;
  #files: Promise<Socket> | undefined;
  readonly #nonce = newNonce();
  readonly #decoder: FrameDecoder;
  #socket: Socket | undefined;
  /** Where the agent's frames come from: the results channel, or the command socket without one. */
  #results: Socket | undefined;
  #commandPortBytes = 0;
  #qmp: QmpClient | undefined;
  #nextId = 1;
  readonly #commands = new Map<number, RunningCommand>();
  readonly #pings = new Map<number, () => void>();
  /** Why the guest is gone: its kernel (GuestError), or QEMU killed or failing (QemuError, the host's side). */
  #dead: GuestError | QemuError | undefined;
  #closing: Promise<void> | undefined;

  private constructor(qemu: QemuProcess, dir: string, sockets: { qmpSocket: string; filesSocket?: string; gdbSocket?: string }, accel: Accel, timeouts: Timeouts) {
    this.#qemu = qemu;
    this.#dir = dir;
    this.#qmpSocket = sockets.qmpSocket;
    this.#filesSocket = sockets.filesSocket;
    this.#gdbSocket = sockets.gdbSocket;
    this.accel = accel;
    this.timeouts = timeouts;
    this.#decoder = new FrameDecoder(this.#nonce);
    this.exited = qemu.exited;
    // A panic is a panic when the kernel stopped: with panic=-1 and -no-reboot QEMU exits at once; else
    // the agent stops answering. Text that merely looks like one (user space can write anything to
    // /dev/kmsg, and it reaches the console) kills nothing: after the line, QEMU must exit or a ping fail.
    let panicSeen = false;
    qemu.console.onLine((line) => {
      if (panicSeen || !line.includes(PANIC_MARKER)) return;
      panicSeen = true;
      void this.#confirmPanic().finally(() => (panicSeen = false));
    });
    void qemu.exited.then((exit) => this.#onQemuExit(exit));
  }

  /** The kernel console (bounded): text(), mark(), since(mark), tail(bytes), onLine(cb). */
  get console(): ConsoleBuffer {
    return this.#qemu.console;
  }

  /** QEMU's pid (tests check it is gone after close). */
  get pid(): number {
    return this.#qemu.pid;
  }

  /** Cold boot; resolves when the agent answers a ping. */
  static async boot(opts: GuestOptions): Promise<Guest> {
    return Guest.#start(opts, undefined);
  }

  /** A fresh guest from a snapshot saved by saveSnapshot() with the same options. */
  static async restore(opts: GuestOptions, snapshotFile: string): Promise<Guest> {
    try {
      await access(snapshotFile, constants.R_OK);
    } catch (cause) {
      throw new QemuError(`snapshot ${snapshotFile} is missing or unreadable`, { cause });
    }
    return Guest.#start(opts, snapshotFile);
  }

  static async #start(opts: GuestOptions, incomingFile: string | undefined): Promise<Guest> {
    const timeouts = timeoutsFor(opts.accel, opts.timeouts);
    const dir = await guestTempDir(opts.workDir);
    const sockets = guestSockets(opts, dir);
    const { commandSocket, resultsSocket } = sockets;
    const { binary, args } = guestArgv(opts, dir, incomingFile);
    let qemu: QemuProcess;
    try {
      qemu = QemuProcess.start({ binary, args, consoleLog: opts.consoleLog });
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
    const guest = new Guest(qemu, dir, sockets, opts.accel, timeouts);
    const what = incomingFile ? `restoring ${incomingFile}` : 'booting';
    const limit = incomingFile ? timeouts.restoreMs : timeouts.bootMs;
    try {
      const deadline = Date.now() + limit;
      if (incomingFile) await guest.#resume(deadline, what);
      await guest.#waitReady(commandSocket, resultsSocket, deadline, what);
    } catch (error) {
      await guest.close();
      throw error;
    }
    return guest;
  }

  /** Run argv in the guest. Rejects with GuestError ('panic', 'exited', 'hang') when the guest is gone. */
  exec(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    if (this.#dead) return Promise.reject(this.#dead);
    if (this.#closing) return Promise.reject(new InternalError('exec on a closed guest'));
    const id = this.#nextId++;
    const timeoutMs = opts.timeoutMs ?? this.timeouts.execMs;
    let frame: string;
    try {
      frame = encodeRun(this.#nonce, id, argv, { timeoutMs, stdin: opts.stdin });
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<ExecResult>((resolve, reject) => {
      const command: RunningCommand = { stdout: [], stderr: [], resolve, reject };
      this.#commands.set(id, command);
      this.#send(frame);
      this.#watchdog(id, timeoutMs + this.timeouts.execGraceMs);
    });
  }

  /**
   * The kernel-log records the agent's own /dev/kmsg reader kept, from sequence number `from` on
   * (user space cannot clear them: `dmesg -c` does not move a reader). `from` past the end: only the header.
   */
  async readKmsg(from = 0): Promise<KmsgRead> {
    return parseKmsg(await this.readKmsgText(from));
  }

  /** The agent's answer to an L frame as it sent it (a header line, then one raw record per line). */
  async readKmsgText(from = 0): Promise<string> {
    if (this.#dead) throw this.#dead;
    const id = this.#nextId++;
    const frame = encodeKmsg(this.#nonce, id, Math.min(from, 0xffff_ffff));
    const r = await new Promise<ExecResult>((resolve, reject) => {
      this.#commands.set(id, { stdout: [], stderr: [], resolve, reject });
      this.#send(frame);
      this.#watchdog(id, this.timeouts.execMs + this.timeouts.execGraceMs);
    });
    if (r.exitCode !== 0) throw new InfraError(`the guest agent cannot read the kernel log: ${r.stderr.toString('utf8').trim()}`);
    return r.stdout.toString('utf8');
  }

  /**
   * Run argv on a pty in the guest (an interactive shell): output is handed to `onOutput` as it comes,
   * `write` types, `resize` passes a new window size. `done` settles like exec's result (never times out).
   */
  openPty(argv: readonly string[], size: WindowSize, onOutput: (data: Buffer) => void): PtySession {
    if (this.#dead) throw this.#dead;
    const id = this.#nextId++;
    const frame = encodePtyRun(this.#nonce, id, argv, size);
    const done = new Promise<ExecResult>((resolve, reject) => {
      this.#commands.set(id, { stdout: [], stderr: [], resolve, reject, onOutput });
    });
    this.#send(frame);
    return {
      done,
      write: (data) => {
        if (data.length > 0 && this.#commands.has(id)) this.#send(encodePtyInput(this.#nonce, id, data));
      },
      resize: (next) => {
        if (this.#commands.has(id)) this.#send(encodePtyResize(this.#nonce, id, next));
      },
      kill: () => {
        if (this.#commands.has(id)) this.#send(encodeKill(this.#nonce, id));
      },
    };
  }

  /** Is the agent answering? Resolves false after `timeoutMs` without a pong. */
  async ping(timeoutMs: number = this.timeouts.pingMs): Promise<boolean> {
    if (this.#dead || !this.#socket) return false;
    const id = this.#nextId++;
    const pong = new Promise<boolean>((resolve) => {
      this.#pings.set(id, () => resolve(true));
      setTimeout(() => resolve(false), timeoutMs).unref();
    });
    this.#send(encodePing(this.#nonce, id));
    const answered = await pong;
    this.#pings.delete(id);
    return answered;
  }

  /** The QMP connection (made on first use). */
  async qmp(): Promise<QmpClient> {
    if (!this.#qmp || this.#qmp.closed) {
      this.#qmp = await QmpClient.connect(this.#qmpSocket, { timeoutMs: this.timeouts.qmpMs });
    }
    return this.#qmp;
  }

  /** The unix socket of QEMU's gdb stub (`target remote PATH`), when the guest was started with `gdb`. */
  get gdbSocket(): string | undefined {
    return this.#gdbSocket;
  }

  /** Is the guest's CPU stopped (by a debugger, or QMP `stop`)? False when QEMU cannot say. */
  async stopped(): Promise<boolean> {
    if (this.#dead) return false;
    try {
      const status = await (await this.qmp()).execute<{ running: boolean; status: string }>('query-status');
      return !status.running;
    } catch {
      return false;
    }
  }

  /**
   * Stop the guest's CPUs and wait until something (the user's gdb, with `continue`) lets them run
   * again. Resolves when the guest runs; rejects with the guest's death if QEMU ends meanwhile.
   */
  async holdForDebugger(onStopped?: () => void): Promise<void> {
    if (this.#dead) throw this.#dead;
    const qmp = await this.qmp();
    const resumed = new Promise<void>((resolve) => {
      const off = qmp.onEvent((event) => {
        if (event.event === 'RESUME') {
          off();
          resolve();
        }
      });
    });
    await qmp.execute('stop');
    onStopped?.();
    const gone = this.exited.then(() => {
      throw this.#dead ?? new GuestError('QEMU exited while the guest waited for gdb', 'exited', this.#tail());
    });
    await Promise.race([resumed, gone]);
  }

  /**
   * Bytes that reached the host on the command port although the agent sends its frames on the results
   * channel: anything there was written by some other guest process, and was dropped unread.
   */
  get droppedCommandPortBytes(): number {
    return this.#commandPortBytes;
  }

  /** Does this guest have the fast files channel (a virtio-serial port)? */
  get hasFilesChannel(): boolean {
    return this.#filesSocket !== undefined;
  }

  /** The host end of the files channel (connected on first use); rig/vm/files.ts writes to it. */
  filesChannel(): Promise<Socket> {
    if (!this.#filesSocket) return Promise.reject(new InternalError('this guest has no files channel'));
    if (this.#dead) return Promise.reject(this.#dead);
    this.#files ??= connectWithRetry(this.#filesSocket, Date.now() + this.timeouts.qmpMs).then((socket) => {
      socket.on('error', () => {});
      return socket;
    });
    return this.#files;
  }

  /** Stop the guest and save its state to `file`; the guest is closed afterwards. */
  async saveSnapshot(file: string): Promise<void> {
    if (this.#commands.size > 0) throw new InternalError('cannot snapshot a guest while commands are running');
    if (this.#dead) throw this.#dead;
    try {
      await migrateToFile(await this.qmp(), file, this.timeouts.saveMs);
    } catch (error) {
      await rm(file, { force: true });
      throw error;
    } finally {
      await this.close();
    }
  }

  /** Kill QEMU, close the sockets, remove the temporary dir. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#die('exited', 'the guest was closed');
      this.#qmp?.close();
      this.#socket?.destroy();
      this.#results?.destroy();
      void this.#files?.then((s) => s.destroy(), () => {});
      await this.#qemu.kill(this.timeouts.killGraceMs);
      await rm(this.#dir, { recursive: true, force: true });
    })();
    return this.#closing;
  }

  // ---- internals ----

  /** A restored QEMU stays paused (the snapshot was taken stopped): wait for the migration, then `cont`. */
  async #resume(deadline: number, what: string): Promise<void> {
    const gone = this.exited.then(() => {
      throw this.#startFailure(what);
    });
    gone.catch(() => {});
    const resumed = (async () => {
      const qmp = await this.qmp();
      await waitMigration(qmp, deadline, what);
      await qmp.execute('cont');
    })();
    try {
      await Promise.race([resumed, gone]);
    } catch (error) {
      throw this.#qemu.exit ? this.#startFailure(what) : error;
    }
  }

  /**
   * Connect the command port (frames to the agent) and, with a results channel, the port the agent's
   * frames come from, then ping until a pong. Frames are read from the results channel alone when there
   * is one: whatever arrives on the command port (a guest process can open ttyS1 and write there) is dropped.
   */
  async #waitReady(commandSocket: string, resultsSocket: string | undefined, deadline: number, what: string): Promise<void> {
    let stopped = false;
    const gone = this.exited.then(() => {
      throw this.#startFailure(what);
    });
    gone.catch(() => {});
    const ready = (async () => {
      const socket = await connectWithRetry(commandSocket, deadline);
      const results = resultsSocket === undefined ? socket : await connectWithRetry(resultsSocket, deadline);
      this.#attach(socket, results);
      let answered = false;
      // Ping until one pong: pings sent before the agent listens are lost or answered late, both fine.
      // A leading newline ends any partial line the agent holds (e.g. after a restore).
      for (let first = true; !answered && !stopped && !this.#dead; first = false) {
        const id = this.#nextId++;
        this.#pings.set(id, () => (answered = true));
        this.#send(`${first ? '\n' : ''}${encodePing(this.#nonce, id)}`);
        await this.#pongOrSleep(this.timeouts.pingIntervalMs);
      }
    })();
    try {
      await withDeadline(Promise.race([ready, gone]), deadline, what);
    } catch (error) {
      if (error instanceof GuestError || this.#qemu.exit) throw this.#qemu.exit ? this.#startFailure(what) : error;
      throw new GuestError(`${what}: the agent did not answer in time`, this.#panicked() ? 'panic' : 'boot', this.#tail(), { cause: error });
    } finally {
      stopped = true;
      this.#pings.clear();
    }
    if (this.#dead) throw this.#startFailure(what);
  }

  /** Resolves at the next pong or after `ms`, whichever is first. */
  #pongOrSleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      this.#onPong = done;
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
    });
  }

  #onPong: (() => void) | undefined;

  #attach(socket: Socket, results: Socket): void {
    this.#socket = socket;
    this.#results = results;
    results.on('data', (chunk: Buffer) => {
      for (const frame of this.#decoder.push(chunk)) this.#onFrame(frame);
    });
    results.on('error', () => {});
    if (results !== socket) socket.on('data', (chunk: Buffer) => (this.#commandPortBytes += chunk.length));
    socket.on('error', () => {});
    socket.on('close', () => {
      // QEMU closes the chardev when it exits; the exit handler classifies.
    });
  }

  #onFrame(frame: AgentFrame): void {
    if (frame.type === 'pong') {
      this.#pings.get(frame.id)?.();
      this.#onPong?.();
      return;
    }
    const command = this.#commands.get(frame.id);
    if (!command) return;
    if (frame.type === 'output') {
      if (command.onOutput) command.onOutput(frame.data);
      else (frame.stream === 1 ? command.stdout : command.stderr).push(frame.data);
    } else if (frame.type === 'end') {
      this.#commands.delete(frame.id);
      command.resolve({
        exitCode: frame.exitCode,
        signal: frame.signal,
        stdout: Buffer.concat(command.stdout),
        stderr: Buffer.concat(command.stderr),
        timedOut: frame.timedOut,
        durationMs: frame.durationMs,
      });
    } else {
      // Could not start (ENOENT, ...): report it like a shell does, status 127 and the reason on stderr.
      this.#commands.delete(frame.id);
      command.resolve({
        exitCode: 127,
        signal: null,
        stdout: Buffer.concat(command.stdout),
        stderr: Buffer.concat([...command.stderr, Buffer.from(`${frame.message}\n`)]),
        timedOut: false,
        durationMs: 0,
      });
    }
  }

  /**
   * The agent kills a command at its timeout; if no end frame came `afterMs` later, ping: no pong
   * means the guest hangs; a pong means the agent lives, so kill the command and give it one more grace.
   */
  #watchdog(id: number, afterMs: number, second = false): void {
    const timer = setTimeout(async () => {
      if (!this.#commands.has(id) || this.#dead) return;
      const alive = await this.ping();
      if (!this.#commands.has(id) || this.#dead) return;
      // Held by a debugger (a breakpoint, or the user's gdb not yet continued): wait, do not judge.
      if (!alive && this.#gdbSocket !== undefined && (await this.stopped())) {
        this.#watchdog(id, afterMs, second);
        return;
      }
      if (alive && !second) {
        this.#send(encodeKill(this.#nonce, id));
        this.#watchdog(id, this.timeouts.execGraceMs, true);
        return;
      }
      const command = this.#commands.get(id);
      this.#commands.delete(id);
      command?.reject(
        // The kernel stopped after its panic line (no answer since): a panic; otherwise a hang.
        alive || !this.#panicked()
          ? new GuestError(alive ? 'the agent did not end a command it killed' : 'the guest stopped answering', 'hang', this.#tail())
          : new GuestError('the guest kernel panicked (it stopped answering after its panic line)', 'panic', this.#tail()),
      );
    }, afterMs);
    timer.unref();
  }

  #send(line: string): void {
    if (this.#socket && !this.#socket.destroyed) this.#socket.write(line);
  }

  #panicked(): boolean {
    return this.console.tail(CONSOLE_SCAN_BYTES).includes(PANIC_MARKER) || (this.#dead instanceof GuestError && this.#dead.kind === 'panic');
  }

  #tail(): string {
    return this.console.tail(ERROR_CONSOLE_TAIL);
  }

  /** The guest is gone: reject everything in flight, once. */
  #die(kind: 'panic' | 'exited', why: string): void {
    this.#fail(new GuestError(kind === 'panic' ? 'the guest kernel panicked' : why, kind, this.#tail()));
  }

  /** After a panic line: QEMU exits (a real panic with panic=-1), or the agent answers (user space's text), or not (the kernel stopped). */
  async #confirmPanic(): Promise<void> {
    const exited = await Promise.race([this.exited.then(() => true), sleep(PANIC_SETTLE_MS).then(() => false)]);
    if (exited || this.#dead || !this.#socket) return; // the exit handler classifies
    for (let i = 0; i < PANIC_PINGS; i++) if (await this.ping()) return;
    if (!this.#qemu.exit) this.#die('panic', 'the guest kernel panicked');
  }

  #fail(error: GuestError | QemuError): void {
    if (this.#dead) return;
    this.#dead = error;
    for (const command of this.#commands.values()) command.reject(error);
    this.#commands.clear();
  }

  /**
   * QEMU ended without our asking (close() marks the guest dead first). Killed by a signal: someone
   * outside the rig did it, an infrastructure error naming the signal. A non-zero status: QEMU failed.
   * Status 0 is the guest ending (-no-reboot): a panic when the kernel printed its panic line.
   */
  #onQemuExit(exit: QemuExit): void {
    if (this.#dead) return;
    if (exit.signal) {
      this.#fail(new QemuError(`QEMU (pid ${this.#qemu.pid}) was killed by ${exit.signal} from outside the rig`, { hint: 'something on the host killed it (OOM killer, a cleanup script, a CI timeout): see the host\'s kernel log' }));
    } else if (exit.exitCode !== 0 && exit.exitCode !== null && !this.#panicked()) {
      const stderr = this.#qemu.stderr().trim();
      this.#fail(new QemuError(`QEMU exited with status ${exit.exitCode}${stderr ? `: ${stderr.split('\n').slice(-3).join(' | ')}` : ''}`));
    } else this.#die(this.#panicked() ? 'panic' : 'exited', 'QEMU exited');
  }

  #startFailure(what: string): Error {
    const exit = this.#qemu.exit;
    if (exit?.signal) return new QemuError(`${what}: QEMU (pid ${this.#qemu.pid}) was killed by ${exit.signal} from outside the rig`);
    if (exit?.error) return exit.error;
    const stderr = this.#qemu.stderr().trim();
    // QEMU itself failed (bad argv, corrupt snapshot): it exits non-zero. A guest ending exits 0.
    if (exit && exit.exitCode !== 0 && !this.#panicked()) {
      return new QemuError(`${what}: QEMU exited with ${exit.exitCode ?? exit.signal}${stderr ? `: ${stderr.split('\n').slice(-3).join(' | ')}` : ''}`);
    }
    const panicked = this.#panicked();
    return new GuestError(`${what}: the guest ${panicked ? 'kernel panicked' : 'ended'} before the agent answered`, panicked ? 'panic' : 'boot', this.#tail());
  }
}

/** The unix sockets of a guest whose private dir is `dir`. */
export function guestSockets(opts: Pick<GuestOptions, 'qemu' | 'gdb'>, dir: string): { commandSocket: string; qmpSocket: string; filesSocket?: string; resultsSocket?: string; gdbSocket?: string } {
  return {
    commandSocket: join(dir, 'cmd.sock'),
    qmpSocket: join(dir, 'qmp.sock'),
    // the results channel rides on the files channel's virtio-serial bus
    ...(opts.qemu.filesChannel ? { filesSocket: join(dir, 'files.sock'), resultsSocket: join(dir, 'out.sock') } : {}),
    ...(opts.gdb ? { gdbSocket: join(dir, 'gdb.sock') } : {}),
  };
}

/** The QEMU command of a guest (boot, or restore from `incomingFile`); snapshot keys hash it. Pure. */
export function guestArgv(opts: GuestOptions, dir: string, incomingFile?: string): { binary: string; args: string[] } {
  return qemuArgv({
    qemu: opts.qemu,
    accel: opts.accel,
    kernelPath: opts.kernelPath,
    initrdPath: opts.initrdPath,
    cmdline: kernelCmdline({ qemu: opts.qemu, extra: opts.appendExtra }),
    ...guestSockets(opts, dir),
    memoryMb: opts.memoryMb,
    cpus: opts.cpus,
    incomingFile,
  });
}

/** How far back the console is searched for the panic marker. */
const CONSOLE_SCAN_BYTES = 256 * 1024;

/** A private dir for the sockets, short enough for unix socket paths. */
async function guestTempDir(workDir: string | undefined): Promise<string> {
  // files.sock is the longest of guestSockets' names (cmd, qmp, gdb, files).
  const base = workDir && join(workDir, 'g-XXXXXX', 'files.sock').length <= MAX_SOCKET_PATH ? workDir : tmpdir();
  return mkdtemp(join(base, 'g-'));
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

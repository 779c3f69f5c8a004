// Minimal QMP client over a unix socket: greeting, capabilities negotiation, execute, events.
import { createConnection, type Socket } from 'node:net';
import { QemuError, type RigErrorOptions } from '../core/errors.ts';

/** QMP answered a command with an error object. */
export class QmpError extends QemuError {
  override name = 'QmpError';
  constructor(
    readonly command: string,
    /** QMP's error class (GenericError, CommandNotFound, DeviceNotActive, ...). */
    readonly errorClass: string,
    readonly desc: string,
    options: RigErrorOptions = {},
  ) {
    super(`QMP ${command} failed: ${errorClass}: ${desc}`, options);
  }
}

export interface QmpEvent {
  readonly event: string;
  readonly data: Record<string, unknown>;
  readonly timestamp?: { readonly seconds: number; readonly microseconds: number };
}

/** One decoded QMP message: a response to command `id`, an event, or the greeting. */
export type QmpMessage =
  | { readonly kind: 'greeting'; readonly version: unknown }
  | { readonly kind: 'return'; readonly id: unknown; readonly value: unknown }
  | { readonly kind: 'error'; readonly id: unknown; readonly errorClass: string; readonly desc: string }
  | { readonly kind: 'event'; readonly event: QmpEvent };

/** Largest line QMP may send us (query-* answers are small; this bounds a broken peer). */
const MAX_LINE = 4 * 1024 * 1024;

/** Splits a byte stream into QMP JSON messages; pure, handles lines split across chunks. */
export class QmpDecoder {
  #pending = '';

  push(chunk: Buffer | string): QmpMessage[] {
    this.#pending += chunk.toString();
    const messages: QmpMessage[] = [];
    let nl: number;
    while ((nl = this.#pending.indexOf('\n')) >= 0) {
      const line = this.#pending.slice(0, nl).trim();
      this.#pending = this.#pending.slice(nl + 1);
      if (line !== '') messages.push(parseQmpLine(line));
    }
    if (this.#pending.length > MAX_LINE) throw new QemuError(`QMP line longer than ${MAX_LINE} bytes`);
    return messages;
  }
}

export function parseQmpLine(line: string): QmpMessage {
  let obj: Record<string, any>;
  try {
    obj = JSON.parse(line);
  } catch (cause) {
    throw new QemuError(`QMP sent invalid JSON: ${line.slice(0, 200)}`, { cause });
  }
  if (obj === null || typeof obj !== 'object') throw new QemuError(`QMP sent a non-object: ${line.slice(0, 200)}`);
  if ('QMP' in obj) return { kind: 'greeting', version: obj.QMP?.version };
  if ('return' in obj) return { kind: 'return', id: obj.id, value: obj.return };
  if ('error' in obj) {
    return { kind: 'error', id: obj.id, errorClass: String(obj.error?.class ?? 'Unknown'), desc: String(obj.error?.desc ?? '') };
  }
  if ('event' in obj) return { kind: 'event', event: { event: String(obj.event), data: obj.data ?? {}, timestamp: obj.timestamp } };
  throw new QemuError(`QMP sent an unknown message: ${line.slice(0, 200)}`);
}

export function encodeQmpCommand(command: string, args: Record<string, unknown> | undefined, id: number): string {
  return `${JSON.stringify(args === undefined ? { execute: command, id } : { execute: command, arguments: args, id })}\n`;
}

interface Pending {
  readonly command: string;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
}

export interface QmpConnectOptions {
  /** Give up connecting (QEMU creates the socket shortly after it starts) after this long. */
  readonly timeoutMs?: number;
  /** Stop retrying early, e.g. when QEMU exited. */
  readonly signal?: AbortSignal;
}

export class QmpClient {
  readonly #socket: Socket;
  readonly #decoder = new QmpDecoder();
  readonly #pending = new Map<number, Pending>();
  readonly #eventListeners = new Set<(event: QmpEvent) => void>();
  #greeting: ((version: unknown) => void) | undefined;
  #nextId = 1;
  #closed: Error | undefined;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', (chunk) => this.#onData(chunk));
    socket.on('error', (error) => this.#fail(new QemuError(`QMP socket error: ${error.message}`, { cause: error })));
    socket.on('close', () => this.#fail(new QemuError('QMP connection closed (QEMU exited?)')));
  }

  /** Connect (retrying until the socket exists), read the greeting and negotiate capabilities. */
  static async connect(path: string, opts: QmpConnectOptions = {}): Promise<QmpClient> {
    const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
    const socket = await connectWithRetry(path, deadline, opts.signal);
    const client = new QmpClient(socket);
    try {
      await withDeadline(client.#waitGreeting(), deadline, `QMP greeting on ${path}`);
      await withDeadline(client.execute('qmp_capabilities'), deadline, 'QMP qmp_capabilities');
    } catch (error) {
      client.close();
      throw error;
    }
    return client;
  }

  /** Run a command; resolves with its `return` value, rejects with QmpError on a QMP error. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T> {
    if (this.#closed) return Promise.reject(this.#closed);
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { command, resolve: resolve as (v: unknown) => void, reject });
      this.#socket.write(encodeQmpCommand(command, args, id));
    });
  }

  /** Subscribe to events; returns the unsubscribe function. */
  onEvent(listener: (event: QmpEvent) => void): () => void {
    this.#eventListeners.add(listener);
    return () => this.#eventListeners.delete(listener);
  }

  /** Wait for the first event named `name` (matching `match`) from now on. */
  waitEvent(name: string, timeoutMs: number, match: (event: QmpEvent) => boolean = () => true): Promise<QmpEvent> {
    let off = () => {};
    const p = new Promise<QmpEvent>((resolve) => {
      off = this.onEvent((event) => {
        if (event.event === name && match(event)) resolve(event);
      });
    });
    return withDeadline(p, Date.now() + timeoutMs, `QMP event ${name}`).finally(() => off());
  }

  get closed(): boolean {
    return this.#closed !== undefined;
  }

  close(): void {
    this.#fail(new QemuError('QMP connection closed'));
    this.#socket.destroy();
  }

  #waitGreeting(): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (this.#closed) reject(this.#closed);
      this.#greeting = resolve;
      this.#pending.set(0, { command: 'greeting', resolve, reject });
    });
  }

  #onData(chunk: Buffer): void {
    let messages: QmpMessage[];
    try {
      messages = this.#decoder.push(chunk);
    } catch (error) {
      this.#fail(error as Error);
      this.#socket.destroy();
      return;
    }
    for (const message of messages) this.#dispatch(message);
  }

  #dispatch(message: QmpMessage): void {
    if (message.kind === 'greeting') {
      this.#pending.delete(0);
      this.#greeting?.(message.version);
      this.#greeting = undefined;
    } else if (message.kind === 'event') {
      for (const listener of [...this.#eventListeners]) listener(message.event);
    } else {
      const id = typeof message.id === 'number' ? message.id : NaN;
      const pending = this.#pending.get(id);
      if (!pending) return;
      this.#pending.delete(id);
      if (message.kind === 'return') pending.resolve(message.value);
      else pending.reject(new QmpError(pending.command, message.errorClass, message.desc));
    }
  }

  #fail(error: Error): void {
    if (this.#closed) return;
    this.#closed = error;
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
  }
}

/** Connect to a unix socket QEMU serves, retrying while it does not exist yet. */
export async function connectWithRetry(path: string, deadline: number, signal?: AbortSignal): Promise<Socket> {
  for (;;) {
    try {
      return await connectOnce(path);
    } catch (cause) {
      const code = (cause as NodeJS.ErrnoException).code;
      const retriable = code === 'ENOENT' || code === 'ECONNREFUSED';
      if (!retriable || Date.now() >= deadline || signal?.aborted) {
        throw new QemuError(`cannot connect to QEMU socket ${path}: ${(cause as Error).message}`, { cause });
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

function connectOnce(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** Reject with a QemuError when `deadline` passes first. */
export function withDeadline<T>(promise: Promise<T>, deadline: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new QemuError(`${what} timed out`)), Math.max(0, deadline - Date.now()));
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

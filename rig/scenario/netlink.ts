// The only loader of the ktest_native addon: netlink sockets, framing and the client transaction, typed.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { InfraError } from '../core/errors.ts';
import { projectRoot } from '../core/paths.ts';

/** A system error from the addon: `errno` is the errno name (ETIMEDOUT), `code` its positive number. */
export class NetlinkError extends Error {
  override name = 'NetlinkError';
  constructor(
    message: string,
    readonly errno: string,
    readonly code: number,
    options: { readonly cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
  }

  get timedOut(): boolean {
    return this.errno === 'ETIMEDOUT';
  }
}

/** Header fields of a message to build; every field is taken as given (malformed messages on purpose). */
export interface MessageSpec {
  readonly type: number;
  /** Default NLM_F_REQUEST. */
  readonly flags?: number;
  /** Default 1. */
  readonly seq?: number;
  /** Default 0. */
  readonly pid?: number;
  /** nlmsg_len as given; default the real length. */
  readonly len?: number;
  /** Text is sent as UTF-8 without a NUL. */
  readonly payload?: Buffer | string;
}

export interface NetlinkMessage {
  readonly len: number;
  readonly type: number;
  readonly flags: number;
  readonly seq: number;
  readonly pid: number;
  readonly payload: Buffer;
  /** NLMSG_ERROR: the code (0: an ack) and its errno name. */
  readonly error?: number;
  readonly errno?: string;
}

export interface Decoded {
  readonly messages: readonly NetlinkMessage[];
  /** The buffer did not end on a whole message (a length field lied); messages before it are kept. */
  readonly malformed: boolean;
}

export interface NativeConstants {
  readonly KTEST_NETLINK_PROTO: number;
  readonly KTEST_MSG_HELLO: number;
  readonly KTEST_MSG_ECHO: number;
  readonly KTEST_MSG_SILENT: number;
  readonly KTEST_MAX_PAYLOAD: number;
  readonly KTEST_HELLO_REPLY: string;
  readonly NLM_F_REQUEST: number;
  readonly NLM_F_MULTI: number;
  readonly NLM_F_ACK: number;
  readonly NLM_F_ECHO: number;
  readonly NLM_F_DUMP: number;
  readonly NLMSG_NOOP: number;
  readonly NLMSG_ERROR: number;
  readonly NLMSG_DONE: number;
  readonly NLMSG_HDRLEN: number;
  readonly RECV_BUF: number;
  readonly MAX_PAYLOAD: number;
  readonly DEFAULT_TIMEOUT_MS: number;
}

/** Options of one client transaction: nlclient's options (see guest/nlclient.c). */
export interface TransactOptions {
  readonly proto: number;
  readonly groups?: number;
  readonly type: number;
  readonly flags?: number;
  readonly seq?: number;
  readonly pid?: number;
  readonly len?: number;
  readonly payload?: Buffer;
  readonly count?: number;
  readonly noRecv?: boolean;
  /** Per message; -1 waits forever. Default 2000. */
  readonly timeoutMs?: number;
}

export interface TransactOutcome {
  /** nlclient's exit code: 0 ok, 3 socket error, 4 timeout, 5 kernel error. */
  readonly status: number;
  /** One JSON line per message received, exactly as nlclient prints them. */
  readonly lines: readonly string[];
  readonly errno?: string;
  readonly code?: number;
  /** nlclient's stderr line without the `nlclient: ` prefix. */
  readonly message?: string;
}

interface Binding {
  encode(spec: object): Buffer;
  decode(buf: Buffer): Decoded;
  errnoName(code: number): string;
  errnoValue(name: string): number;
  open(proto: number, groups?: number): { fd: number; portid: number };
  send(fd: number, data: Buffer): void;
  recv(fd: number, timeoutMs: number): Promise<Buffer>;
  close(fd: number): void;
  transact(options: object): Promise<TransactOutcome>;
  readonly constants: NativeConstants;
}

/** Where node-gyp puts the addon (`npm install` builds it). */
export const addonPath = join(projectRoot, 'native', 'build', 'Release', 'ktest_native.node');

let loaded: Binding | undefined;

function binding(): Binding {
  if (loaded) return loaded;
  try {
    loaded = createRequire(import.meta.url)(addonPath) as Binding;
  } catch (cause) {
    throw new InfraError(`cannot load the netlink addon ${addonPath}`, {
      cause,
      hint: 'run: npm install (builds native/ with node-gyp; needs g++ and make)',
    });
  }
  return loaded;
}

/** Whether the addon is built and loads. */
export function addonAvailable(): boolean {
  try {
    binding();
    return true;
  } catch {
    return false;
  }
}

/** Turns the addon's errors (carrying errno/code) into NetlinkError; TypeErrors pass through. */
function rethrow(error: unknown): never {
  if (error instanceof Error && !(error instanceof TypeError)) {
    const { errno, code } = error as Error & { errno?: unknown; code?: unknown };
    if (typeof errno === 'string' && typeof code === 'number') {
      throw new NetlinkError(error.message, errno, code, { cause: error });
    }
  }
  throw error;
}

function call<T>(fn: (b: Binding) => T): T {
  const b = binding();
  try {
    return fn(b);
  } catch (error) {
    rethrow(error);
  }
}

function payloadBuffer(payload: Buffer | string | undefined): Buffer | undefined {
  if (payload === undefined || Buffer.isBuffer(payload)) return payload;
  if (typeof payload === 'string') return Buffer.from(payload, 'utf8');
  throw new TypeError('payload must be a Buffer or a string');
}

/** Protocol constants from kmod/ktest_uapi.h and the netlink ABI. */
export function constants(): NativeConstants {
  return binding().constants;
}

/** Builds one netlink message (header + payload, unpadded). */
export function encodeMessage(spec: MessageSpec): Buffer {
  return call((b) => b.encode({ ...spec, payload: payloadBuffer(spec.payload) }));
}

/** Walks every message of a datagram, checking each length (hostile input never throws). */
export function decodeMessages(data: Buffer): Decoded {
  if (!Buffer.isBuffer(data)) throw new TypeError('decodeMessages: data must be a Buffer');
  return call((b) => b.decode(data));
}

/** Errno name of a code, sign ignored: 90 -> EMSGSIZE, 0 -> OK, unknown -> EUNKNOWN. */
export function errnoName(code: number): string {
  return call((b) => b.errnoName(code));
}

/** Errno number of a name (EMSGSIZE -> 90), 0 when unknown. */
export function errnoValue(name: string): number {
  return call((b) => b.errnoValue(name));
}

/** A netlink socket bound for one protocol (and multicast groups). Receiving never blocks the event loop. */
export class NetlinkSocket {
  #fd: number;
  #receiving = 0;
  #closing = false;

  private constructor(
    fd: number,
    /** The port id the kernel gave this socket. */
    readonly portid: number,
  ) {
    this.#fd = fd;
  }

  /** Opens a socket; throws NetlinkError (EPROTONOSUPPORT when nothing serves `proto`). */
  static open(proto: number, groups = 0): NetlinkSocket {
    const { fd, portid } = call((b) => b.open(proto, groups));
    return new NetlinkSocket(fd, portid);
  }

  get closed(): boolean {
    return this.#closing;
  }

  /** Sends one datagram (one or more encoded messages) to the kernel. */
  send(data: Buffer): void {
    this.#checkOpen();
    if (!Buffer.isBuffer(data)) throw new TypeError('send: data must be a Buffer');
    call((b) => b.send(this.#fd, data));
  }

  /** Sends one message built from spec. */
  sendMessage(spec: MessageSpec): void {
    this.send(encodeMessage(spec));
  }

  /** Waits for one datagram from the kernel; rejects with NetlinkError ETIMEDOUT after timeoutMs (-1: never). */
  async receive(timeoutMs: number): Promise<Buffer> {
    this.#checkOpen();
    const pending = call((b) => b.recv(this.#fd, timeoutMs));
    this.#receiving++;
    try {
      return await pending;
    } catch (error) {
      rethrow(error);
    } finally {
      this.#receiving--;
      this.#release();
    }
  }

  /** Waits for one datagram and decodes it. */
  async receiveMessages(timeoutMs: number): Promise<Decoded> {
    return decodeMessages(await this.receive(timeoutMs));
  }

  /** Closes the socket; with a receive in flight, the descriptor is closed when it settles. */
  close(): void {
    this.#closing = true;
    this.#release();
  }

  #checkOpen(): void {
    if (this.#closing) throw new NetlinkError('netlink socket is closed', 'EBADF', 9);
  }

  #release(): void {
    if (this.#closing && this.#receiving === 0 && this.#fd >= 0) {
      binding().close(this.#fd);
      this.#fd = -1;
    }
  }
}

/** Runs nlclient's transaction (open, send, wait for each answer, close) in a worker thread. */
export async function transact(options: TransactOptions): Promise<TransactOutcome> {
  const pending = call((b) => b.transact(options));
  try {
    return await pending;
  } catch (error) {
    rethrow(error);
  }
}

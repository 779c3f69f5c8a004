// Host side of the agent's serial command protocol: frame encoders and a streaming frame decoder.
//
// The kernel console is ttyS0; the agent (guest/agent.c) reads frames on a second port (ktest.port=,
// ttyS1 on x86_64, hvc0 on arm64). With a virtio-serial bus (images with filesChannel) it sends its
// frames on the results channel, a virtio-serial port (ktest.out=ktest.out) it opens at boot and holds
// (no other process can open it), and the host reads frames only there: bytes any other guest process
// writes to the command port are dropped unread. Without one, frames come back on the command port. One frame per line, ASCII, fields separated by
// one space, lines end with "\n" (a trailing "\r" is tolerated). Every frame carries a nonce the host
// chose (1-64 chars of [0-9A-Za-z]) and a command id (decimal, 0..4294967295). Byte strings are base64
// (RFC 4648, padded); an empty byte string is written "-" so that no field is ever empty.
//
// host -> guest
//   X <nonce> <id> <timeout_ms> <stdin_b64|-> <argv0_b64> [<argv1_b64> ...]   run a command
//   K <nonce> <id>                                                           SIGKILL its process group
//   P <nonce> <id>                                                           ping
//   L <nonce> <id> <from_seq>                                                kernel log: the agent's own
//                                                        /dev/kmsg reader's records from from_seq on, as
//                                                        stdout O frames of <id> (a header line, then one
//                                                        record per line), then E with status 0
//   T <nonce> <id> <rows> <cols> <argv0_b64> [<argv1_b64> ...]                run on a new pty (rig shell):
//                                                                            its output comes as stream 1
//   I <nonce> <id> <b64>                                                     keyboard bytes for a pty command
//   W <nonce> <id> <rows> <cols>                                             the pty's new window size
// guest -> host
//   R <nonce> <id>                                       pong ("ready"); a distinct letter so that a
//                                                        ping echoed by a not-yet-raw tty is no pong
//   O <nonce> <id> <1|2> <b64>                           stdout/stderr chunk (at most 32768 raw bytes)
//   E <nonce> <id> <exit|-> <SIGNAME|-> <0|1> <ms>       ended: exit code or signal, timed out, duration
//   F <nonce> <id> <b64 message>                         could not start (exec failed, bad frame, ...)
//
// timeout_ms 0 means no timeout (the host layer always sets one). The agent answers every X with
// exactly one E or one F, after all of that command's O frames. A K for an unknown id is ignored.
// F also answers an X it cannot run: malformed fields, a NUL in an argument, an id already running
// (ids are per nonce), more than 64 commands at once. When a command's main process exits, the agent
// SIGKILLs its process group and sends what is already in its pipes: a background process that should
// outlive the command must leave the group (setsid), and its output is no longer collected.
// Startup: the agent drops whatever reached the port before it was raw (a cooked tty may already have
// echoed some: echoed pings are P lines, never pongs) and writes an empty line first. The host pings until a pong: pongs for old pings may arrive late, and
// any pong means ready. The kernel console is elsewhere.
// Limits: a host -> guest line is at most MAX_REQUEST_LINE bytes (the agent drops longer ones); the
// decoder drops guest lines over MAX_FRAME_LINE. Lines that do not parse, or carry another nonce, are
// ignored and counted (FrameDecoder.ignoredLines): a guest process cannot forge a result without the
// nonce, and command output is base64 so it can never look like a frame.
import { randomBytes } from 'node:crypto';
import { InternalError, UsageError } from '../core/errors.ts';

/** Longest host -> guest line the agent accepts, newline included (must match AGENT_MAX_LINE in agent.c). */
export const MAX_REQUEST_LINE = 1024 * 1024;
/** Longest guest -> host line the decoder keeps; output frames are at most about 43 KiB. */
export const MAX_FRAME_LINE = 64 * 1024;
/** Raw bytes per output frame the agent sends (documentation; the agent enforces it). */
export const OUTPUT_CHUNK_BYTES = 32768;
const MAX_ID = 0xffff_ffff;
const NONCE_RE = /^[0-9A-Za-z]{1,64}$/;
const B64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const UINT_RE = /^(?:0|[1-9][0-9]{0,9})$/;

export type AgentFrame =
  | { readonly type: 'pong'; readonly id: number }
  | { readonly type: 'output'; readonly id: number; readonly stream: 1 | 2; readonly data: Buffer }
  | {
      readonly type: 'end';
      readonly id: number;
      readonly exitCode: number | null;
      readonly signal: string | null;
      readonly timedOut: boolean;
      readonly durationMs: number;
    }
  | { readonly type: 'failed'; readonly id: number; readonly message: string };

export interface RunFrameOptions {
  /** Kill the command's process group after this long; 0 = never. */
  readonly timeoutMs: number;
  /** Bytes for the command's stdin (default: /dev/null). */
  readonly stdin?: Buffer;
}

/** A fresh random nonce (16 hex digits) for one guest session. */
export function newNonce(): string {
  return randomBytes(8).toString('hex');
}

function checkHeader(nonce: string, id: number): void {
  if (!NONCE_RE.test(nonce)) throw new InternalError(`bad agent nonce ${JSON.stringify(nonce)}`);
  if (!Number.isInteger(id) || id < 0 || id > MAX_ID) throw new InternalError(`bad agent command id ${id}`);
}

/** Base64 of bytes, "-" for none. */
export function encodeField(bytes: Buffer): string {
  return bytes.length === 0 ? '-' : bytes.toString('base64');
}

/** Inverse of encodeField; undefined for anything that is not strict base64 or "-". */
export function decodeField(field: string): Buffer | undefined {
  if (field === '-') return Buffer.alloc(0);
  if (field.length === 0 || !B64_RE.test(field)) return undefined;
  return Buffer.from(field, 'base64');
}

function argBytes(arg: string | Buffer, index: number): Buffer {
  const bytes = typeof arg === 'string' ? Buffer.from(arg, 'utf8') : arg;
  if (bytes.includes(0)) {
    throw new UsageError(`argv[${index}] contains a NUL byte, which no argv can hold`, {
      hint: 'pass binary data on stdin instead',
    });
  }
  return bytes;
}

/** `X` frame: run argv (strings are sent as UTF-8, Buffers byte for byte). */
export function encodeRun(
  nonce: string,
  id: number,
  argv: readonly (string | Buffer)[],
  opts: RunFrameOptions,
): string {
  checkHeader(nonce, id);
  if (argv.length === 0) throw new UsageError('cannot run an empty argv');
  if (argBytes(argv[0], 0).length === 0) throw new UsageError('argv[0] is empty');
  const timeout = opts.timeoutMs;
  if (!Number.isInteger(timeout) || timeout < 0 || timeout > MAX_ID) {
    throw new UsageError(`bad command timeout ${timeout} ms`);
  }
  const fields = argv.map((arg, i) => encodeField(argBytes(arg, i)));
  const line = `X ${nonce} ${id} ${timeout} ${encodeField(opts.stdin ?? Buffer.alloc(0))} ${fields.join(' ')}\n`;
  if (line.length > MAX_REQUEST_LINE) {
    throw new UsageError(`command frame is ${line.length} bytes, over the agent's ${MAX_REQUEST_LINE}`, {
      hint: 'pass less data on stdin or copy large files into the initramfs',
    });
  }
  return line;
}

/** A terminal size in character cells (1..65535 each). */
export interface WindowSize {
  readonly rows: number;
  readonly cols: number;
}

function checkSize(size: WindowSize): void {
  for (const v of [size.rows, size.cols]) if (!Number.isInteger(v) || v < 1 || v > 0xffff) throw new UsageError(`bad window size ${size.rows}x${size.cols}`);
}

/** `T` frame: run argv on a new pty of this size, no timeout (an interactive shell). */
export function encodePtyRun(nonce: string, id: number, argv: readonly (string | Buffer)[], size: WindowSize): string {
  checkHeader(nonce, id);
  checkSize(size);
  if (argv.length === 0 || argBytes(argv[0]!, 0).length === 0) throw new UsageError('cannot run an empty argv');
  return `T ${nonce} ${id} ${size.rows} ${size.cols} ${argv.map((arg, i) => encodeField(argBytes(arg, i))).join(' ')}\n`;
}

/** Most keyboard bytes per `I` frame (a paste is split). */
export const PTY_INPUT_CHUNK = 3072;

/** `I` frames: bytes typed into a pty command (split into chunks). */
export function encodePtyInput(nonce: string, id: number, data: Buffer): string {
  checkHeader(nonce, id);
  let out = '';
  for (let i = 0; i < data.length; i += PTY_INPUT_CHUNK) out += `I ${nonce} ${id} ${encodeField(data.subarray(i, i + PTY_INPUT_CHUNK))}\n`;
  return out;
}

/** `W` frame: the terminal was resized. */
export function encodePtyResize(nonce: string, id: number, size: WindowSize): string {
  checkHeader(nonce, id);
  checkSize(size);
  return `W ${nonce} ${id} ${size.rows} ${size.cols}\n`;
}

/** `K` frame: SIGKILL the process group of command id. */
export function encodeKill(nonce: string, id: number): string {
  checkHeader(nonce, id);
  return `K ${nonce} ${id}\n`;
}

/** `L` frame: the kernel-log records the agent kept (its own /dev/kmsg reader) with seq >= from. */
export function encodeKmsg(nonce: string, id: number, from: number): string {
  checkHeader(nonce, id);
  if (!Number.isInteger(from) || from < 0 || from > MAX_ID) throw new UsageError(`bad kernel-log sequence ${from}`);
  return `L ${nonce} ${id} ${from}\n`;
}

/** `P` frame: ask for a pong (agent readiness). */
export function encodePing(nonce: string, id: number): string {
  checkHeader(nonce, id);
  return `P ${nonce} ${id}\n`;
}

function parseUint(field: string | undefined): number | undefined {
  return field !== undefined && UINT_RE.test(field) && Number(field) <= MAX_ID ? Number(field) : undefined;
}

/** Parse one guest line (no newline) for this nonce; undefined if it is not a valid frame. */
export function parseFrame(line: string, nonce: string): AgentFrame | undefined {
  const f = line.split(' ');
  const id = parseUint(f[2]);
  if (f[1] !== nonce || id === undefined) return undefined;
  switch (f[0]) {
    case 'R':
      return f.length === 3 ? { type: 'pong', id } : undefined;
    case 'O': {
      if (f.length !== 5 || (f[3] !== '1' && f[3] !== '2') || f[4] === '-') return undefined;
      const data = decodeField(f[4]);
      return data && { type: 'output', id, stream: f[3] === '1' ? 1 : 2, data };
    }
    case 'E': {
      if (f.length !== 7 || (f[5] !== '0' && f[5] !== '1')) return undefined;
      const exitCode = f[3] === '-' ? null : parseUint(f[3]);
      const signal = f[4] === '-' ? null : /^SIG[A-Z0-9+-]{1,12}$/.test(f[4]) ? f[4] : undefined;
      const durationMs = parseUint(f[6]);
      if (exitCode === undefined || signal === undefined || durationMs === undefined) return undefined;
      if ((exitCode === null) === (signal === null) || (exitCode !== null && exitCode > 255)) return undefined;
      return { type: 'end', id, exitCode, signal, timedOut: f[5] === '1', durationMs };
    }
    case 'F': {
      const message = f.length === 4 ? decodeField(f[3]) : undefined;
      return message && { type: 'failed', id, message: message.toString('utf8') };
    }
    default:
      return undefined;
  }
}

/** Splits the command port's byte stream into frames for one nonce; keeps partial lines across pushes. */
export class FrameDecoder {
  #partial: Buffer[] = [];
  #partialLength = 0;
  #skipping = false;
  #ignored = 0;

  constructor(readonly nonce: string) {
    if (!NONCE_RE.test(nonce)) throw new InternalError(`bad agent nonce ${JSON.stringify(nonce)}`);
  }

  /** Non-empty lines dropped so far: garbage, another nonce, malformed or over-long frames. */
  get ignoredLines(): number {
    return this.#ignored;
  }

  push(chunk: Buffer): AgentFrame[] {
    const frames: AgentFrame[] = [];
    let start = 0;
    for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
      this.#take(chunk.subarray(start, nl));
      start = nl + 1;
      const line = this.#endLine();
      if (line !== undefined) this.#handle(line, frames);
    }
    this.#take(chunk.subarray(start));
    return frames;
  }

  #take(piece: Buffer): void {
    if (piece.length === 0 || this.#skipping) return;
    if (this.#partialLength + piece.length > MAX_FRAME_LINE) {
      this.#skipping = true;
      this.#partial = [];
      this.#partialLength = 0;
      return;
    }
    this.#partial.push(piece);
    this.#partialLength += piece.length;
  }

  /** The finished line, or undefined when it was over-long (counted). */
  #endLine(): string | undefined {
    if (this.#skipping) {
      this.#skipping = false;
      this.#ignored++;
      return undefined;
    }
    const line = Buffer.concat(this.#partial, this.#partialLength).toString('latin1');
    this.#partial = [];
    this.#partialLength = 0;
    return line;
  }

  #handle(raw: string, frames: AgentFrame[]): void {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.length === 0) return;
    const frame = parseFrame(line, this.nonce);
    if (frame) frames.push(frame);
    else this.#ignored++;
  }
}

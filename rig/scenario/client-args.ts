// nlclient's command line from a ClientCall, and its output (exit code, JSON lines, stderr) back to a ClientResult.
import type { ClientCall, ClientFaults, ClientReply, ClientResult } from './client.ts';

/** nlclient's exit codes. */
export const ClientExit = { ok: 0, usage: 2, socket: 3, timeout: 4, kernel: 5 } as const;

/** nlclient's argv for call, without the program name: Buffer messages go as --hex, text after `--`. */
export function clientArgv(call: ClientCall): string[] {
  const argv: string[] = [];
  const num = (flag: string, value: number | undefined): void => {
    if (value !== undefined) argv.push(flag, String(value));
  };
  num('--proto', call.proto);
  num('--type', call.type);
  num('--flags', call.flags);
  num('--seq', call.seq);
  num('--pid', call.pid);
  num('--len', call.len);
  num('--count', call.count);
  num('--timeout-ms', call.timeoutMs);
  if (call.noRecv) argv.push('--no-recv');
  num('--fail-nth', call.failNth);
  if (call.countFaults) argv.push('--count-faults');
  if (Buffer.isBuffer(call.message)) argv.push('--hex', call.message.toString('hex'));
  else if (call.message !== undefined) argv.push('--', call.message);
  return argv;
}

const numberFields = ['seq', 'type', 'flags', 'len', 'pid'] as const;

/** One of nlclient's JSON lines as a ClientReply, or undefined when the line is not one. */
export function parseReplyLine(line: string): ClientReply | undefined {
  const text = line.trim();
  if (!text.startsWith('{')) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const o = value as Record<string, unknown>;
  if (!numberFields.every((k) => typeof o[k] === 'number')) return undefined;
  if (typeof o.payload !== 'string' || typeof o.hex !== 'string') return undefined;
  const reply: ClientReply = {
    seq: o.seq as number,
    type: o.type as number,
    flags: o.flags as number,
    len: o.len as number,
    pid: o.pid as number,
    payload: o.payload,
    hex: o.hex,
    ...(typeof o.error === 'number' ? { error: o.error } : {}),
    ...(typeof o.errno === 'string' ? { errno: o.errno } : {}),
  };
  return reply;
}

/** The errno name in an error line: its first word when that is one (`ETIMEDOUT: ...`), else the first E-word. */
export function errnoOf(line: string): string | undefined {
  const first = /^(E[A-Z0-9_]+)\b/.exec(line);
  if (first) return first[1];
  return /\b(E[A-Z][A-Z0-9_]+)\b/.exec(line)?.[1];
}

/** nlclient's fault-injection lines (--fail-nth, --count-faults). */
const FAULT_LINE = /^nlclient: (?:fault points: (\d+)|fail-nth \d+: (injected|not reached \((\d+) fault points\)))$/;

/** What --fail-nth / --count-faults said on stderr, or undefined. Pure. */
export function parseFaultLine(stderr: string): ClientFaults | undefined {
  for (const line of stderr.split(/\r?\n/)) {
    const m = FAULT_LINE.exec(line.trim());
    if (!m) continue;
    if (m[1] !== undefined) return { injected: false, points: Number(m[1]) };
    if (m[2] === 'injected') return { injected: true };
    return { injected: false, points: Number(m[3]) };
  }
  return undefined;
}

/** The error line: nlclient's (prefix removed), else the first non-empty stderr line (e.g. the shell's). */
function errorLine(stderr: string): string | undefined {
  const lines = stderr.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !FAULT_LINE.test(l));
  const own = lines.find((l) => l.startsWith('nlclient: '));
  if (own) return own.slice('nlclient: '.length);
  return lines[0];
}

/** nlclient's result from its exit code and output; lines that are not replies (console noise) are skipped. */
export function parseClientOutput(exitCode: number, stdout: string, stderr: string): ClientResult {
  const replies = stdout
    .split(/\r?\n/)
    .map(parseReplyLine)
    .filter((r): r is ClientReply => r !== undefined);
  const error = errorLine(stderr);
  const errno = error === undefined ? undefined : errnoOf(error);
  const faults = parseFaultLine(stderr);
  return {
    exitCode,
    replies,
    ...(faults ? { faults } : {}),
    ...(error !== undefined ? { error } : {}),
    ...(errno !== undefined ? { errno } : {}),
  };
}

// Runs a ClientCall on the host through the netlink addon, with exactly nlclient's semantics and output.
import { ClientExit, parseReplyLine } from './client-args.ts';
import { transact, type TransactOptions } from './netlink.ts';
import type { ClientCall, ClientReply, ClientResult } from './client.ts';

/** nlclient's defaults (guest/nlclient.c). */
export const clientDefaults = {
  proto: 30,
  type: 0x10,
  flags: 0x1,
  seq: 1,
  pid: 0,
  count: 1,
  timeoutMs: 2000,
} as const;

/** Largest payload the C library sends (KTNL_MAX_PAYLOAD); nlclient exits 2 above it. */
export const maxClientPayload = 1024 * 1024;

const U16 = 0xffff;
const U32 = 0xffffffff;

/** nlclient's range checks: [field, value, min, max]. */
function usageProblem(call: ClientCall): string | undefined {
  const checks: ReadonlyArray<readonly [string, number | undefined, number, number]> = [
    ['proto', call.proto, 0, 31],
    ['type', call.type, 0, U16],
    ['flags', call.flags, 0, U16],
    ['seq', call.seq, 0, U32],
    ['pid', call.pid, 0, U32],
    ['len', call.len, 0, U32],
    ['count', call.count, 1, 1_000_000],
    ['timeout-ms', call.timeoutMs, 0, 86_400_000],
  ];
  for (const [name, value, min, max] of checks) {
    if (value === undefined) continue;
    if (!Number.isInteger(value) || value < min || value > max) return `bad --${name} '${value}'`;
  }
  if (call.message !== undefined && typeof call.message !== 'string' && !Buffer.isBuffer(call.message)) {
    return 'message must be a string or a Buffer';
  }
  return undefined;
}

/** The addon's options for call, nlclient's defaults filled in. */
export function transactOptions(call: ClientCall): TransactOptions {
  const message = call.message;
  return {
    proto: call.proto ?? clientDefaults.proto,
    type: call.type ?? clientDefaults.type,
    flags: call.flags ?? clientDefaults.flags,
    seq: call.seq ?? clientDefaults.seq,
    pid: call.pid ?? clientDefaults.pid,
    ...(call.len !== undefined ? { len: call.len } : {}),
    ...(message !== undefined ? { payload: Buffer.isBuffer(message) ? message : Buffer.from(message, 'utf8') } : {}),
    count: call.count ?? clientDefaults.count,
    noRecv: call.noRecv ?? false,
    timeoutMs: call.timeoutMs ?? clientDefaults.timeoutMs,
  };
}

/** Performs call from the host (the module must be loaded on the host); resolves like nlclient exits. */
export async function runHostClient(call: ClientCall): Promise<ClientResult> {
  if (call.failNth !== undefined || call.countFaults) {
    const error = 'EINVAL: fault injection (failNth, countFaults) runs in a guest with a fault-injection kernel (--kernel bookworm-6.1-debug), not on the host';
    return { exitCode: ClientExit.usage, replies: [], error, errno: 'EINVAL' };
  }
  const problem = usageProblem(call);
  if (problem !== undefined) {
    return { exitCode: ClientExit.usage, replies: [], error: `EINVAL: ${problem}`, errno: 'EINVAL' };
  }
  const size = call.message === undefined ? 0 : Buffer.byteLength(call.message);
  if (size > maxClientPayload) {
    const error = `EMSGSIZE: payload of ${size} bytes is over ${maxClientPayload}`;
    return { exitCode: ClientExit.usage, replies: [], error, errno: 'EMSGSIZE' };
  }
  const outcome = await transact(transactOptions(call));
  const replies = outcome.lines.map(parseReplyLine).filter((r): r is ClientReply => r !== undefined);
  return {
    exitCode: outcome.status,
    replies,
    ...(outcome.message !== undefined ? { error: outcome.message } : {}),
    ...(outcome.errno !== undefined ? { errno: outcome.errno } : {}),
  };
}

// Which kernel reports stop a scenario early: the guest will not finish it, so waiting out its timeout only wastes time.
import { PATTERNS, type PatternKind } from './patterns.ts';
import { stripTimestamp } from './dmesg.ts';

/**
 * Kinds after which nothing the scenario waits for will come (a CPU or a task is stuck): end the
 * scenario once the report has printed (STOP_SETTLE_MS).
 */
export const STUCK_KINDS: readonly PatternKind[] = ['soft-lockup', 'hard-lockup', 'hung-task', 'rcu-stall', 'workqueue-lockup'];
/**
 * Kinds that kill the task they hit (often the client, in its own system call): the scenario usually
 * goes on by itself; if it has not finished OOPS_GRACE_MS later, it is stuck behind the dead task.
 */
export const OOPS_KINDS: readonly PatternKind[] = ['null-deref', 'page-fault', 'gpf', 'kernel-bug', 'oops', 'unable-to-handle', 'internal-error', 'stack-overflow', 'double-fault', 'list-corruption'];
/** Time for the rest of a report (its stack trace) to reach the console. */
export const STOP_SETTLE_MS = 1500;
export const OOPS_GRACE_MS = 5000;

export interface StopReason {
  readonly kind: PatternKind;
  /** How long to wait before ending the scenario. */
  readonly afterMs: number;
  readonly line: string;
}

/** Does this console line open a report that should end the scenario, and when? First matching row wins, as in the parser. Pure. */
export function stopReason(rawLine: string): StopReason | undefined {
  const line = stripTimestamp(rawLine);
  const p = PATTERNS.find((row) => row.header.test(line) && !row.suppress?.test(line));
  if (!p) return undefined;
  if (STUCK_KINDS.includes(p.kind)) return { kind: p.kind, afterMs: STOP_SETTLE_MS, line };
  if (OOPS_KINDS.includes(p.kind)) return { kind: p.kind, afterMs: OOPS_GRACE_MS, line };
  return undefined;
}

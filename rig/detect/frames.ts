// Repeated stretches of a stack trace (recursion): collapse them for display, and name what recursed. Pure.
import type { StackFrame } from './kernel-report.ts';

/** A stretch of a trace: `frames` once, or a cycle of frames seen `times` times in a row. */
export interface FrameRun {
  readonly frames: readonly StackFrame[];
  readonly times: number;
}

/** Longest cycle looked for ("a <- b <- c <- a <- b <- c ..."). */
export const MAX_CYCLE = 6;

const key = (f: StackFrame): string => `${f.module ?? ''}:${f.symbol}+${f.offset ?? '?'}`;

function repeats(keys: readonly string[], at: number, len: number): number {
  let times = 1;
  for (;;) {
    const next = at + times * len;
    if (next + len > keys.length) return times;
    for (let k = 0; k < len; k++) if (keys[next + k] !== keys[at + k]) return times;
    times++;
  }
}

/**
 * Groups a trace into runs: a cycle of identical frames (same symbol, offset and module) repeated at
 * least `minTimes` times becomes one run; every other frame is a run of its own. Order is kept.
 */
export function collapseFrames(frames: readonly StackFrame[], minTimes = 2): FrameRun[] {
  const keys = frames.map(key);
  const out: FrameRun[] = [];
  let i = 0;
  while (i < frames.length) {
    let best = { len: 1, times: 1 };
    for (let len = 1; len <= MAX_CYCLE && i + 2 * len <= frames.length; len++) {
      const times = repeats(keys, i, len);
      if (times >= minTimes && times * len > best.times * best.len) best = { len, times };
    }
    out.push({ frames: frames.slice(i, i + best.len), times: best.times });
    i += best.len * best.times;
  }
  return out;
}

/** Frames of cycles repeated at least `minTimes` times (the recursion of a stack overflow), in trace order. */
export function recursingFrames(frames: readonly StackFrame[], minTimes = 3): StackFrame[] {
  return collapseFrames(frames, minTimes).filter((r) => r.times >= minTimes).flatMap((r) => r.frames);
}

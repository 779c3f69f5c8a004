// A kernel report as the detectors find it on the console or in dmesg, with its stack frames.
import type { CrashKind } from './patterns.ts';

/** A kernel report found on the console or in dmesg. */
export interface KernelReport {
  /** Row of the detector table (patterns.ts) that matched: oops, bug, warning, panic, kasan, soft-lockup, ... */
  readonly kind: CrashKind;
  /** Stable title: type plus first non-generic frame, numbers normalised. */
  readonly title: string;
  readonly frames: readonly StackFrame[];
  /** Frames inside the module under test. */
  readonly moduleFrames: readonly StackFrame[];
  /** Taint flags printed with the report (e.g. "G           OE"). */
  readonly taint?: string;
  /** Marks the kernel stopped (panic): nothing more will come from the guest. */
  readonly fatal: boolean;
  readonly raw: string;
}

export interface StackFrame {
  readonly symbol: string;
  readonly offset?: number;
  readonly size?: number;
  readonly module?: string;
  /** The frame is a program counter (a RIP/pc line: the interrupted instruction), not a return address. */
  readonly pc?: boolean;
  /** Filled by the symboliser for module frames: the module's own line (for inlined code, where it was inlined). */
  readonly file?: string;
  readonly line?: number;
  /** Kernel code (headers) inlined at that line, innermost first. */
  readonly inlined?: readonly InlinedCall[];
}

/** A function inlined into a module frame ("nlmsg_new at include/net/netlink.h:1003"). */
export interface InlinedCall {
  readonly function: string;
  readonly file: string;
  readonly line: number;
}

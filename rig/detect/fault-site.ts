// Where an injected fault struck: the kernel's "FAULT_INJECTION: forcing a failure." notice and the
// stack it dumps (failslab and fail_page_alloc with verbose=2), read for the module's own frame.
import type { StackFrame } from './kernel-report.ts';
import { parseFrame } from './parse.ts';
import { stripTimestamp } from './dmesg.ts';

/** One injected failure, as the kernel printed it. */
export interface InjectedFault {
  /** The fault attribute that failed the call: failslab, fail_page_alloc, ... */
  readonly attr: string;
  /** The dumped stack, innermost first (unreliable "? " frames left out). */
  readonly frames: readonly StackFrame[];
}

const NOTICE = /^FAULT_INJECTION: forcing a failure\.$/;
const NAME = /^name (\S+), interval/;
const TRACE_MARK = /^<\/?(?:TASK|IRQ|NMI|SOFTIRQ)>$/;
/** Lines dump_stack prints before the frames. */
const PREAMBLE = /^(?:CPU: \d+ PID: |Hardware name: |Call Trace:)/;

/** Every injected failure in a kernel log, in order. Pure. */
export function injectedFaults(text: string): InjectedFault[] {
  const lines = text.split(/\r?\n/).map((l) => stripTimestamp(l).trim());
  const out: InjectedFault[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!NOTICE.test(lines[i])) continue;
    let attr = 'unknown';
    const frames: StackFrame[] = [];
    let j = i + 1;
    const name = NAME.exec(lines[j] ?? '');
    if (name) {
      attr = name[1];
      j++;
    }
    for (let seen = false; j < lines.length; j++) {
      const line = lines[j];
      if (PREAMBLE.test(line) || TRACE_MARK.test(line) || /^\?\s/.test(line)) continue;
      const frame = parseFrame(line);
      if (!frame) {
        if (seen) break;
        if (j - i > 8) break;
        continue;
      }
      seen = true;
      frames.push(frame);
    }
    out.push({ attr, frames });
    i = j - 1;
  }
  return out;
}

/** The module's innermost frame of a dumped stack (the allocation site in its code), if any. Pure. */
export function moduleFrameOf(fault: InjectedFault, module: string): StackFrame | undefined {
  const key = module.replace(/-/g, '_');
  return fault.frames.find((f) => f.module !== undefined && f.module.replace(/-/g, '_') === key);
}

// Finds kernel reports (oops, WARNING, panic, KASAN, lockups, ...) in console or dmesg text. Pure.
import type { KernelReport, StackFrame } from './kernel-report.ts';
import { PATTERNS, GENERIC_FRAMES, type PatternKind, type ReportPattern } from './patterns.ts';
import { stripTimestamp } from './dmesg.ts';
import { recursingFrames } from './frames.ts';

export { parseDmesg, stripTimestamp, type DmesgLine } from './dmesg.ts';
export { taintFlags, unexpectedTaint } from './taint.ts';

export interface FindOptions {
  /**
   * Module(s) under test ('-' and '_' are the same). Without it, moduleFrames are the frames of any
   * out-of-tree module ("(O)" in "Modules linked in:"), or of any module if that line is missing.
   */
  readonly module?: string | readonly string[];
}

/** Most lines of a report kept in `raw`, and the most lines a report can span without an end marker. */
export const MAX_REPORT_LINES = 300;
/** Longest line kept in `raw` (longer ones are cut, marked with an ellipsis). */
export const MAX_LINE_CHARS = 512;

interface Builder {
  readonly row: ReportPattern<PatternKind>;
  readonly match: RegExpMatchArray;
  readonly lines: string[];
  readonly start: number;
  last: number;
  closed: boolean;
  fatal: boolean;
  /** First stack trace: not seen, inside, done. */
  trace: 'none' | 'in' | 'done';
  /** Inside a <TASK>/<IRQ> block of the first trace. */
  depth: number;
}

/** "sym+0x1a/0x30 [mod]", optionally "[<addr>] " first and "(T)", a source location or "[inline]" after. */
const FRAME =
  /^(?:\[<[0-9a-f]+>\]\s*)?(\?\s+)?([A-Za-z_.$][\w.$]*)\+0x([0-9a-f]+)\/0x([0-9a-f]+)(?:\s+\[([\w-]+)(?:\s+[0-9a-f]+)?\])?(?:\s+\([A-Z]\))?(?:\s+\(?[^\s()]+:\d+(?::\d+)?\)?)?(?:\s+\[inline\])?\s*$/;
/** Symbolised inline frame (decode_stacktrace.sh, syzkaller): part of a trace, no frame of its own. */
const INLINE = /^[A-Za-z_.$][\w.$]*\s+\S+:\d+(?::\d+)?\s+\[inline\]$/;
const PC_LINE = /^(?:RIP: [0-9a-f]{4}:|pc : |PC is at |epc : )([A-Za-z_.$][\w.$]*)\+0x([0-9a-f]+)\/0x([0-9a-f]+)(?:\s+\[([\w-]+)(?:\s+[0-9a-f]+)?\])?/;
const TRACE_START = /^Call [Tt]race:/;
const TRACE_MARK = /^<\/?(?:TASK|IRQ|NMI|SOFTIRQ|#\w+|EOE|EOI)>$/;
/** An unreliable frame the kernel could not name ("? 0xffffffffc0007000", e.g. 5.10 in a module's init): part of a trace. */
const UNNAMED = /^\?\s+0x[0-9a-f]+$/;
const DEFAULT_END = /^---\[ end (?:trace|Kernel panic)/;
const MODULES = /^Modules linked in:(.*)$/;
const TAINT = /\bTainted: ([A-Z][A-Z ]*?)\s*(?:\)|\s\d|\s\S+ #|$)/;

/** Parses one stack frame line ("sym+0x1a/0x30 [mod]"); unreliable "? sym" frames give null. */
export function parseFrame(line: string): StackFrame | null {
  const m = line.trim().match(FRAME);
  if (!m || m[1]) return null;
  return frameOf(m[2], m[3], m[4], m[5]);
}

function frameOf(symbol: string, off: string, size: string, mod: string | undefined): StackFrame {
  const frame: StackFrame = { symbol, offset: parseInt(off, 16), size: parseInt(size, 16) };
  return mod ? { ...frame, module: mod } : frame;
}

/** Symbol without compiler suffixes (.cold, .isra.0, .constprop.0, .part.0, .llvm.123). */
export function normaliseSymbol(symbol: string): string {
  return symbol.replace(/\.(?:cold|isra|constprop|part|llvm|lto_priv|localalias)(?:\.\d+)?/g, '');
}

const modKey = (name: string): string => name.replace(/-/g, '_');

function matchRow(line: string): { row: ReportPattern<PatternKind>; match: RegExpMatchArray } | null {
  for (const row of PATTERNS) {
    const match = line.match(row.header);
    if (match && !(row.suppress && row.suppress.test(line))) return { row, match };
  }
  return null;
}

function canAttach(row: ReportPattern<PatternKind>, cur: Builder | undefined, index: number): cur is Builder {
  if (!cur || cur.closed || !row.attachTo) return false;
  if (index - cur.start > (row.attachWithin ?? 10)) return false;
  return row.attachTo === 'any' || row.attachTo.includes(cur.row.kind);
}

function isConsequence(row: ReportPattern<PatternKind>, match: RegExpMatchArray, last: Builder | undefined, index: number): last is Builder {
  return !!last && !!row.consequenceOf && row.consequenceOf.test(match[1] ?? '') && index - last.last <= 200;
}

/** Advances the first-trace state of a report by one line; returns true when an endAfterTrace report ends. */
function stepTrace(b: Builder, line: string): boolean {
  const t = line.trim();
  if (b.trace === 'none') {
    if ((b.row.traceStart ?? TRACE_START).test(t)) b.trace = 'in';
    return false;
  }
  if (b.trace !== 'in') return false;
  if (TRACE_MARK.test(t)) {
    b.depth += t.startsWith('</') ? -1 : 1;
    return false;
  }
  if (FRAME.test(t) || INLINE.test(t) || UNNAMED.test(t) || b.depth > 0) return false;
  b.trace = 'done';
  return !!b.row.endAfterTrace;
}

/** Finds every kernel report in console/dmesg text: one record per occurrence, in order. */
export function findReports(text: string, opts: FindOptions = {}): KernelReport[] {
  // kmemleak.verbose=1 prints its leak reports to the console behind its pr_fmt prefix.
  const lines = text.split(/\r?\n/).map((l) => stripTimestamp(l.replace(/\r/g, '')).replace(/^kmemleak: (?=unreferenced object|  )/, ''));
  const builders: Builder[] = [];
  let cur: Builder | undefined;
  lines.forEach((line, index) => {
    const hit = matchRow(line.trim());
    const last = builders[builders.length - 1];
    if (hit && canAttach(hit.row, cur, index)) {
      hit.row.fatal && (cur.fatal = true);
    } else if (hit && isConsequence(hit.row, hit.match, last, index)) {
      cur = last;
      cur.closed = false;
      cur.fatal ||= hit.row.fatal;
    } else if (hit) {
      if (cur) cur.closed = true;
      cur = { row: hit.row, match: hit.match, lines: [], start: index, last: index, closed: false, fatal: hit.row.fatal, trace: 'none', depth: 0 };
      builders.push(cur);
    }
    if (!cur || cur.closed) return;
    if (stepTrace(cur, line)) {
      cur.closed = true;
      return;
    }
    if (cur.lines.length < MAX_REPORT_LINES) cur.lines.push(line.length > MAX_LINE_CHARS ? `${line.slice(0, MAX_LINE_CHARS)}…` : line);
    cur.last = index;
    const isHeader = index === cur.start;
    if ((!isHeader && (cur.row.end ?? DEFAULT_END).test(line.trim())) || index - cur.start >= MAX_REPORT_LINES) cur.closed = true;
  });
  return builders.map((b) => finish(b, opts));
}

/** Frames of a report: the faulting PC/RIP, then the first stack trace (unreliable frames dropped). */
function framesOf(b: Builder): StackFrame[] {
  const frames: StackFrame[] = [];
  let state: 'none' | 'in' | 'done' = 'none';
  let depth = 0;
  let pc: StackFrame | undefined;
  for (const raw of b.lines) {
    const t = raw.trim();
    const pcm = !pc && state !== 'in' ? t.match(PC_LINE) : null;
    if (pcm) pc = { ...frameOf(pcm[1], pcm[2], pcm[3], pcm[4]), pc: true };
    if (state === 'none') {
      if ((b.row.traceStart ?? TRACE_START).test(t)) state = 'in';
      continue;
    }
    if (state === 'done') continue;
    if (TRACE_MARK.test(t)) {
      depth += t.startsWith('</') ? -1 : 1;
      continue;
    }
    // Registers printed inside a trace (x86_64, at an interrupt's entry): the interrupted code's
    // RIP is a frame as reliable as any, often the only reliable one of the interrupted function
    // (an RCU stall's stack of a task interrupted in a module).
    const inner = t.match(PC_LINE);
    if (inner) {
      frames.push({ ...frameOf(inner[1], inner[2], inner[3], inner[4]), pc: true });
      continue;
    }
    const m = t.match(FRAME);
    if (m) {
      if (!m[1]) frames.push(frameOf(m[2], m[3], m[4], m[5]));
    } else if (depth <= 0 && !INLINE.test(t) && !UNNAMED.test(t)) state = 'done';
  }
  if (pc && !(frames[0] && frames[0].symbol === pc.symbol && frames[0].offset === pc.offset)) frames.unshift(pc);
  return frames;
}

/** Out-of-tree modules named in "Modules linked in:" (flags containing O), or null without that line. */
function outOfTreeModules(lines: readonly string[]): Set<string> | null {
  const line = lines.map((l) => l.trim().match(MODULES)).find((m) => m);
  if (!line) return null;
  const mods = [...line[1].matchAll(/([\w-]+)\(([A-Z-]+)\)/g)].filter((m) => m[2].includes('O')).map((m) => modKey(m[1]));
  return new Set(mods);
}

function isModuleFrame(frame: StackFrame, wanted: Set<string> | null): boolean {
  if (!frame.module) return false;
  return wanted === null || wanted.has(modKey(frame.module));
}

function titleFrame(b: Builder, frames: readonly StackFrame[], wanted: Set<string> | null): string | undefined {
  const generic = (s: string): boolean => GENERIC_FRAMES.test(s) || !!(b.row.skip && b.row.skip.test(s));
  if (b.row.titleFromRecursion) {
    const cycle = recursingFrames(frames);
    const inCycle = new Set(cycle.map((f) => normaliseSymbol(f.symbol)));
    // The first frame (innermost) of a function that recursed; the module's own before the kernel's.
    const rec = frames.filter((f) => inCycle.has(normaliseSymbol(f.symbol)) && !generic(normaliseSymbol(f.symbol)));
    const pick = rec.find((f) => isModuleFrame(f, wanted)) ?? rec[0];
    if (pick) return normaliseSymbol(pick.symbol);
  }
  const fromHeader = b.row.headerFrame?.(b.match);
  const candidates = [...(fromHeader ? [fromHeader] : []), ...frames.map((f) => f.symbol)].map(normaliseSymbol);
  return candidates.find((s) => !generic(s));
}

function finish(b: Builder, opts: FindOptions): KernelReport {
  const frames = framesOf(b);
  const wanted = opts.module === undefined ? outOfTreeModules(b.lines) : new Set([opts.module].flat().map(modKey));
  const where = titleFrame(b, frames, wanted);
  const base = b.row.title({ match: b.match, lines: b.lines });
  const taint = b.lines.map((l) => l.match(TAINT)).find((m) => m)?.[1]?.trimEnd();
  const report: KernelReport = {
    kind: b.row.kind,
    title: where ? `${base} in ${where}` : base,
    frames,
    moduleFrames: frames.filter((f) => isModuleFrame(f, wanted)),
    fatal: b.fatal,
    raw: b.lines.join('\n'),
  };
  return taint ? { ...report, taint } : report;
}

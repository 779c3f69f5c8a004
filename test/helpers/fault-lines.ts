// Reads the statements a fixture marks with `/* @fault NAME */`: the file, line and function a report of that fault must point at.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** One marked statement: where the fault named `name` happens. */
export interface FaultLine {
  readonly name: string;
  /** Relative to the fixture directory (as the symboliser prints module frames). */
  readonly file: string;
  readonly line: number;
  /** The C function the statement is in. */
  readonly function: string;
  /** The statement itself, trimmed, without the marker. */
  readonly text: string;
}

const MARK = /\/\*\s*@fault\s+([\w.-]+)\s*\*\//;
/** A function definition's first line in kernel style: at column 0, a name followed by `(`, no `;`. */
const DEFINITION = /^[A-Za-z_][\w\s*]*?\b([A-Za-z_]\w*)\s*\([^;]*$/;

/** Every marked statement of the C files directly in `dir`, by fault name. Throws on a duplicate name. */
export function faultLines(dir: string): Map<string, FaultLine> {
  const found = new Map<string, FaultLine>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.c')).sort()) {
    const lines = readFileSync(join(dir, file), 'utf8').split('\n');
    let fn = '';
    lines.forEach((text, i) => {
      const def = DEFINITION.exec(text);
      if (def && !/^(?:if|for|while|switch|return)$/.test(def[1]!)) fn = def[1]!;
      const mark = MARK.exec(text);
      if (!mark) return;
      const name = mark[1]!;
      const prior = found.get(name);
      if (prior) throw new Error(`${join(dir, file)}:${i + 1}: fault ${name} is already marked at ${prior.file}:${prior.line}`);
      if (!fn) throw new Error(`${join(dir, file)}:${i + 1}: @fault ${name} outside a function`);
      found.set(name, { name, file, line: i + 1, function: fn, text: text.replace(MARK, '').trim() });
    });
  }
  return found;
}

/** The marked statement of one fault; throws, naming the fixture, when it is not marked. */
export function faultLine(dir: string, name: string): FaultLine {
  const line = faultLines(dir).get(name);
  if (!line) throw new Error(`${dir}: no statement is marked /* @fault ${name} */`);
  return line;
}

/** A report as the rig returns it (JSON or in-process), reduced to what the check reads. */
export interface ReportLike {
  readonly kind: string;
  readonly title: string;
  readonly moduleFrames: readonly { readonly symbol?: string; readonly file?: string; readonly line?: number }[];
}

/** What a fault must produce: the first report's kind and exact title. */
export interface FaultCheck {
  readonly kind: string;
  readonly title: string;
  /** Another exact title that is as right: a different kernel check may find the fault first (a race). */
  readonly orTitle?: string;
}

/**
 * The problems with a scenario's reports for the marked fault (empty when right): the first report
 * is of exactly the expected kind, has exactly the expected title (which names the marked function
 * when it names one), and its innermost module frame in the module's own source (a file of the
 * fixture directory, named without a directory; kernel headers resolve to paths with one) is the
 * marked statement's file:line (`reportedAt`: the
 * statement where the kernel finds the fault, when that is not the fault itself; null when the
 * kernel reports it with no module frame at all).
 */
export function faultReportProblems(reports: readonly ReportLike[], mark: FaultLine, expected: FaultCheck, reportedAt: FaultLine | null = mark): string[] {
  const problems: string[] = [];
  const first = reports[0];
  if (!first) return [`no report (expected ${expected.kind} "${expected.title}")`];
  if (first.kind !== expected.kind) problems.push(`kind ${first.kind}, expected ${expected.kind} (all: ${reports.map((r) => r.kind).join(', ')})`);
  if (first.title !== expected.title && first.title !== expected.orTitle) problems.push(`title "${first.title}", expected "${expected.title}"${expected.orTitle ? ` or "${expected.orTitle}"` : ''}`);
  if (reportedAt === null) {
    // Found away from the fault (e.g. by slab validation): no module frame may claim a line.
    if (first.moduleFrames.length > 0) problems.push(`expected no module frame, got ${first.moduleFrames.map((f) => `${f.symbol} ${f.file}:${f.line}`).join(', ')}`);
    return problems;
  }
  if (/ in \w+$/.test(expected.title) && !expected.title.endsWith(` in ${mark.function}`)) problems.push(`expected title names ${expected.title.split(' in ').pop()}, but @fault ${mark.name} is in ${mark.function}`);
  // The innermost module frame in the fixture's own source (frames before it may be kernel-header
  // helpers the compiler kept out of line in the module, such as __list_add in include/linux/list.h).
  const top = first.moduleFrames.find((f) => f.file === undefined || !f.file.includes('/'));
  const where = top ? `${top.symbol ?? '?'} ${top.file ?? '?'}:${top.line ?? '?'}` : 'no module frame';
  if (top?.file !== reportedAt.file || top.line !== reportedAt.line) problems.push(`innermost module frame is ${where}, expected ${reportedAt.file}:${reportedAt.line} (${reportedAt.text})`);
  return problems;
}

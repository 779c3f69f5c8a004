// Shared renderings of a failure for every report format: frames with file:line, bounded console tail.
import { collapseFrames } from '../detect/frames.ts';
import type { KernelReport, StackFrame } from '../detect/kernel-report.ts';
import type { ScenarioFailure } from './results.ts';

/** Most console lines and characters a report keeps. */
export const CONSOLE_TAIL_LINES = 40;
export const CONSOLE_TAIL_CHARS = 4000;

/** Control characters XML and YAML cannot carry (tab and newline are kept). */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Removes control characters, ANSI escapes and carriage returns. */
export function cleanText(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r\n?/g, '\n').replace(CONTROL, '');
}

/** The last lines of the console, bounded in lines and characters. */
export function consoleTail(text: string, lines = CONSOLE_TAIL_LINES, chars = CONSOLE_TAIL_CHARS): string {
  const all = cleanText(text).replace(/\n+$/, '').split('\n');
  let tail = all.slice(-lines).join('\n');
  if (tail.length > chars) tail = tail.slice(tail.length - chars).replace(/^[^\n]*\n/, '');
  return tail;
}

/** "ktest.c:46; inlined nlmsg_new at include/net/netlink.h:1003", or '' without a location. */
function location(f: StackFrame): string {
  if (!f.file) return '';
  const inl = (f.inlined ?? []).map((c) => `; inlined ${c.function} at ${c.file}:${c.line}`).join('');
  return `${f.file}${f.line !== undefined ? `:${f.line}` : ''}${inl}`;
}

/** "crasher_null+0x5/0x10 [ktest] (crasher.c:12)". */
export function formatFrame(f: StackFrame): string {
  const off = f.offset !== undefined ? `+0x${f.offset.toString(16)}${f.size !== undefined ? `/0x${f.size.toString(16)}` : ''}` : '';
  const mod = f.module ? ` [${f.module}]` : '';
  const where = location(f);
  return `${f.symbol}${off}${mod}${where ? ` (${where})` : ''}`;
}

/**
 * Frames one per line ("at ..."), a recursion's cycle once with its count:
 * "at nl_data_ready (ktest.c:83) <- sendnlmsg (ktest.c:67), repeated 29 times".
 */
export function formatFrames(frames: readonly StackFrame[], indent = '  '): string[] {
  return collapseFrames(frames).map((run) => {
    if (run.times === 1) return `${indent}at ${formatFrame(run.frames[0]!)}`;
    const cycle = run.frames.map((f) => `${f.symbol}${location(f) ? ` (${location(f)})` : ''}`).join(' <- ');
    return `${indent}at ${cycle}, repeated ${run.times} times`;
  });
}

/** Titles of the kernel reports attached to a failure, de-duplicated in order. */
export function reportTitles(failure: ScenarioFailure | undefined): string[] {
  return [...new Set((failure?.reports ?? []).map((r) => r.title))];
}

/** Plain-text details of a failure (JUnit body, terminal): message, reports with module frames, console tail. */
export function failureText(failure: ScenarioFailure): string {
  const parts = [`${failure.kind}: ${cleanText(failure.message)}`];
  for (const r of failure.reports ?? []) parts.push(reportText(r));
  if (failure.consoleTail) parts.push(`console (last lines):\n${consoleTail(failure.consoleTail)}`);
  return parts.join('\n\n');
}

function reportText(r: KernelReport): string {
  const head = `kernel report: ${r.title} [${r.kind}${r.fatal ? ', fatal' : ''}${r.taint ? `, taint ${r.taint.replace(/\s+/g, '')}` : ''}]`;
  return [head, ...formatFrames(r.moduleFrames)].join('\n');
}

/** What `exec` prints after a kernel report: each report's title and module frames, and where the full log is. */
export function reportsSummary(reports: readonly KernelReport[], logFile: string | undefined): string {
  const parts = reports.map((r, i) => `${reports.length > 1 ? `${i + 1}. ` : ''}${reportText(r)}`);
  if (logFile) parts.push(`full console log: ${logFile}`);
  return `${parts.join('\n')}\n`;
}

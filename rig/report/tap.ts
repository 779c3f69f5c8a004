// TAP 14 for runs: one test point per scenario with a YAML block on failure, subtests per image. Pure.
import type { AllowedReportMatch } from '../detect/allowed.ts';
import type { ImageError, RunSummary, ScenarioFailure, ScenarioResult } from './results.ts';
import { cleanText, consoleTail, formatFrame } from './details.ts';

export const TAP_HEADER = 'TAP version 14';

/** Test point description: TAP reserves '#' (directives) and needs one line. */
function description(name: string): string {
  return cleanText(name).replace(/\n/g, ' ').replace(/\\/g, '\\\\').replace(/#/g, '\\#');
}

/** A YAML scalar: a JSON string is a valid YAML double-quoted scalar. */
const scalar = (s: string): string => JSON.stringify(cleanText(s));

/** YAML block scalar (|-) for multi-line text, indented under its key. */
function block(text: string, indent: string): string {
  const lines = cleanText(text).split('\n');
  // An explicit indentation indicator when the first line starts with blanks (a trace line, " </TASK>").
  const head = /^\s/.test(lines[0] ?? '') ? '|2-' : '|-';
  return `${head}\n${lines.map((l) => `${indent}  ${l}`.trimEnd()).join('\n')}`;
}

/** The YAML diagnostic lines of a failure (between "  ---" and "  ..."), unindented. */
export function failureYaml(failure: ScenarioFailure, durationMs?: number): string[] {
  const y = [`message: ${scalar(failure.message)}`, `kind: ${failure.kind}`];
  // TAP 14's conventional assertion keys (node-tap and tap-parser read found/wanted/at).
  if (failure.found !== undefined) y.push(`found: ${scalar(failure.found)}`);
  if (failure.wanted !== undefined) y.push(`wanted: ${scalar(failure.wanted)}`);
  if (failure.at !== undefined) y.push(`at: ${scalar(failure.at)}`);
  if (durationMs !== undefined) y.push(`duration_ms: ${Math.round(durationMs)}`);
  const reports = failure.reports ?? [];
  if (reports.length > 0) {
    y.push('reports:');
    for (const r of reports) {
      y.push(`  - title: ${scalar(r.title)}`, `    kind: ${r.kind}`, `    fatal: ${r.fatal}`);
      if (r.taint) y.push(`    taint: ${scalar(r.taint)}`);
      if (r.moduleFrames.length > 0) {
        y.push('    module_frames:');
        for (const f of r.moduleFrames) y.push(`      - ${scalar(formatFrame(f))}`);
      }
    }
  }
  if (failure.consoleTail) y.push(`console: ${block(consoleTail(failure.consoleTail), '')}`);
  return y.flatMap((l) => l.split('\n'));
}

const pad = (lines: string[], indent: number): string[] => lines.map((l) => (l === '' ? l : ' '.repeat(indent) + l));

/** node-tap's duration comment ("# time=12.345ms"), which tap-parser reads into the point's time. */
const time = (ms: number): string => ` # time=${ms.toFixed(3).replace(/\.?0+$/, '')}ms`;

/** YAML lines of the kernel reports the project file allowed (a passing test point carries them too). */
export function allowedYaml(allowed: readonly AllowedReportMatch[]): string[] {
  if (allowed.length === 0) return [];
  return ['allowed_reports:', ...allowed.flatMap((a) => [`  - title: ${scalar(a.title)}`, `    kind: ${a.kind}`, `    pattern: ${scalar(a.pattern)}`, `    reason: ${scalar(a.reason)}`])];
}

/** YAML lines of a fault-injection sweep (--fault-inject): what it covered, and the site that failed. */
export function faultYaml(result: ScenarioResult): string[] {
  const f = result.faultInjection;
  const site = result.failure?.injected;
  const lines = f ? ['fault_injection:', `  points: ${f.points}`, `  injected: ${f.injected}`, `  reached: ${f.reached}`, `  failed: ${f.failed}`, `  bound: ${f.bound}`] : [];
  if (site) lines.push('injected_fault:', `  call: ${site.call + 1}`, `  nth: ${site.nth}`, ...(site.attr ? [`  attr: ${site.attr}`] : []), ...(site.function ? [`  function: ${site.function}`] : []), ...(site.at ? [`  at: ${scalar(site.at)}`] : []));
  return lines;
}

/** One test point, with its YAML block when it failed or had allowed reports; `indent` is 4 per subtest level. */
export function tapResult(n: number, result: ScenarioResult, indent = 0): string {
  const ok = result.status === 'fail' ? 'not ok' : 'ok';
  const directive = result.status === 'skip' ? ` # SKIP${result.failure ? ` ${description(result.failure.message)}` : ''}` : time(result.durationMs);
  const lines = [`${ok} ${n} - ${description(result.name)}${directive}`];
  const allowed = [...allowedYaml(result.allowed ?? []), ...faultYaml(result)];
  if (result.status === 'fail' && result.failure) {
    lines.push('  ---', ...[...failureYaml(result.failure, result.durationMs), ...allowed].map((l) => `  ${l}`), '  ...');
  } else if (allowed.length > 0) {
    lines.push('  ---', ...allowed.map((l) => `  ${l}`), '  ...');
  }
  return pad(lines, indent).join('\n') + '\n';
}

export function tapPlan(count: number, indent = 0): string {
  return `${' '.repeat(indent)}1..${count}\n`;
}

/** The YAML lines of an image that could not run. */
function imageErrorYaml(error: ImageError): string[] {
  const y = [`message: ${scalar(error.message)}`, 'kind: error', `error: ${error.name}`, `exit_code: ${error.exitCode}`];
  if (error.hint) y.push(`hint: ${scalar(error.hint)}`);
  return y;
}

/** Time an image's scenarios took, summed. */
const imageMs = (summary: RunSummary): number => summary.scenarios.reduce((n, r) => n + r.durationMs, 0);

/** An image's results as a TAP 14 subtest ending in its own test point (number n at the parent level). */
export function tapSubtest(n: number, summary: RunSummary): string {
  const name = `${summary.image} (${summary.kernel}, ${summary.arch}, ${summary.accel})`;
  let out = `# Subtest: ${description(name)}\n`;
  summary.scenarios.forEach((r, i) => (out += tapResult(i + 1, r, 4)));
  out += tapPlan(summary.scenarios.length, 4);
  if (summary.error) {
    const yaml = ['  ---', ...imageErrorYaml(summary.error).map((l) => `  ${l}`), '  ...'];
    return `${out}not ok ${n} - ${description(summary.image)}\n${yaml.join('\n')}\n`;
  }
  const ok = summary.failed === 0 ? 'ok' : 'not ok';
  return `${out}${ok} ${n} - ${description(summary.image)}${time(imageMs(summary))}\n`;
}

/** "Bail out!" for a single-image run whose image could not run (the TAP way to say: no results). */
export function tapBailOut(message: string): string {
  return `Bail out! ${cleanText(message).split('\n')[0]}\n`;
}

/** A whole TAP document: one image flat, several images as subtests. */
export function formatTap(runs: readonly RunSummary[]): string {
  let out = `${TAP_HEADER}\n`;
  if (runs.length === 1) {
    const [run] = runs;
    out += `# ${description(`${run.image} (${run.kernel}, ${run.arch}, ${run.accel})`)}\n`;
    run.scenarios.forEach((r, i) => (out += tapResult(i + 1, r)));
    if (run.error) return out + tapBailOut(run.error.message);
    return out + tapPlan(run.scenarios.length);
  }
  runs.forEach((run, i) => (out += tapSubtest(i + 1, run)));
  return out + tapPlan(runs.length);
}

// Allowed kernel reports: which reports the project file allows (they do not fail a scenario), and which patterns never matched. Pure.
import type { KernelReport } from './kernel-report.ts';
import type { CrashKind } from './patterns.ts';

/** A kernel report the module's authors know about: shown as allowed, never failing a scenario. */
export interface AllowedReport {
  /** Report title (as in the results: "WARNING in mydev_reset"): a substring, or a regular expression. */
  readonly title: string | RegExp;
  /** Why it is allowed (a bug link, "fixed in 6.6"): printed with every match. */
  readonly reason: string;
}

/** A kernel report the project file allows: shown in every report format, not failing the scenario. */
export interface AllowedReportMatch {
  readonly title: string;
  readonly kind: CrashKind;
  /** The allowing pattern as written in the project file ("substring" or /regex/). */
  readonly pattern: string;
  readonly reason: string;
}

/** Whether an allowed-report pattern matches a report title. Pure. */
export function allowedMatches(a: AllowedReport, title: string): boolean {
  if (typeof a.title === 'string') return title.includes(a.title);
  a.title.lastIndex = 0;
  return a.title.test(title);
}

/** How an allowed-report pattern is shown: the substring quoted, a regex as written. */
export function patternText(a: AllowedReport): string {
  return typeof a.title === 'string' ? JSON.stringify(a.title) : String(a.title);
}

/** Splits a scenario's reports into the allowed ones (with the pattern and reason) and the rest. */
export function splitAllowed(reports: readonly KernelReport[], allowed: readonly AllowedReport[]): { allowed: AllowedReportMatch[]; reports: KernelReport[] } {
  const out = { allowed: [] as AllowedReportMatch[], reports: [] as KernelReport[] };
  for (const r of reports) {
    const a = allowed.find((x) => allowedMatches(x, r.title));
    if (a) out.allowed.push({ title: r.title, kind: r.kind, pattern: patternText(a), reason: a.reason });
    else out.reports.push(r);
  }
  return out;
}

/** Allowed patterns that matched no report in any scenario of the run (stale entries to remove). */
export function unusedAllowed(
  allowed: readonly AllowedReport[],
  runs: readonly { readonly scenarios: readonly { readonly allowed?: readonly AllowedReportMatch[] }[] }[],
): AllowedReport[] {
  const used = new Set(runs.flatMap((r) => r.scenarios.flatMap((s) => (s.allowed ?? []).map((m) => m.pattern))));
  return allowed.filter((a) => !used.has(patternText(a)));
}

/** One line per allowed report: `allowed kernel report "WARNING in f" (pattern /f/: reason)`. */
export function allowedLine(m: AllowedReportMatch): string {
  return `allowed kernel report "${m.title}" (${m.pattern}: ${m.reason})`;
}

// Allowed kernel reports: which reports the project file allows (they do not fail a scenario), and which patterns never matched. Pure.
import { allowedMatches, patternText, type AllowedReport } from '../project/config.ts';
import type { AllowedReportMatch, KernelReport, RunSummary } from '../core/types.ts';

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
export function unusedAllowed(allowed: readonly AllowedReport[], runs: readonly RunSummary[]): AllowedReport[] {
  const used = new Set(runs.flatMap((r) => r.scenarios.flatMap((s) => (s.allowed ?? []).map((m) => m.pattern))));
  return allowed.filter((a) => !used.has(patternText(a)));
}

/** One line per allowed report: `allowed kernel report "WARNING in f" (pattern /f/: reason)`. */
export function allowedLine(m: AllowedReportMatch): string {
  return `allowed kernel report "${m.title}" (${m.pattern}: ${m.reason})`;
}

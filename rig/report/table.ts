// Kernel-by-scenario summary table: rows are scenarios, columns images, cells ok / FAIL / skip / -.
import type { RunSummary, ScenarioStatus } from '../core/types.ts';

const CELL: Record<ScenarioStatus, string> = { pass: 'ok', fail: 'FAIL', skip: 'skip' };

/** Plain-text table (scenarios in first-seen order, a totals row at the bottom). */
export function summaryTable(runs: readonly RunSummary[]): string {
  const names: string[] = [];
  for (const run of runs) for (const s of run.scenarios) if (!names.includes(s.name)) names.push(s.name);
  const header = ['scenario', ...runs.map((r) => r.image)];
  const rows = names.map((name) => [name, ...runs.map((r) => {
    const s = r.scenarios.find((x) => x.name === name);
    return s ? CELL[s.status] : '-';
  })]);
  const totals = ['passed', ...runs.map((r) => (r.error ? `did not run (exit ${r.error.exitCode})` : `${r.passed}/${r.scenarios.length}`))];
  const all = [header, ...rows, totals];
  const widths = header.map((_, c) => Math.max(...all.map((row) => row[c].length)));
  const line = (row: string[]) => row.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(header), rule, ...rows.map(line), rule, line(totals)].join('\n') + '\n';
}

// Kernel-by-scenario summary table: rows are scenarios, columns images, cells ok / FAIL / skip / -.
import type { RunSummary, ScenarioStatus } from './results.ts';

const CELL: Record<ScenarioStatus, string> = { pass: 'ok', fail: 'FAIL', skip: 'skip' };

/**
 * The kernel-by-scenario grid every summary prints (this table, and the GitHub job summary in
 * report/github.ts): scenario names in first-seen order, and each (image, scenario) cell's status or
 * undefined when that image did not run that scenario. Pure.
 */
export function scenarioGrid(runs: readonly RunSummary[]): { readonly names: string[]; readonly status: (run: RunSummary, name: string) => ScenarioStatus | undefined } {
  const names: string[] = [];
  for (const run of runs) for (const s of run.scenarios) if (!names.includes(s.name)) names.push(s.name);
  return { names, status: (run, name) => run.scenarios.find((x) => x.name === name)?.status };
}

/** Plain-text table (scenarios in first-seen order, a totals row at the bottom). */
export function summaryTable(runs: readonly RunSummary[]): string {
  const grid = scenarioGrid(runs);
  const header = ['scenario', ...runs.map((r) => r.image)];
  const rows = grid.names.map((name) => [name, ...runs.map((r) => {
    const status = grid.status(r, name);
    return status ? CELL[status] : '-';
  })]);
  const totals = ['passed', ...runs.map((r) => (r.error ? `did not run (exit ${r.error.exitCode})` : `${r.passed}/${r.scenarios.length}`))];
  const all = [header, ...rows, totals];
  const widths = header.map((_, c) => Math.max(...all.map((row) => row[c].length)));
  const line = (row: string[]) => row.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(header), rule, ...rows.map(line), rule, line(totals)].join('\n') + '\n';
}

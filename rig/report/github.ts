// GitHub Actions output of a run: the job summary (kernel-by-scenario table, failures, and how to fetch and replay
// each failure's bundle) and ::error annotations at the module's source lines.
import { basename } from 'node:path';
import type { RunSummary, ScenarioFailure, ScenarioResult } from './results.ts';
import { scenarioGrid } from './table.ts';
import { formatCounts } from './coverage.ts';

const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

const CELL: Record<ScenarioResult['status'], string> = { pass: '✅ pass', fail: '❌ FAIL', skip: '⏭️ skip' };

/** Markdown cell text: no pipes or newlines (they would break the table). */
export function escapeCell(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/** Where the workflow uploaded this job's failure bundles: the run and the artifact (its root is the bundles directory). */
export interface BundleArtifact {
  readonly runId: string;
  readonly artifact: string;
}

/**
 * The two commands that fetch a failure's bundle from a workflow run and replay it, or none when the
 * failure has no bundle. The artifact holds the bundles directory's contents, so a bundle lands in
 * DIR/<its directory name>. Pure.
 */
export function replayCommands(failure: ScenarioFailure | undefined, upload: BundleArtifact): string[] {
  if (!failure?.bundle) return [];
  const dir = `ktest-rig-bundles-${upload.runId}`;
  return [`gh run download ${upload.runId} -n ${upload.artifact} -D ${dir}`, `npx ktest-rig replay ${dir}/${basename(failure.bundle)}`];
}

/**
 * A kernel-by-scenario table for $GITHUB_STEP_SUMMARY: one row per scenario, one column per image,
 * then one line per failure with its message, and (when the job uploaded its bundles) the commands that
 * fetch the failure's bundle and replay it.
 */
export function summaryMarkdown(summaries: readonly RunSummary[], bundles?: BundleArtifact, coverageArtifact?: string): string {
  if (summaries.length === 0) return '## ktest-rig\n\nNo runs.\n';
  const runs = [...summaries].sort((a, b) => byText(a.image, b.image));
  const grid = scenarioGrid(runs);
  const scenarios = [...grid.names].sort(byText);
  const passed = runs.reduce((n, run) => n + run.passed, 0);
  const failed = runs.reduce((n, run) => n + run.failed, 0) + runs.filter((run) => run.error).length;
  const lines = [
    '## ktest-rig',
    '',
    `${failed === 0 ? '✅' : '❌'} ${passed} passed, ${failed} failed on ${runs.length} kernel${runs.length === 1 ? '' : 's'}`,
    '',
    `| scenario | ${runs.map((run) => `${escapeCell(run.image)}<br>${escapeCell(run.kernel)} (${run.arch}, ${run.accel})`).join(' | ')} |`,
    `|---|${runs.map(() => '---').join('|')}|`,
  ];
  for (const name of scenarios) {
    const cells = runs.map((run) => {
      const status = grid.status(run, name);
      return status ? CELL[status] : '—';
    });
    lines.push(`| ${escapeCell(name)} | ${cells.join(' | ')} |`);
  }
  const failures = runs.flatMap((run) =>
    run.scenarios.filter((s) => s.status === 'fail').map((s) => ({ run, s })),
  );
  const broken = runs.filter((run) => run.error);
  if (broken.length > 0) {
    lines.push('', '### Images that did not run', '');
    for (const run of broken) lines.push(`- **${escapeCell(run.image)}**: ${escapeCell(firstLine(run.error!.message))} (exit ${run.error!.exitCode})`);
  }
  if (failures.length > 0) {
    lines.push('', '### Failures', '');
    for (const { run, s } of failures) {
      const message = s.failure ? `${s.failure.kind}: ${firstLine(s.failure.message)}` : 'failed';
      lines.push(`- **${escapeCell(run.image)}** \`${s.name.replace(/`/g, "'")}\`: ${escapeCell(message)}`);
      const commands = bundles ? replayCommands(s.failure, bundles) : [];
      if (commands.length > 0) lines.push('  ', '  Reproduce it locally (the bundle holds the module as built, the scenario, the options and the guest at the failure):', '  ```sh', ...commands.map((c) => `  ${c}`), '  ```');
    }
  }
  lines.push(...coverageMarkdown(runs, coverageArtifact));
  return `${lines.join('\n')}\n`;
}

/**
 * --coverage: one row per image and source file (lines, functions, branches), and where the HTML report
 * is (the job's coverage artifact, when the workflow names it). Nothing when no run measured coverage. Pure.
 */
export function coverageMarkdown(runs: readonly RunSummary[], artifact?: string): string[] {
  const measured = runs.filter((run) => run.coverage);
  if (measured.length === 0) return [];
  const lines = ['', '### Coverage', '', '| image | file | lines | functions | branches |', '|---|---|---|---|---|'];
  for (const run of measured) {
    const c = run.coverage!;
    const rows = c.files.length > 1 ? [...c.files, { file: 'total', ...c.total }] : c.files;
    for (const f of rows) lines.push(`| ${escapeCell(run.image)} | ${escapeCell(f.file)} | ${formatCounts(f.lines)} | ${formatCounts(f.functions)} | ${formatCounts(f.branches)} |`);
  }
  const scenarios = measured.reduce((n, run) => n + run.coverage!.scenarios.length, 0);
  lines.push('', `Over ${scenarios} scenario${scenarios === 1 ? '' : 's'}.${artifact ? ` HTML report and lcov tracefiles (the run's and each scenario's): artifact \`${artifact}\`.` : ''}`);
  return lines;
}

function firstLine(text: string): string {
  return text.split(/\r?\n/, 1)[0] ?? '';
}

/** Escape the message part of a workflow command (GitHub: %, CR, LF). */
export function escapeData(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** Escape a property of a workflow command (also `:` and `,`). */
export function escapeProperty(text: string): string {
  return escapeData(text).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

/**
 * Where a failure points in the author's repository: the first module frame whose file lies under `root`
 * (the checkout), relative to it, for an annotation's file= and line= (shown in the pull request's diff). Pure.
 */
export function frameLocation(failure: ScenarioFailure | undefined, root: string | undefined): { file: string; line: number } | undefined {
  if (!root) return undefined;
  const prefix = `${root.replace(/\/+$/, '')}/`;
  for (const r of failure?.reports ?? []) {
    for (const f of r.moduleFrames) {
      if (f.file?.startsWith(prefix) && f.line !== undefined && f.line > 0) return { file: f.file.slice(prefix.length), line: f.line };
    }
  }
  return undefined;
}

/** GitHub `::error` lines, one per failed scenario; with `root`, each carries file= and line= of its module frame. */
export function annotations(summaries: readonly RunSummary[], root?: string): string[] {
  return [...summaries]
    .sort((a, b) => byText(a.image, b.image))
    .flatMap((run) => [
      ...run.scenarios
        .filter((s) => s.status === 'fail')
        .map((s) => {
          const title = escapeProperty(`${run.image} (${run.kernel}): ${s.name}`);
          const reports = s.failure?.reports?.map((r) => r.title) ?? [];
          const body = [s.failure ? `${s.failure.kind}: ${s.failure.message}` : 'failed', ...reports].join('\n');
          const at = frameLocation(s.failure, root);
          const where = at ? `file=${escapeProperty(at.file)},line=${at.line},` : '';
          return `::error ${where}title=${title}::${escapeData(body)}`;
        }),
      ...(run.error ? [`::error title=${escapeProperty(`${run.image} (${run.kernel}) did not run`)}::${escapeData(`${run.error.name}: ${run.error.message}`)}`] : []),
    ]    );
}

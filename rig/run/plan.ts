// The kernel x scenario matrix: stable work items, deterministic shards, GitHub matrix, job summary.
import { UsageError } from '../core/errors.ts';
import type { Arch } from '../platform/arch/index.ts';
import type { ImageSpec } from '../kernels/spec.ts';
import type { RunSummary, ScenarioFailure, ScenarioResult } from '../report/results.ts';
import { scenarioGrid } from '../report/table.ts';

/** One scenario on one image: the unit that shards are made of. */
export interface WorkItem {
  readonly image: string;
  readonly arch: Arch;
  readonly scenario: string;
}

const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Every (image, scenario) pair in a stable order: images by id, scenarios by name, whatever order
 * the caller found them in (directory listings differ between machines).
 */
export function workItems(images: readonly ImageSpec[], scenarioNames: readonly string[]): WorkItem[] {
  const ids = new Set<string>();
  for (const image of images) {
    if (ids.has(image.id)) throw new UsageError(`image ${image.id} is listed twice`);
    ids.add(image.id);
  }
  const scenarios = [...new Set(scenarioNames)].sort(byText);
  return [...images]
    .sort((a, b) => byText(a.id, b.id))
    .flatMap((image) => scenarios.map((scenario) => ({ image: image.id, arch: image.arch, scenario })));
}

/**
 * Shard `index` of `count` (1-based, as in `--shard I/N`): items are dealt round-robin, so every
 * shard gets a share of every image and the shards together hold each item exactly once.
 */
export function shard<T>(items: readonly T[], index: number, count: number): T[] {
  if (!Number.isInteger(count) || count < 1) throw new UsageError(`shard count must be a positive integer, got ${count}`);
  if (!Number.isInteger(index) || index < 1 || index > count) {
    throw new UsageError(`shard index must be between 1 and ${count}, got ${index}`);
  }
  return items.filter((_, k) => k % count === index - 1);
}

/** One entry of the workflow matrix: what a matrix job needs to pick its runner and kernel. */
export interface GithubMatrixEntry {
  readonly image: string;
  readonly arch: Arch;
  readonly suite: string;
  readonly release: string;
  /** `I/N` for `--shard`, when the scenarios of an image are split over several jobs. */
  readonly shard?: string;
}

/**
 * The `strategy.matrix` JSON for a workflow, built from images/ (never copied into YAML by hand):
 * one entry per image, or per image and shard when `shards` > 1.
 */
export function githubMatrix(images: readonly ImageSpec[], shards = 1): { include: GithubMatrixEntry[] } {
  if (!Number.isInteger(shards) || shards < 1) throw new UsageError(`shards must be a positive integer, got ${shards}`);
  return {
    include: [...images]
      .sort((a, b) => byText(a.id, b.id))
      .flatMap((image) => {
        const entry = { image: image.id, arch: image.arch, suite: image.suite, release: image.release };
        if (shards === 1) return [entry];
        return Array.from({ length: shards }, (_, k) => ({ ...entry, shard: `${k + 1}/${shards}` }));
      }),
  };
}

const CELL: Record<ScenarioResult['status'], string> = { pass: '✅ pass', fail: '❌ FAIL', skip: '⏭️ skip' };

/** Markdown cell text: no pipes or newlines (they would break the table). */
export function escapeCell(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/**
 * A kernel-by-scenario table for $GITHUB_STEP_SUMMARY: one row per scenario, one column per image,
 * then one line per failure with its message.
 */
export function summaryMarkdown(summaries: readonly RunSummary[]): string {
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
    }
  }
  return `${lines.join('\n')}\n`;
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

/** `::error title=...::...` lines, one per failed scenario, for the Actions log and the PR checks. */
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

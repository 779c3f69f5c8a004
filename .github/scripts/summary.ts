// Workflow glue: turns the rig's JSON reports into the job summary ($GITHUB_STEP_SUMMARY) and ::error annotations.
// Usage: summary.ts [--root DIR] [--run-id ID --bundles-artifact NAME] [--coverage-artifact NAME] REPORT.json...
//   --root DIR: the module's checkout, so annotations carry file= and line=
//   --run-id, --bundles-artifact: this workflow run and the artifact the job uploads its failure bundles as, so
//   the summary prints for each failure the commands that fetch its bundle and replay it
//   --coverage-artifact: the artifact holding the coverage HTML and tracefiles (--coverage), named under its table
import { appendFileSync, readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { annotations, summaryMarkdown, type BundleArtifact } from '../../rig/report/github.ts';
import type { RunSummary } from '../../rig/report/results.ts';

function isRunSummary(v: unknown): v is RunSummary {
  const o = v as Partial<RunSummary> | null;
  return typeof o === 'object' && o !== null && typeof o.image === 'string' && Array.isArray(o.scenarios);
}

/** The runs in one JSON report (`{schemaVersion, runs: [...]}`; a bare run from rigs before schema 2). Pure. */
export function runsOfReport(text: string): RunSummary[] {
  const data = JSON.parse(text) as unknown;
  if (isRunSummary(data)) return [data];
  const runs = (data as { runs?: unknown } | null)?.runs;
  if (Array.isArray(runs) && runs.every(isRunSummary)) return runs;
  throw new Error('not a ktest-rig JSON report (expected a run, or {runs: [...]})');
}

/** Summary markdown and annotation lines for report files; unreadable reports are listed, not fatal. */
export function summarize(files: readonly string[], read: (file: string) => string = (f) => readFileSync(f, 'utf8'), root?: string, bundles?: BundleArtifact, coverageArtifact?: string): {
  markdown: string;
  annotations: string[];
} {
  const runs: RunSummary[] = [];
  const problems: string[] = [];
  for (const file of files) {
    try {
      runs.push(...runsOfReport(read(file)));
    } catch (error) {
      problems.push(`${file}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
    }
  }
  let markdown = summaryMarkdown(runs, bundles, coverageArtifact);
  if (problems.length > 0 || files.length === 0) {
    const lines = files.length === 0 ? ['no report was written (the rig stopped before running scenarios: see the log)'] : problems;
    markdown += `\n### Missing reports\n\n${lines.map((l) => `- ${l}`).join('\n')}\n`;
  }
  const notes = problems.map((p) => `::warning title=ktest-rig report::${p.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A')}`);
  return { markdown, annotations: [...annotations(runs, root), ...notes] };
}

/** The command line: options first, then the report files. Pure. */
export function parseArgs(args: readonly string[]): { readonly files: string[]; readonly root?: string; readonly bundles?: BundleArtifact; readonly coverageArtifact?: string } {
  const opts: Record<string, string> = {};
  let k = 0;
  while (k < args.length && ['--root', '--run-id', '--bundles-artifact', '--coverage-artifact'].includes(args[k]!)) {
    opts[args[k]!] = args[k + 1] ?? '';
    k += 2;
  }
  const runId = opts['--run-id'];
  const artifact = opts['--bundles-artifact'];
  const coverage = opts['--coverage-artifact'];
  return { files: args.slice(k), ...(opts['--root'] !== undefined && { root: opts['--root'] }), ...(runId && artifact && { bundles: { runId, artifact } }), ...(coverage && { coverageArtifact: coverage }) };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { files, root, bundles, coverageArtifact } = parseArgs(process.argv.slice(2));
  const { markdown, annotations: lines } = summarize(files, undefined, root, bundles, coverageArtifact);
  const target = process.env.GITHUB_STEP_SUMMARY;
  if (target) appendFileSync(target, markdown);
  else process.stdout.write(markdown);
  if (lines.length > 0) process.stdout.write(`${lines.join('\n')}\n`);
}

// Workflow glue: turns the rig's JSON reports into the job summary ($GITHUB_STEP_SUMMARY) and ::error annotations.
// Usage: summary.ts [--root DIR] REPORT.json...  (DIR: the module's checkout, so annotations carry file= and line=)
import { appendFileSync, readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { annotations, summaryMarkdown } from '../../rig/run/plan.ts';
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
export function summarize(files: readonly string[], read: (file: string) => string = (f) => readFileSync(f, 'utf8'), root?: string): {
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
  let markdown = summaryMarkdown(runs);
  if (problems.length > 0 || files.length === 0) {
    const lines = files.length === 0 ? ['no report was written (the rig stopped before running scenarios: see the log)'] : problems;
    markdown += `\n### Missing reports\n\n${lines.map((l) => `- ${l}`).join('\n')}\n`;
  }
  const notes = problems.map((p) => `::warning title=ktest-rig report::${p.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A')}`);
  return { markdown, annotations: [...annotations(runs, root), ...notes] };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const root = args[0] === '--root' ? args[1] : undefined;
  const { markdown, annotations: lines } = summarize(root === undefined ? args : args.slice(2), undefined, root);
  const target = process.env.GITHUB_STEP_SUMMARY;
  if (target) appendFileSync(target, markdown);
  else process.stdout.write(markdown);
  if (lines.length > 0) process.stdout.write(`${lines.join('\n')}\n`);
}

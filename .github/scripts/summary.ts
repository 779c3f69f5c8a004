// Workflow glue: turns the rig's JSON reports into the job summary ($GITHUB_STEP_SUMMARY) and ::error annotations.
import { appendFileSync, readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { annotations, summaryMarkdown } from '../../rig/run/plan.ts';
import type { RunSummary } from '../../rig/core/types.ts';

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
export function summarize(files: readonly string[], read: (file: string) => string = (f) => readFileSync(f, 'utf8')): {
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
  return { markdown, annotations: [...annotations(runs), ...notes] };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { markdown, annotations: lines } = summarize(process.argv.slice(2));
  const target = process.env.GITHUB_STEP_SUMMARY;
  if (target) appendFileSync(target, markdown);
  else process.stdout.write(markdown);
  if (lines.length > 0) process.stdout.write(`${lines.join('\n')}\n`);
}

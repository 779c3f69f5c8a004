// The golden-log format (test/fixtures/logs/*.log): a header of `# key: value` lines, `---`, then the console log.
import { collapseFrames } from '../../rig/detect/frames.ts';
import type { KernelReport } from '../../rig/detect/kernel-report.ts';

/** What the detector must find in a golden log, one entry per report, in order. */
export interface Expected {
  kind: string;
  title: string;
  fatal: boolean;
  moduleFrames: string[];
}

/** Where a log came from: provenance keys of the header (captured by the script, or hand-written and why). */
export const PROVENANCE_KEYS = ['source', 'captured-by', 'image', 'kernel', 'fault', 'why'] as const;
export type ProvenanceKey = (typeof PROVENANCE_KEYS)[number];

export interface Golden {
  /** Header lines that are neither expectations nor provenance (free comments), in order. */
  comments: string[];
  provenance: Partial<Record<ProvenanceKey, string>>;
  module?: string;
  expected: Expected[];
  body: string;
}

const EXPECT_KEYS = ['module', 'kind', 'title', 'fatal', 'module-frames'];

export function parseGolden(text: string, file: string): Golden {
  const sep = text.indexOf('\n---\n');
  if (sep < 0) throw new Error(`${file}: no '---' line ending the header`);
  const golden: Golden = { comments: [], provenance: {}, expected: [], body: text.slice(sep + 5) };
  for (const line of text.slice(0, sep).split('\n')) {
    const m = line.match(/^# ([\w-]+): ?(.*)$/);
    const cur = golden.expected[golden.expected.length - 1];
    if (m && (PROVENANCE_KEYS as readonly string[]).includes(m[1]!)) golden.provenance[m[1] as ProvenanceKey] = m[2]!;
    else if (!m || !EXPECT_KEYS.includes(m[1]!)) golden.comments.push(line);
    else if (m[1] === 'module') golden.module = m[2];
    else if (m[1] === 'kind') golden.expected.push({ kind: m[2]!, title: '', fatal: false, moduleFrames: [] });
    else if (!cur) throw new Error(`${file}: '# ${m[1]}:' before '# kind:'`);
    else if (m[1] === 'title') cur.title = m[2]!;
    else if (m[1] === 'fatal') cur.fatal = m[2] === 'true';
    else cur.moduleFrames = m[2] ? m[2].split(/,\s*/) : [];
  }
  return golden;
}

export const summary = (r: KernelReport): Expected => ({
  kind: r.kind,
  title: r.title,
  fatal: r.fatal,
  // A recursion's cycle once, with its count: "(a <- b) x29".
  moduleFrames: collapseFrames(r.moduleFrames).map((run) =>
    run.times === 1 ? run.frames[0]!.symbol : `(${run.frames.map((f) => f.symbol).join(' <- ')}) x${run.times}`,
  ),
});

/** The header text (without `---`): provenance, comments, module, then one block per report. */
export function renderHeader(g: Pick<Golden, 'comments' | 'provenance' | 'module'>, found: readonly Expected[]): string {
  const head = [
    ...PROVENANCE_KEYS.flatMap((key) => (g.provenance[key] === undefined ? [] : [`# ${key}: ${g.provenance[key]}`])),
    ...g.comments,
    ...(g.module ? [`# module: ${g.module}`] : []),
  ];
  for (const e of found) {
    head.push(`# kind: ${e.kind}`, `# title: ${e.title}`, `# fatal: ${e.fatal}`, `# module-frames: ${e.moduleFrames.join(', ')}`);
  }
  return head.join('\n');
}

export function renderGolden(g: Golden, found: readonly Expected[]): string {
  return `${renderHeader(g, found)}\n---\n${g.body}`;
}

/** A line diff (longest common subsequence) of two short texts: `- old`, `+ new` and `  same` lines. */
export function lineDiff(before: string, after: string): string[] {
  const a = before.split('\n');
  const b = after.split('\n');
  const lcs = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  }
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      out.push(`  ${a[i++]}`);
      j++;
    } else if (i < a.length && (j === b.length || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) out.push(`- ${a[i++]}`);
    else out.push(`+ ${b[j++]}`);
  }
  return out;
}

/** Whether the CI environment variable is set (GitHub Actions, .ci/run and most CI systems set CI=true). */
export function inCI(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.CI !== undefined && env.CI !== '' && env.CI !== '0' && env.CI !== 'false';
}

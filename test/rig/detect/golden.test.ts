// Golden tests: every test/fixtures/logs/*.log carries its expected reports in a header; UPDATE_GOLDEN=1 rewrites it.
import t from 'tap';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findReports } from '../../../rig/detect/parse.ts';
import type { KernelReport } from '../../../rig/core/types.ts';

const dir = join(import.meta.dirname, '..', '..', 'fixtures', 'logs');

interface Expected {
  kind: string;
  title: string;
  fatal: boolean;
  moduleFrames: string[];
}

interface Golden {
  comments: string[];
  module?: string;
  expected: Expected[];
  body: string;
}

function parseGolden(text: string, file: string): Golden {
  const sep = text.indexOf('\n---\n');
  if (sep < 0) throw new Error(`${file}: no '---' line ending the header`);
  const golden: Golden = { comments: [], expected: [], body: text.slice(sep + 5) };
  for (const line of text.slice(0, sep).split('\n')) {
    const m = line.match(/^# ([\w-]+): ?(.*)$/);
    const cur = golden.expected[golden.expected.length - 1];
    if (!m || !['module', 'kind', 'title', 'fatal', 'module-frames'].includes(m[1])) golden.comments.push(line);
    else if (m[1] === 'module') golden.module = m[2];
    else if (m[1] === 'kind') golden.expected.push({ kind: m[2], title: '', fatal: false, moduleFrames: [] });
    else if (!cur) throw new Error(`${file}: '# ${m[1]}:' before '# kind:'`);
    else if (m[1] === 'title') cur.title = m[2];
    else if (m[1] === 'fatal') cur.fatal = m[2] === 'true';
    else cur.moduleFrames = m[2] ? m[2].split(/,\s*/) : [];
  }
  return golden;
}

const summary = (r: KernelReport): Expected => ({
  kind: r.kind,
  title: r.title,
  fatal: r.fatal,
  moduleFrames: r.moduleFrames.map((f) => f.symbol),
});

function render(g: Golden, found: Expected[]): string {
  const head = [...g.comments, ...(g.module ? [`# module: ${g.module}`] : [])];
  for (const e of found) {
    head.push(`# kind: ${e.kind}`, `# title: ${e.title}`, `# fatal: ${e.fatal}`, `# module-frames: ${e.moduleFrames.join(', ')}`);
  }
  return `${head.join('\n')}\n---\n${g.body}`;
}

const files = readdirSync(dir).filter((f) => f.endsWith('.log')).sort();
t.ok(files.length >= 20, 'the golden corpus has logs');
for (const file of files) {
  t.test(file, async (t) => {
    const text = readFileSync(join(dir, file), 'utf8');
    const golden = parseGolden(text, file);
    const found = findReports(golden.body, golden.module ? { module: golden.module } : {}).map(summary);
    if (process.env.UPDATE_GOLDEN === '1') writeFileSync(join(dir, file), render(golden, found));
    else t.strictSame(found, golden.expected, 'reports match the header');
    t.match(file, /^[a-z0-9-]+-(?:x86_64|arm64)-\d+\.\d+(?:-[a-z0-9-]+)?\.log$/, 'named <kind>-<arch>-<kernel>[-variant].log');
  });
}

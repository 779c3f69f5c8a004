// JUnit XML: testsuites > testsuite per image > testcase per scenario, <failure> with the details. Pure + atomic write.
import type { RunSummary, ScenarioResult } from '../core/types.ts';
import { cleanText, consoleTail, failureText, reportTitles } from './details.ts';
import { writeFileAtomic } from './write.ts';

/** Escapes text for XML content or attributes; control characters are removed. */
export function xmlEscape(text: string, attribute = false): string {
  const s = cleanText(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return attribute ? s.replace(/"/g, '&quot;').replace(/'/g, '&apos;').replace(/\n/g, '&#10;').replace(/\t/g, '&#9;') : s;
}

const attr = (name: string, value: string | number): string => ` ${name}="${xmlEscape(String(value), true)}"`;
const seconds = (ms: number): string => (ms / 1000).toFixed(3);

function testcase(suite: string, r: ScenarioResult): string {
  const open = `    <testcase${attr('name', r.name)}${attr('classname', suite)}${attr('time', seconds(r.durationMs))}`;
  if (r.status === 'pass') return `${open}/>`;
  if (r.status === 'skip') return `${open}>\n      <skipped${r.failure ? attr('message', r.failure.message) : ''}/>\n    </testcase>`;
  const f = r.failure ?? { message: 'failed', kind: 'error' as const };
  const titles = reportTitles(f);
  const message = titles.length > 0 ? `${f.message} (${titles.join('; ')})` : f.message;
  const lines = [`${open}>`, `      <failure${attr('message', message)}${attr('type', f.kind)}>${xmlEscape(failureText(f))}</failure>`];
  if (f.consoleTail) lines.push(`      <system-out>${xmlEscape(consoleTail(f.consoleTail))}</system-out>`);
  return [...lines, '    </testcase>'].join('\n');
}

function testsuite(s: RunSummary): string {
  const skipped = s.scenarios.filter((r) => r.status === 'skip').length;
  const time = s.scenarios.reduce((n, r) => n + r.durationMs, 0);
  const head = `  <testsuite${attr('name', s.image)}${attr('tests', s.scenarios.length)}${attr('failures', s.failed)}${attr('errors', 0)}${attr('skipped', skipped)}${attr('time', seconds(time))}>`;
  const props = ['    <properties>', ...(['kernel', 'arch', 'accel'] as const).map((k) => `      <property${attr('name', k)}${attr('value', s[k])}/>`), '    </properties>'];
  return [head, ...props, ...s.scenarios.map((r) => testcase(s.image, r)), '  </testsuite>'].join('\n');
}

/** The JUnit XML document for all images of a run. */
export function formatJunit(runs: readonly RunSummary[]): string {
  const tests = runs.reduce((n, r) => n + r.scenarios.length, 0);
  const failures = runs.reduce((n, r) => n + r.failed, 0);
  const skipped = runs.reduce((n, r) => n + r.scenarios.filter((s) => s.status === 'skip').length, 0);
  const time = runs.reduce((n, r) => n + r.scenarios.reduce((m, s) => m + s.durationMs, 0), 0);
  const head = `<testsuites${attr('name', 'ktest-rig')}${attr('tests', tests)}${attr('failures', failures)}${attr('errors', 0)}${attr('skipped', skipped)}${attr('time', seconds(time))}>`;
  return ['<?xml version="1.0" encoding="UTF-8"?>', head, ...runs.map(testsuite), '</testsuites>', ''].join('\n');
}

/** Writes the JUnit report atomically (temp file + rename). */
export async function writeJunitReport(path: string, runs: readonly RunSummary[]): Promise<void> {
  await writeFileAtomic(path, formatJunit(runs));
}

// JUnit XML: testsuites > testsuite per image > testcase per scenario, <failure> with the details. Pure + atomic write.
import type { RunSummary, ScenarioResult } from './results.ts';
import { cleanText, consoleTail, failureText, reportTitles } from './details.ts';
import { writeFileAtomic } from './write.ts';
import { allowedLine } from '../detect/allowed.ts';

/** Escapes text for XML content or attributes; control characters are removed. */
export function xmlEscape(text: string, attribute = false): string {
  const s = cleanText(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return attribute ? s.replace(/"/g, '&quot;').replace(/'/g, '&apos;').replace(/\n/g, '&#10;').replace(/\t/g, '&#9;') : s;
}

const attr = (name: string, value: string | number): string => ` ${name}="${xmlEscape(String(value), true)}"`;
const seconds = (ms: number): string => (ms / 1000).toFixed(3);

/**
 * The classname of an image's test cases. Reporters read a classname as package.Class and split it
 * at its last dot, so "bookworm-6.1" would show as class "1" of package "bookworm-6": dots of the
 * image id become underscores under a "ktest-rig" package. The image id itself is the suite's name.
 */
export function className(image: string): string {
  return `ktest-rig.${image.replace(/\./g, '_')}`;
}

/** Failures of kind 'error' (the rig or the guest infrastructure failed) are JUnit errors, not failures. */
const isError = (r: ScenarioResult): boolean => r.status === 'fail' && r.failure?.kind === 'error';
const isFailure = (r: ScenarioResult): boolean => r.status === 'fail' && !isError(r);

function testcase(classname: string, r: ScenarioResult): string {
  const open = `    <testcase${attr('name', r.name)}${attr('classname', classname)}${attr('time', seconds(r.durationMs))}`;
  // Allowed kernel reports: a line each in the test case's output (the schema has no per-case properties).
  const allowed = (r.allowed ?? []).map(allowedLine).join('\n');
  if (r.status === 'pass' && !allowed) return `${open}/>`;
  if (r.status === 'pass') return [`${open}>`, `      <system-out>${xmlEscape(allowed)}</system-out>`, '    </testcase>'].join('\n');
  if (r.status === 'skip') return `${open}>\n      <skipped${r.failure ? attr('message', r.failure.message) : ''}/>\n    </testcase>`;
  const f = r.failure ?? { message: 'failed', kind: 'error' as const };
  const titles = reportTitles(f);
  const message = titles.length > 0 ? `${f.message} (${titles.join('; ')})` : f.message;
  const element = isError(r) ? 'error' : 'failure';
  const lines = [`${open}>`, `      <${element}${attr('message', message)}${attr('type', f.kind)}>${xmlEscape(failureText(f))}</${element}>`];
  const out = [allowed, f.consoleTail ? consoleTail(f.consoleTail) : ''].filter(Boolean).join('\n\n');
  if (out) lines.push(`      <system-out>${xmlEscape(out)}</system-out>`);
  return [...lines, '    </testcase>'].join('\n');
}

/** Counts for a suite or the whole document. */
function counts(results: readonly ScenarioResult[], imageErrors: number) {
  return {
    tests: results.length + imageErrors,
    failures: results.filter(isFailure).length,
    errors: results.filter(isError).length + imageErrors,
    skipped: results.filter((r) => r.status === 'skip').length,
    ms: results.reduce((n, r) => n + r.durationMs, 0),
  };
}

function testsuite(s: RunSummary, timestamp: string | undefined): string {
  const c = counts(s.scenarios, s.error ? 1 : 0);
  const classname = className(s.image);
  const head = `  <testsuite${attr('name', s.image)}${attr('tests', c.tests)}${attr('failures', c.failures)}${attr('errors', c.errors)}${attr('skipped', c.skipped)}${attr('time', seconds(c.ms))}${timestamp ? attr('timestamp', timestamp) : ''}>`;
  const props = ['    <properties>', ...(['kernel', 'arch', 'accel'] as const).map((k) => `      <property${attr('name', k)}${attr('value', s[k])}/>`), '    </properties>'];
  const cases = s.scenarios.map((r) => testcase(classname, r));
  if (s.error) {
    // An image that could not run is one test case in error, so that CI dashboards show it.
    const e = s.error;
    const text = [`${e.name}: ${e.message}`, ...(e.hint ? [`hint: ${e.hint}`] : []), `exit code ${e.exitCode}`].join('\n');
    cases.push(`    <testcase${attr('name', '(image did not run)')}${attr('classname', classname)}${attr('time', '0.000')}>\n      <error${attr('message', e.message)}${attr('type', e.name)}>${xmlEscape(text)}</error>\n    </testcase>`);
  }
  return [head, ...props, ...cases, '  </testsuite>'].join('\n');
}

export interface JunitOptions {
  /** When the run started (ISO 8601), written on each suite. */
  readonly timestamp?: string;
}

/** The JUnit XML document for all images of a run (junit-10.xsd: testsuites carries no skipped count). */
export function formatJunit(runs: readonly RunSummary[], o: JunitOptions = {}): string {
  const c = counts(runs.flatMap((r) => r.scenarios), runs.filter((r) => r.error).length);
  const head = `<testsuites${attr('name', 'ktest-rig')}${attr('tests', c.tests)}${attr('failures', c.failures)}${attr('errors', c.errors)}${attr('time', seconds(c.ms))}>`;
  return ['<?xml version="1.0" encoding="UTF-8"?>', head, ...runs.map((r) => testsuite(r, o.timestamp)), '</testsuites>', ''].join('\n')
}

/** Writes the JUnit report atomically (temp file + rename). */
export async function writeJunitReport(path: string, runs: readonly RunSummary[], o: JunitOptions = {}): Promise<void> {
  await writeFileAtomic(path, formatJunit(runs, o));
}

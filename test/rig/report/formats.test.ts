// Tests TAP, JSON, JUnit and the summary table on the same sample runs.
import t from 'tap';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { formatTap, tapResult } from '../../../rig/report/tap.ts';
import { formatJson, jsonReport, writeJsonReport, JSON_SCHEMA_VERSION } from '../../../rig/report/json.ts';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { imageErrorSummary } from '../../../rig/run/run.ts';
import { BuildError } from '../../../rig/core/errors.ts';
import { rigVersion } from '../../../rig/core/version.ts';
import { loadImages } from '../../../rig/kernels/images.ts';
import { formatJunit, xmlEscape, writeJunitReport } from '../../../rig/report/junit.ts';
import { summaryTable } from '../../../rig/report/table.ts';
import { consoleTail, cleanText, CONSOLE_TAIL_LINES } from '../../../rig/report/details.ts';
import type { RunSummary, ScenarioResult } from '../../../rig/report/results.ts';

const crash: ScenarioResult = {
  image: 'bookworm-6.1',
  name: 'null deref # crashes',
  status: 'fail',
  durationMs: 1234,
  failure: {
    message: 'kernel reported: BUG <a & "b">',
    kind: 'kernel',
    reports: [
      {
        kind: 'null-deref',
        title: 'BUG: kernel NULL pointer dereference in crasher_null',
        frames: [],
        moduleFrames: [{ symbol: 'crasher_null', offset: 5, size: 16, module: 'ktest', file: 'crasher.c', line: 12 }],
        taint: 'G           OE',
        fatal: false,
        raw: '',
      },
    ],
    consoleTail: ' </TASK>\nline\u0007 with bell\r\n' + Array.from({ length: 100 }, (_, i) => `console ${i}`).join('\n'),
  },
};
const run = (image: string, results: ScenarioResult[]): RunSummary => ({
  image,
  kernel: '6.1.0-50-amd64',
  arch: 'x86_64',
  accel: 'tcg',
  scenarios: results.map((r) => ({ ...r, image })),
  passed: results.filter((r) => r.status === 'pass').length,
  failed: results.filter((r) => r.status === 'fail').length,
});
const ok = (name: string): ScenarioResult => ({ image: 'x', name, status: 'pass', durationMs: 10 });
const skip: ScenarioResult = { image: 'x', name: 'host only', status: 'skip', durationMs: 0, failure: { message: 'needs host', kind: 'error' } };
const assertion: ScenarioResult = {
  image: 'x',
  name: 'echo',
  status: 'fail',
  durationMs: 20,
  failure: { message: 'reply: expected "a", got "b"', kind: 'assertion', found: '"b"', wanted: '"a"', at: 'scenarios/echo.ts:12:9' },
};
const infra: ScenarioResult = { image: 'x', name: 'infra', status: 'fail', durationMs: 5, failure: { message: 'Error: socket closed', kind: 'error' } };
const one = run('bookworm-6.1', [ok('roundtrip'), crash, skip]);
const meta = { version: '9.9.9', startedAt: new Date('2026-12-02T06:00:00.000Z'), finishedAt: new Date('2026-12-02T06:01:00.000Z') };
const spec = loadImages().find((i) => i.id === 'bullseye-5.10')!;
const broken = imageErrorSummary(spec, new BuildError('module ktest did not build for bullseye-5.10', 'ktest.c:3:1: error: expected ;', 'full log', { hint: 'fix the first error' }));
const two = run('trixie-6.12', [ok('roundtrip'), ok('null deref # crashes')]);

/** The YAML block under a "not ok" line, unindented. */
function yamlOf(tap: string, indent = 0): unknown {
  const pad = ' '.repeat(indent + 2);
  const lines = tap.split('\n');
  const start = lines.indexOf(`${pad}---`);
  const end = lines.indexOf(`${pad}...`, start);
  return parseYaml(lines.slice(start + 1, end).map((l) => l.slice(pad.length)).join('\n'));
}

t.test('TAP for one image', async (t) => {
  const tap = formatTap([one]);
  const lines = tap.split('\n');
  t.equal(lines[0], 'TAP version 14');
  t.ok(lines.includes('ok 1 - roundtrip # time=10ms'), 'every test point carries its duration');
  t.ok(lines.includes('not ok 2 - null deref \\# crashes # time=1234ms'), '# escaped in descriptions');
  t.ok(lines.includes('ok 3 - host only # SKIP needs host'));
  t.equal(lines[lines.length - 2], '1..3');
  const y = yamlOf(tap) as Record<string, any>;
  t.equal(y.message, 'kernel reported: BUG <a & "b">');
  t.equal(y.kind, 'kernel');
  t.equal(y.reports[0].title, 'BUG: kernel NULL pointer dereference in crasher_null');
  t.strictSame(y.reports[0].module_frames, ['crasher_null+0x5/0x10 [ktest] (crasher.c:12)']);
  t.equal(y.console.split('\n').length, CONSOLE_TAIL_LINES, 'console tail bounded');
  t.match(y.console, /console 99$/);
  t.notMatch(tap, /\u0007|\r/, 'control characters removed');
});

t.test('YAML console block keeps leading blanks', async (t) => {
  const r: ScenarioResult = { ...crash, failure: { ...crash.failure!, consoleTail: ' </TASK>\nnext' } };
  const y = yamlOf(tapResult(1, r)) as Record<string, any>;
  t.equal(y.console, ' </TASK>\nnext');
});

t.test('TAP for several images: subtests', async (t) => {
  const tap = formatTap([one, two]);
  t.match(tap, /^# Subtest: bookworm-6.1 \(6\.1\.0-50-amd64, x86_64, tcg\)$/m);
  t.match(tap, /^    not ok 2 - null deref/m);
  t.match(tap, /^    1\.\.3$/m);
  t.match(tap, /^not ok 1 - bookworm-6.1 # time=1244ms$/m);
  t.match(tap, /^ok 2 - trixie-6.12 # time=20ms$/m);
  t.match(tap, /\n1\.\.2\n$/);
  const y = yamlOf(tap, 4) as Record<string, any>;
  t.equal(y.kind, 'kernel');
});

t.test('TAP assertion diagnostics: found, wanted, at', async (t) => {
  const y = yamlOf(tapResult(1, assertion)) as Record<string, unknown>;
  t.equal(y.found, '"b"');
  t.equal(y.wanted, '"a"');
  t.equal(y.at, 'scenarios/echo.ts:12:9');
  t.equal(y.duration_ms, 20);
});

t.test('JSON: one shape for one image and for several, versioned and timestamped', async (t) => {
  const single = JSON.parse(formatJson([one], meta));
  t.strictSame(Object.keys(single), ['schemaVersion', 'tool', 'startedAt', 'finishedAt', 'interrupted', 'runs', 'passed', 'failed', 'skipped', 'errors']);
  t.equal(single.schemaVersion, JSON_SCHEMA_VERSION);
  t.strictSame(single.tool, { name: 'ktest-rig', version: '9.9.9' });
  t.equal(single.startedAt, '2026-12-02T06:00:00.000Z');
  t.equal(single.runs.length, 1);
  t.strictSame(Object.keys(single.runs[0]), ['image', 'kernel', 'arch', 'accel', 'scenarios', 'passed', 'failed', 'skipped']);
  t.strictSame(Object.keys(single.runs[0].scenarios[1]), ['name', 'status', 'durationMs', 'failure']);
  t.equal(single.runs[0].scenarios[1].failure.reports[0].moduleFrames[0].line, 12);
  t.strictSame(Object.keys(single.runs[0].scenarios[0]), ['name', 'status', 'durationMs']);
  const many = jsonReport([one, two, broken], meta);
  t.strictSame(Object.keys(many), Object.keys(single), 'same keys whatever the number of images');
  t.equal(many.runs.length, 3);
  t.equal(many.passed, 3);
  t.equal(many.failed, 1);
  t.equal(many.skipped, 1);
  t.equal(many.errors, 1);
  t.match(many.runs[2]!.error, { name: 'BuildError', exitCode: 4, hint: 'fix the first error' });
  t.match(many.runs[2]!.error!.message, /ktest\.c:3:1: error/);
  t.equal(rigVersion(), JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')).version, 'the rig version is package.json\'s');
});

/** xmllint --schema on a document; throws with xmllint's complaint when it does not validate. */
function validateJunit(xml: string): void {
  const dir = mkdtempSync(join(tmpdir(), 'rig-junit-'));
  const file = join(dir, 'report.xml');
  writeFileSync(file, xml);
  const xsd = new URL('../../fixtures/schemas/junit-10.xsd', import.meta.url).pathname;
  execFileSync('xmllint', ['--noout', '--schema', xsd, file], { stdio: 'pipe' });
}

t.test('JUnit XML validates against junit-10.xsd (xmllint)', async (t) => {
  for (const [name, runs] of [['one image', [one]], ['several', [one, two]], ['an image in error', [one, broken]], ['errors and assertions', [run('sid-7', [assertion, infra])]]] as const) {
    t.doesNotThrow(() => validateJunit(formatJunit(runs, { timestamp: meta.startedAt.toISOString() })), name);
  }
  // The check can fail: a document with testsuites@skipped (which the schema does not allow) is refused.
  t.throws(() => validateJunit(formatJunit([one]).replace('<testsuites ', '<testsuites skipped="1" ')), 'xmllint refuses what junit-10.xsd does not allow');
});

t.test('JUnit XML', async (t) => {
  const xml = formatJunit([one, two, run('sid-7', [assertion, infra]), broken]);
  t.match(xml, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites name="ktest-rig" tests="8" failures="2" errors="2" time="1\.289">/);
  t.match(xml, /<testsuite name="bookworm-6.1" tests="3" failures="1" errors="0" skipped="1" time="1\.244">/);
  t.match(xml, /<property name="kernel" value="6.1.0-50-amd64"\/>/);
  t.match(xml, /<testcase name="roundtrip" classname="ktest-rig.bookworm-6_1" time="0\.010"\/>/, 'no dot in the class part');
  t.match(xml, /<failure message="kernel reported: BUG &lt;a &amp; &quot;b&quot;&gt; \(BUG: kernel NULL pointer dereference in crasher_null\)" type="kernel">/);
  t.match(xml, /at crasher_null\+0x5\/0x10 \[ktest\] \(crasher\.c:12\)/);
  t.match(xml, /<skipped message="needs host"\/>/);
  t.match(xml, /<testsuite name="sid-7" tests="2" failures="1" errors="1" skipped="0"/, 'error-kind failures count as errors');
  t.match(xml, /<error message="Error: socket closed" type="error">/);
  t.match(xml, /<testsuite name="bullseye-5.10" tests="1" failures="0" errors="1" skipped="0" time="0\.000">/, 'an image that did not run is an error');
  t.match(xml, /<testcase name="\(image did not run\)" classname="ktest-rig.bullseye-5_10" time="0\.000">\n\s+<error message="module ktest did not build/);
  t.notMatch(xml, /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/, 'no control characters');
  const opened = (xml.match(/<testcase\b/g) ?? []).length;
  t.equal(opened, 8);
  t.equal((xml.match(/<\/testcase>|<testcase[^>]*\/>/g) ?? []).length, 8, 'every testcase closed');
});

t.test('escaping helpers', async (t) => {
  t.equal(xmlEscape(`a<b>&"c"'\n\t`, true), 'a&lt;b&gt;&amp;&quot;c&quot;&apos;&#10;&#9;');
  t.equal(xmlEscape('x\u0000y\u001bz'), 'xyz');
  t.equal(cleanText('\u001b[31mred\u001b[0m\r\n'), 'red\n');
  t.equal(cleanText('lone \ud800 surrogate'), 'lone  surrogate');
  t.equal(consoleTail('a\nb\nc\n', 2), 'b\nc');
  t.ok(consoleTail('x'.repeat(10000) + '\nlast', 40, 100).length <= 100);
});

t.test('summary table', async (t) => {
  const table = summaryTable([one, two]).split('\n');
  t.match(table[0], /^scenario\s+bookworm-6\.1\s+trixie-6\.12$/);
  t.match(table.find((l) => l.startsWith('null deref')), /FAIL\s+ok$/);
  t.match(table.find((l) => l.startsWith('host only')), /skip\s+-$/);
  t.match(table.find((l) => l.startsWith('passed')), /1\/3\s+2\/2$/);
  t.match(summaryTable([one, broken]).split('\n').find((l) => l.startsWith('passed')), /1\/3\s+did not run \(exit 4\)$/);
});

t.test('reports are written atomically', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rig-report-'));
  await writeJsonReport(join(dir, 'sub', 'r.json'), [one], meta);
  await writeJunitReport(join(dir, 'r.xml'), [one, two]);
  t.equal(JSON.parse(readFileSync(join(dir, 'sub', 'r.json'), 'utf8')).runs[0].image, 'bookworm-6.1');
  t.match(readFileSync(join(dir, 'r.xml'), 'utf8'), /<testsuites/);
  t.strictSame(readdirSync(dir).sort(), ['r.xml', 'sub'], 'no temp files left');
  await t.rejects(writeJsonReport(join(dir, 'r.xml', 'x.json'), [one], meta), { name: 'InfraError' });
});

t.test('a TAP consumer reads the documents', async (t) => {
  const { Parser } = await import('tap-parser');
  const parse = (text: string) =>
    new Promise<{ ok: boolean; count: number; fail: number; skip: number; bailout: unknown; failures: unknown[] }>((resolve) => {
      const p = new Parser({ strict: true }, (results) => resolve(results as never));
      p.end(text);
    });
  const single = await parse(formatTap([one]));
  t.equal(single.count, 3);
  t.equal(single.fail, 1);
  t.equal(single.skip, 1);
  t.strictSame(single.failures.map((f) => (f as { diag?: { kind?: string } }).diag?.kind), ['kernel'], 'YAML diagnostics parsed');
  const several = await parse(formatTap([one, two]));
  t.equal(several.count, 2);
  t.equal(several.fail, 1);
  t.equal(several.bailout, false);
  const withError = await parse(formatTap([one, two, broken]));
  t.equal(withError.count, 3, 'an image that did not run is a test point');
  t.equal(withError.fail, 2);
  const bailed = await parse(formatTap([broken]));
  t.ok(bailed.bailout, 'one image that did not run: Bail out!');
  const times: number[] = [];
  const p = new Parser({ strict: true });
  p.on('assert', (a: { time?: number | null }) => typeof a.time === "number" && times.push(a.time));
  await new Promise<void>((resolve) => {
    p.on('complete', () => resolve());
    p.end(formatTap([one]));
  });
  t.strictSame(times, [10, 1234], 'tap-parser reads each duration (a SKIP directive carries none)');
});

t.test('allowed kernel reports show in TAP, JSON and JUnit without failing', async (t) => {
  const allowed = [{ title: 'WARNING in mailbox_ioctl', kind: 'warning' as const, pattern: '/WARNING in mailbox_/', reason: 'reset with a sleeping reader warns by design' }];
  const passing: ScenarioResult = { image: 'x', name: 'reset-while-reading', status: 'pass', durationMs: 5, allowed };
  const failing: ScenarioResult = { ...crash, name: 'crash-and-warn', allowed };
  const summary = run('bookworm-6.1', [passing, failing]);
  const tap = formatTap([summary]);
  t.match(tap, /^ok 1 - reset-while-reading # time=5ms$/m, "still ok");
  t.strictSame(yamlOf(tap), { allowed_reports: [{ title: 'WARNING in mailbox_ioctl', kind: 'warning', pattern: '/WARNING in mailbox_/', reason: 'reset with a sleeping reader warns by design' }] });
  const { Parser } = await import('tap-parser');
  const parsed = await new Promise<{ ok: boolean; pass: number; fail: number }>((resolve) => new Parser({ strict: true }, (r) => resolve(r as never)).end(tap));
  t.equal(parsed.pass, 1, 'a TAP consumer counts it as passed');
  t.equal(parsed.fail, 1);
  const json = jsonReport([summary], meta).runs[0]!;
  t.strictSame(json.scenarios[0]!.allowed, allowed);
  t.equal(json.scenarios[0]!.status, 'pass');
  t.strictSame(json.scenarios[1]!.allowed, allowed);
  const xml = formatJunit([summary]);
  t.match(xml, /<testcase name="reset-while-reading"[^>]*>\s*<system-out>allowed kernel report "WARNING in mailbox_ioctl" \(\/WARNING in mailbox_\/: reset with a sleeping reader warns by design\)<\/system-out>/);
  t.notMatch(xml.split('crash-and-warn')[0]!, /<failure/, 'no failure element for the allowed one');
  t.match(xml, /testsuite name="bookworm-6.1" tests="2" failures="1"/);
  t.doesNotThrow(() => validateJunit(xml), 'still valid against junit-10.xsd');
});

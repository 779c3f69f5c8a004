// Tests the reporter: TAP on stdout (streamed or per-image subtests), progress on stderr for TTY and CI.
import t from 'tap';
import { createReporter, formatProgress, formatStatus, type TextStream } from '../../../rig/report/progress.ts';
import type { RunEvent, RunSummary, ScenarioResult } from '../../../rig/report/results.ts';

class Capture implements TextStream {
  chunks: string[] = [];
  constructor(readonly isTTY = false, readonly columns = 60) {}
  write(chunk: string) {
    this.chunks.push(chunk);
    return true;
  }
  get text() {
    return this.chunks.join('');
  }
}

const result = (image: string, name: string, status: ScenarioResult['status']): ScenarioResult => ({
  image,
  name,
  status,
  durationMs: 5,
  ...(status === 'fail' ? { failure: { message: 'expected 1, got 2', kind: 'assertion' as const } } : {}),
});
const summary = (image: string, results: ScenarioResult[]): RunSummary => ({
  image,
  kernel: '6.1.0-50-amd64',
  arch: 'x86_64',
  accel: 'tcg',
  scenarios: results,
  passed: results.filter((r) => r.status === 'pass').length,
  failed: results.filter((r) => r.status === 'fail').length,
});
function imageEvents(image: string, statuses: ScenarioResult['status'][]): RunEvent[] {
  const results = statuses.map((s, i) => result(image, `s${i + 1}`, s));
  return [
    { type: 'run-start', image, total: results.length },
    ...results.flatMap((r, index): RunEvent[] => [
      { type: 'scenario-start', image, name: r.name, index, total: results.length },
      { type: 'scenario-end', result: r, index, total: results.length },
    ]),
    { type: 'run-end', summary: summary(image, results) },
  ];
}

t.test('pure formatters', async (t) => {
  // What fetch.ts emits: packages done of the image's packages (it printed "75% (0.0/0.0 MB)" when the formatter took them for bytes).
  t.equal(formatProgress({ type: 'progress', image: 'bookworm-6.1', stage: 'fetch', label: 'linux-kbuild-6.1', done: 3, total: 4 }), '[bookworm-6.1] downloading linux-kbuild-6.1 3/4 (75%)');
  t.equal(formatProgress({ type: 'progress', image: 'a', stage: 'build', label: 'ktest', done: 3, total: 5 }), '[a] building ktest 3/5 (60%)');
  t.equal(formatProgress({ type: 'progress', stage: 'fetch', label: 'x', done: 2, total: 0 }), 'downloading x 2');
  t.equal(formatStatus({ type: 'scenario-start', image: 'a', name: 'roundtrip', index: 2, total: 15 }), '[a] scenario 3/15 roundtrip');
  t.equal(formatStatus({ type: 'log', level: 'info', message: 'x' }), undefined);
});

t.test('one image: TAP streams per scenario, plain progress in CI', async (t) => {
  const out = new Capture();
  const err = new Capture(true);
  const r = createReporter({ stdout: out, stderr: err, env: { CI: 'true' } });
  for (const e of imageEvents('img', ['pass', 'fail', 'skip'])) {
    r.sink(e);
    if (e.type === 'scenario-end' && e.index === 0) t.match(out.text, /^ok 1 - s1 # time=\d+ms$/m, 'first result written before the run ends');
  }
  t.strictSame(r.finish(), [summary('img', [result('img', 's1', 'pass'), result('img', 's2', 'fail'), result('img', 's3', 'skip')])]);
  const lines = out.text.split('\n');
  t.equal(lines[0], 'TAP version 14');
  t.ok(lines.some((l) => /^not ok 2 - s2 # time=\d+ms$/.test(l)));
  t.ok(lines.includes('  message: "expected 1, got 2"'));
  t.ok(lines.includes('ok 3 - s3 # SKIP'));
  t.equal(lines.filter((l) => /^1\.\.\d+$/.test(l)).join(), '1..3', 'one plan');
  t.match(err.text, /^\[img\] scenario 2\/3 s2$/m, 'CI: plain lines even on a TTY');
  t.notMatch(err.text, /\u001b/, 'no escape codes in CI');
});

t.test('TTY: one updating status line, cleared around permanent output', async (t) => {
  const out = new Capture();
  const err = new Capture(true, 40);
  const r = createReporter({ stdout: out, stderr: err, env: {} });
  r.sink({ type: 'stage', image: 'img', stage: 'boot', message: 'booting the template guest' });
  t.match(err.chunks[err.chunks.length - 1], /^\r\u001b\[2K\[img\] booting the template guest$/);
  r.sink({ type: 'scenario-start', image: 'img', name: 'a-very-long-scenario-name-that-does-not-fit', index: 0, total: 15 });
  const last = err.chunks[err.chunks.length - 1];
  t.ok(last.length <= '\r\u001b[2K'.length + 39, 'truncated to the terminal width');
  t.match(last, /…$/);
  r.sink({ type: 'log', level: 'warn', message: 'slow disk' });
  t.match(err.text, /\r\u001b\[2Kwarning: slow disk\n/, 'status cleared before a log line');
  r.finish();
  t.match(err.chunks[err.chunks.length - 1], /^\r\u001b\[2K$/, 'status cleared at the end');
  t.notMatch(out.text, /\u001b/, 'stdout stays clean TAP');
});

t.test('plain progress is throttled to quarters', async (t) => {
  const err = new Capture(false);
  const r = createReporter({ stdout: new Capture(), stderr: err, env: {} });
  for (let done = 0; done <= 100; done += 5) r.sink({ type: 'progress', stage: 'fetch', label: 'k.deb', done: done * 1e5, total: 1e7 });
  const lines = err.text.trim().split('\n');
  t.strictSame(lines.map((l) => l.match(/(\d+)%/)?.[1]), ['0', '25', '50', '75', '100']);
  r.finish();
});

t.test('debug logs only with verbose', async (t) => {
  const quiet = new Capture();
  createReporter({ stdout: new Capture(), stderr: quiet, env: {} }).sink({ type: 'log', level: 'debug', message: 'qemu argv' });
  t.equal(quiet.text, '');
  const loud = new Capture();
  createReporter({ stdout: new Capture(), stderr: loud, verbose: true, env: {} }).sink({ type: 'log', level: 'debug', message: 'qemu argv' });
  t.equal(loud.text, 'debug: qemu argv\n');
});

t.test('several images in parallel: subtests at run end, plan and summary table at finish', async (t) => {
  const out = new Capture();
  const err = new Capture(false);
  const r = createReporter({ stdout: out, stderr: err, images: 2, env: {} });
  const a = imageEvents('a', ['pass', 'fail']);
  const b = imageEvents('b', ['pass', 'pass']);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (b[i]) r.sink(b[i]);
    if (a[i]) r.sink(a[i]);
  }
  t.notMatch(out.text, /^1\.\.2$/m, 'no top plan before finish');
  r.finish();
  const text = out.text;
  t.match(text, /^TAP version 14\n# Subtest: b \(/);
  t.match(text, /^    ok 2 - s2 # time=\d+ms\n    1\.\.2\nok 1 - b # time=\d+ms\n# Subtest: a/m);
  t.match(text, /^    not ok 2 - s2 # time=\d+ms$/m);
  t.match(text, /^not ok 2 - a # time=\d+ms\n1\.\.2\n$/m);
  t.match(err.text, /scenario\s+b\s+a\n/);
  t.match(err.text, /^s2\s+ok\s+FAIL$/m);
});

t.test('finish with an error bails out', async (t) => {
  const out = new Capture();
  const r = createReporter({ stdout: out, stderr: new Capture(), env: {} });
  r.sink(imageEvents('img', ['pass'])[0]);
  r.finish(new Error('qemu died\nmore'));
  t.match(out.text, /\nBail out! qemu died\n$/);
  r.sink({ type: 'log', level: 'info', message: 'late' });
  t.equal(r.finish().length, 0, 'finish is idempotent; events after it are dropped');
});

t.test('allowed kernel reports get a progress line', async (t) => {
  const out = new Capture();
  const err = new Capture();
  const r = createReporter({ stdout: out, stderr: err, env: { CI: 'true' } });
  const allowed = [{ title: 'WARNING in f', kind: 'warning' as const, pattern: '"in f"', reason: 'known' }];
  r.sink({ type: 'scenario-end', result: { image: 'img', name: 's', status: 'pass', durationMs: 1, allowed }, index: 0, total: 1 });
  r.finish();
  t.match(err.text, /^\[img\] s: allowed kernel report "WARNING in f" \("in f": known\)$/m);
  t.match(out.text, /^ok 1 - s # time=1ms$/m);
});

// The whole product as a user runs it: `npm run rig` on the default image, reports, exit codes, broken modules.
import t from 'tap';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { rig, tempDir } from '../helpers/rig.ts';
import { projectRoot } from '../../rig/core/paths.ts';
import { faultLine, faultReportProblems } from '../helpers/fault-lines.ts';

t.setTimeout(20 * 60_000);

const fixture = (name: string) => join(projectRoot, 'test/fixtures/kmods', name);

interface JsonScenario {
  name: string;
  status: string;
  durationMs: number;
  failure?: { message: string; kind: string; reports?: { kind: string; title: string; moduleFrames: { symbol?: string; file?: string; line?: number }[] }[] };
}
interface JsonRun {
  image: string;
  kernel: string;
  arch: string;
  accel: string;
  scenarios: JsonScenario[];
  passed: number;
  failed: number;
  error?: { name: string; message: string; exitCode: number };
}
interface JsonReport {
  schemaVersion: number;
  tool: { name: string; version: string };
  startedAt: string;
  interrupted: boolean;
  runs: JsonRun[];
}

/** The JSON report of a run, and its only image's run. */
async function jsonOf(file: string): Promise<{ doc: JsonReport; report: JsonRun }> {
  const doc = JSON.parse(await readFile(file, 'utf8')) as JsonReport;
  return { doc, report: doc.runs[0]! };
}

/** The source line (1-based) of the first line of `file` (relative to the project) containing `text`. */
async function lineOf(file: string, text: string): Promise<number> {
  const lines = (await readFile(join(projectRoot, file), 'utf8')).split('\n');
  const i = lines.findIndex((l) => l.includes(text));
  if (i < 0) throw new Error(`${text} not in ${file}`);
  return i + 1;
}

t.test('npm run rig: every default scenario passes on the default image, with TAP, JSON, JUnit and logs', async (t) => {
  const out = await tempDir(t, 'ktest-rig-out-');
  const r = await rig(['--json', join(out, 'r.json'), '--junit', join(out, 'r.xml'), '--logs', join(out, 'logs')]);
  t.equal(r.exitCode, 0, 'exit code', { stderr: r.stderr.slice(-2000) });
  t.equal(r.qemuLeft, 0, 'no QEMU left behind');
  t.match(r.stdout, /^TAP version 14$/m);
  const { doc, report } = await jsonOf(join(out, 'r.json'));
  t.equal(doc.schemaVersion, 2);
  t.equal(doc.tool.name, 'ktest-rig');
  t.equal(doc.interrupted, false);
  t.ok(Date.now() - Date.parse(doc.startedAt) < 20 * 60_000, 'startedAt is this run\'s');
  t.equal(doc.runs.length, 1);
  t.equal(report.image, 'bookworm-6.1');
  t.match(report.kernel, /^6\.1\./);
  t.ok(['kvm', 'tcg'].includes(report.accel), `accel ${report.accel}`);
  t.ok(report.scenarios.length >= 15, `${report.scenarios.length} scenarios`);
  t.same(report.scenarios.filter((s) => s.status !== 'pass').map((s) => `${s.name}: ${s.failure?.message}`), [], 'no failed scenario');
  t.equal(report.passed, report.scenarios.length);
  for (const s of report.scenarios) t.match(r.stdout, new RegExp(`^ok \\d+ - ${s.name} # time=\\d+(\\.\\d+)?ms$`, 'm'), `TAP line for ${s.name}, with its duration`);
  t.match(r.stdout, new RegExp(`^1\\.\\.${report.scenarios.length}$`, 'm'), 'TAP plan');
  const junit = await readFile(join(out, 'r.xml'), 'utf8');
  t.equal(junit.match(/<testcase /g)?.length, report.scenarios.length, 'one JUnit testcase per scenario');
  t.notMatch(junit, /<failure/);
  const logs = await readdir(join(out, 'logs', 'bookworm-6.1'));
  t.ok(logs.includes('roundtrip.console.log') && logs.includes('roundtrip.dmesg.log'), 'per-scenario console and dmesg logs');
  t.match(await readFile(join(out, 'logs', 'bookworm-6.1', 'roundtrip.dmesg.log'), 'utf8'), /kernel recv from user: hello kernel/);
});

t.test('a module that does not compile: exit 4 with the first compiler error', async (t) => {
  const r = await rig(['--kmod', fixture('broken-compile')]);
  t.equal(r.exitCode, 4, 'exit code', { stderr: r.stderr });
  t.match(r.stderr, /broken\.c:\d+:\d+: error:/);
  t.equal(r.qemuLeft, 0);
});

t.test('a module whose init fails: the load scenario fails, exit 1', async (t) => {
  const out = await tempDir(t, 'ktest-rig-out-');
  const r = await rig(['--kmod', fixture('init-fails'), '--only', '/^(load|roundtrip|no-module)$/', '--json', join(out, 'r.json')]);
  t.equal(r.exitCode, 1, 'exit code', { stderr: r.stderr.slice(-2000) });
  const { report } = await jsonOf(join(out, 'r.json'));
  const by = Object.fromEntries(report.scenarios.map((s) => [s.name, s]));
  t.equal(by.load?.status, 'fail');
  t.match(by.load?.failure?.message, /loading ktest failed/);
  t.equal(by.roundtrip?.status, 'fail');
  t.equal(by['no-module']?.status, 'pass', 'a scenario that does not load the module still passes');
  t.match(r.stdout, /^not ok 1 - load # time=/m);
});

t.test('a module that replies wrongly: the round trip fails with the payload it got', async (t) => {
  const r = await rig(['--kmod', fixture('wrong-reply'), '--only', 'roundtrip']);
  t.equal(r.exitCode, 1, 'exit code', { stderr: r.stderr.slice(-2000) });
  t.match(r.stdout, /not ok 1 - roundtrip/);
  t.match(r.stdout, /message: "reply payload: expected .*hello users!!!.*got .*hello\s+world/s, 'the TAP diagnostic shows what came back');
  t.match(r.stdout, /^  found: "\\"hello\s+world/m, 'found: the payload that came back');
  t.match(r.stdout, /^  wanted: "\\"hello users!!!\\""$/m, 'wanted: the payload the scenario expects');
  const line = await lineOf('rig/scenario/ktest.ts', "'reply payload')");
  t.match(r.stdout, new RegExp(`^  at: "rig/scenario/ktest\\.ts:${line}:\\d+"$`, 'm'), `at: the assertion's own line (ktest.ts:${line})`);
});

t.test('a module that oopses in one scenario: that scenario fails with the title and source line, the rest pass', async (t) => {
  const out = await tempDir(t, 'ktest-rig-out-');
  const r = await rig(['--kmod', fixture('crash-on-ack'), '--json', join(out, 'r.json')]);
  t.equal(r.exitCode, 1, 'exit code', { stderr: r.stderr.slice(-2000) });
  t.equal(r.qemuLeft, 0, 'no QEMU left behind');
  const { report } = await jsonOf(join(out, 'r.json'));
  const failed = report.scenarios.filter((s) => s.status === 'fail');
  t.same(failed.map((s) => s.name), ['ack'], 'only the ack scenario fails');
  const ack = failed[0]!;
  t.equal(ack.failure?.kind, 'kernel');
  const oops = ack.failure?.reports?.[0];
  t.equal(oops?.kind, 'null-deref');
  // The exact function and the exact statement marked /* @fault oops_on_ack */ in kmod/ktest.c.
  const mark = faultLine(fixture('crash-on-ack'), 'oops_on_ack');
  t.same(faultReportProblems(ack.failure?.reports ?? [], mark, { kind: 'null-deref', title: `BUG: kernel NULL pointer dereference in ${mark.function}` }), [], `oops at ${mark.file}:${mark.line}`, { reports: ack.failure?.reports });
  t.equal(ack.failure?.reports?.length, 1, 'one report');
  t.match(ack.failure?.message, `${mark.file}:${mark.line}`);
  t.ok(report.scenarios.length >= 15 && report.passed === report.scenarios.length - 1, 'every other scenario ran and passed');
});

t.test('an image whose module does not build is a result: the other image runs and every report is written', async (t) => {
  const out = await tempDir(t, 'ktest-rig-out-');
  const files = ['--json', join(out, 'r.json'), '--junit', join(out, 'r.xml')];
  const r = await rig(['--kernel', 'bookworm-6.1,bullseye-5.10', '--kmod', fixture('needs-6.0'), '--only', '/^(load|roundtrip)$/', ...files]);
  t.equal(r.exitCode, 4, 'the build failure\'s exit code', { stderr: r.stderr.slice(-2000) });
  t.equal(r.qemuLeft, 0, 'no QEMU left behind');
  t.match(r.stderr, /^error: \[bullseye-5\.10\] .*needs-6\.0\.h:\d+:\d+: error: #error "this fixture needs Linux 6\.0 or later"/m, 'the image and the first compiler error');
  const { doc } = await jsonOf(join(out, 'r.json'));
  const by = Object.fromEntries(doc.runs.map((run) => [run.image, run]));
  t.same(by['bookworm-6.1']?.scenarios.map((s) => `${s.name}:${s.status}`), ['load:pass', 'roundtrip:pass'], 'the 6.1 results are kept');
  t.match(by['bullseye-5.10']?.error, { name: 'BuildError', exitCode: 4 });
  t.same(by['bullseye-5.10']?.scenarios, []);
  t.match(r.stdout, /^ok \d - bookworm-6\.1 # time=/m, 'TAP: the image that ran');
  t.match(r.stdout, /^not ok \d - bullseye-5\.10\n  ---\n  message: ".*#error/m, 'TAP: the image that did not build, with its error');
  const junit = await readFile(join(out, 'r.xml'), 'utf8');
  t.match(junit, /<testsuite name="bullseye-5.10" tests="1" failures="0" errors="1"/);
  t.match(junit, /<testsuite name="bookworm-6.1" tests="2" failures="0" errors="0"/);
});

t.test('bad input gets one clear line and a distinct exit code', async (t) => {
  const unknown = await rig(['--kernel', 'no-such-kernel']);
  t.equal(unknown.exitCode, 2);
  t.match(unknown.stderr, /^error: unknown image "no-such-kernel" \(valid: .*bookworm-6\.1/m);

  const option = await rig(['--frobnicate']);
  t.equal(option.exitCode, 2);
  t.match(option.stderr, /unknown option '--frobnicate'/);

  const dir = await tempDir(t, 'ktest-rig-sc-');
  await writeFile(join(dir, 'bad.ts'), 'export default [{ name: "Not A Name", run() {} }];\n');
  const malformed = await rig(['--scenarios', join(dir, 'bad.ts')]);
  t.equal(malformed.exitCode, 2, 'exit code', { stderr: malformed.stderr });
  t.match(malformed.stderr, /bad\.ts: scenario #1: name must match/);

  const nodir = await rig(['--kmod', join(dir, 'missing')]);
  t.equal(nodir.exitCode, 2);
  t.match(nodir.stderr, /module directory .*missing does not exist/);

  // No qemu, no compiler on PATH, installing forbidden: the infrastructure exit code and the command to run.
  const bare = join(dir, 'bin');
  const { mkdir, symlink } = await import('node:fs/promises');
  await mkdir(bare);
  await symlink(process.execPath, join(bare, 'node'));
  const tools = await rig([], { PATH: bare, KTEST_RIG_NO_INSTALL: '1', HOME: process.env.HOME ?? '/root' });
  t.equal(tools.exitCode, 3, 'exit code', { stderr: tools.stderr });
  t.match(tools.stderr, /missing host tools: .*qemu-system-x86_64/);
  t.match(tools.stderr, /apt-get install -y .*qemu-system-x86/);
});

t.test('--target host refuses with one line when it cannot run safely', async (t) => {
  const out = await tempDir(t, 'ktest-rig-host-');
  const r = await rig(['--target', 'host', '--json', join(out, 'r.json')]);
  // Here: root, but no headers for the running kernel (or a ktest already loaded): never a partial run.
  if (r.exitCode === 0) {
    // A host that can run them: the run must show it did, scenario by scenario.
    const report = JSON.parse(await readFile(join(out, 'r.json'), 'utf8')) as JsonRun;
    t.ok(report.scenarios.length >= 1, `${report.scenarios.length} scenarios ran on the host`);
    t.same(report.scenarios.filter((s) => s.status !== 'pass').map((s) => s.name), [], 'every scenario passed');
    for (const s of report.scenarios) t.match(r.stdout, new RegExp(`^ok \\d+ - ${s.name}$`, 'm'), `TAP line for ${s.name}`);
    t.equal(r.qemuLeft, 0, 'no guest involved');
    return;
  }
  t.equal(r.exitCode, 2, 'exit code', { stderr: r.stderr });
  t.match(r.stderr, /^error: --target host: (no headers for the running kernel|the host target .* needs root|a module named ktest is already loaded)/m);
});

t.test('Ctrl-C mid-run: exit 130, no QEMU and no work directory left', async (t) => {
  const { execa } = await import('execa');
  const tmp = await tempDir(t, 'ktest-rig-int-');
  const json = join(tmp, 'partial.json');
  const child = execa(process.execPath, ['--import', 'tsx', join(projectRoot, 'rig/cli/main.ts'), '--only', 'roundtrip', '--json', json], {
    cwd: projectRoot,
    env: { TMPDIR: tmp },
    reject: false,
    stdin: 'ignore',
  });
  const qemuOfRun = async () => (await execa('pgrep', ['-f', `qemu-system-.*${tmp}`], { reject: false })).stdout.split('\n').filter(Boolean).length;
  let seen = false;
  for (let i = 0; i < 600 && !seen; i++) {
    seen = (await qemuOfRun()) > 0;
    if (!seen) await new Promise((r) => setTimeout(r, 100));
  }
  t.ok(seen, 'a guest was running');
  child.kill('SIGINT');
  const r = await child;
  t.equal(r.exitCode, 130, 'exit code 130 after SIGINT', { stderr: String(r.stderr).slice(-1000) });
  await new Promise((r) => setTimeout(r, 500));
  t.equal(await qemuOfRun(), 0, 'no QEMU of the run left');
  t.same((await readdir(tmp)).filter((f) => f.startsWith('ktest-rig-')), [], 'its temporary work directory is gone');
  const partial = JSON.parse(await readFile(json, 'utf8')) as JsonReport;
  t.equal(partial.interrupted, true, 'the JSON report is written, marked interrupted');
  t.same(partial.runs, [], 'with the images that ended (none had)');
});

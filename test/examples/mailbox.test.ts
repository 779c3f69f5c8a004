// examples/mailbox as its author gets it: a scratch git repository outside this one holding only the module,
// its test program, scenarios and project file, with ktest-rig installed by path; `npx ktest-rig` runs it.
import t from 'tap';
import { execa } from 'execa';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { projectRoot } from '../../rig/core/paths.ts';

// npm, a module build, a guest boot and 17 scenarios under TCG on a shared machine.
t.setTimeout(20 * 60_000);

const example = join(projectRoot, 'examples', 'mailbox');
const repo = await mkdtemp(join(tmpdir(), 'mailbox-module-'));
t.teardown(() => rm(repo, { recursive: true, force: true }));

await cp(example, repo, { recursive: true });
await writeFile(join(repo, 'package.json'), `${JSON.stringify({ name: 'mailbox', private: true, type: 'module', devDependencies: { 'ktest-rig': `file:${projectRoot}` } }, null, 2)}\n`);
const git = (...args: string[]) => execa('git', ['-c', 'user.name=test', '-c', 'user.email=test@example.invalid', ...args], { cwd: repo });
await git('init', '-q');
await git('add', '-A');
await git('commit', '-qm', 'mailbox module');

/** `npx ktest-rig ...` in the scratch repository; its QEMU processes (argv under its own TMPDIR) counted after. */
async function ktestRig(...args: string[]) {
  const tmp = await mkdtemp(join(tmpdir(), 'mailbox-run-'));
  try {
    const r = await execa('npx', ['--no-install', 'ktest-rig', ...args], { cwd: repo, reject: false, env: { TMPDIR: tmp }, stdin: 'ignore' });
    const left = await execa('pgrep', ['-f', `qemu-system-.*${tmp}`], { reject: false });
    return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr, qemuLeft: left.stdout.split('\n').filter(Boolean).length };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

t.test('npm install by path, offline: ktest-rig is a dev dependency like any other', async (t) => {
  const r = await execa('npm', ['install', '--offline', '--no-audit', '--no-fund'], { cwd: repo, reject: false });
  t.equal(r.exitCode, 0, r.stderr);
  const tracked = (await git('ls-files')).stdout.split('\n').sort();
  t.strictSame(tracked, ['Kbuild', 'ktest-rig.config.ts', 'mailbox.c', 'mailbox_uapi.h', 'package.json', 'scenarios.ts', 'tests/mailbox-test.c'], 'only the module, its program, scenarios and project file');
  const imports = (await Promise.all(['scenarios.ts', 'ktest-rig.config.ts'].map((f) => readFile(join(repo, f), 'utf8')))).join('\n');
  t.notMatch(imports, /from '[./]*rig\//, 'nothing imported from rig/ by path');
});

t.test('npx ktest-rig builds the module and the program and passes every scenario', async (t) => {
  const r = await ktestRig('--json', 'report.json', '--junit', 'report.xml');
  t.equal(r.exitCode, 0, `exit code (stderr: ${r.stderr.slice(-3000)})`);
  t.equal(r.qemuLeft, 0, 'no QEMU left behind');
  const report = JSON.parse(await readFile(join(repo, 'report.json'), 'utf8')) as { runs: { image: string; scenarios: { name: string; status: string; allowed?: { title: string; reason: string }[] }[] }[] };
  const [run] = report.runs;
  t.equal(run?.image, 'bookworm-6.1', 'the image of the project file');
  t.ok((run?.scenarios.length ?? 0) >= 10, `at least ten scenarios (${run?.scenarios.length})`);
  t.strictSame(run?.scenarios.filter((s) => s.status !== 'pass').map((s) => s.name), [], 'every scenario passed');

  // The WARN of reset-while-reading is allowed by the project file: shown as allowed everywhere, not failing.
  const allowed = run?.scenarios.find((s) => s.name === 'reset-while-reading')?.allowed;
  t.match(allowed, [{ title: 'WARNING in mailbox_ioctl', reason: /on purpose/ }], 'JSON: the allowed report');
  const tap = r.stdout.split('\n');
  const at = tap.findIndex((l) => /^ok \d+ - reset-while-reading/.test(l));
  const end = tap.indexOf('  ...', at);
  t.match(parseYaml(tap.slice(at + 2, end).map((l) => l.slice(2)).join('\n')), { allowed_reports: [{ title: 'WARNING in mailbox_ioctl' }] }, 'TAP: ok, with the allowed report');
  t.match(await readFile(join(repo, 'report.xml'), 'utf8'), /<testcase name="reset-while-reading"[^>]*>\s*<system-out>allowed kernel report "WARNING in mailbox_ioctl"/, 'JUnit');
  t.match(r.stderr, /reset-while-reading: allowed kernel report "WARNING in mailbox_ioctl"/, 'progress');
  t.notMatch(r.stderr, /matched no kernel report/, 'the allowed pattern was needed');
});

t.test('an allowed pattern that never matched is named at the end', async (t) => {
  await writeFile(
    join(repo, 'stale.config.ts'),
    `import { defineConfig } from 'ktest-rig';
import base from './ktest-rig.config.ts';
export default defineConfig({ ...base, allowedReports: [...(base.allowedReports ?? []), { title: /soft lockup/, reason: 'fixed long ago' }] });
`,
  );
  const r = await ktestRig('--config', 'stale.config.ts', '--only', 'write-then-read');
  t.equal(r.exitCode, 0, r.stderr.slice(-2000));
  t.match(r.stderr, /allowed report \/soft lockup\/ \(fixed long ago\) matched no kernel report in this run/);
  t.match(r.stderr, /allowed report "WARNING in mailbox_ioctl" .* matched no kernel report/, 'here the WARN did not happen either');
  t.equal(r.qemuLeft, 0);
});

t.test('a compile error in the test program exits 4 with the first compiler error', async (t) => {
  const source = join(repo, 'tests', 'mailbox-test.c');
  const good = await readFile(source, 'utf8');
  await writeFile(source, good.replace('static int failed;', 'static int failed = undeclared_in_this_file;'));
  t.teardown(() => writeFile(source, good));
  const r = await ktestRig();
  t.equal(r.exitCode, 4, 'exit 4: a build failed');
  t.match(r.stderr, /guest program mailbox-test \(x86_64\) did not compile: tests\/mailbox-test\.c:\d+:\d+: error: 'undeclared_in_this_file' undeclared/);
  t.equal(r.qemuLeft, 0);
});

t.test('a bad project file is one line naming the field, exit 2', async (t) => {
  await writeFile(join(repo, 'bad.config.ts'), `export default { scenarios: ['scenarios.ts'], allowedReports: [{ title: 'x' }] };\n`);
  const r = await ktestRig('--config', 'bad.config.ts');
  t.equal(r.exitCode, 2);
  t.match(r.stderr, /bad\.config\.ts: allowedReports\[0\]\.reason must be a non-empty string/);
});

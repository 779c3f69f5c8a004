// README's bisect recipe, run exactly as written, on a real three-commit history of the ktest module whose third
// commit makes it crash: `git bisect run npx ktest-rig ...` (the package's bin/ktest-rig.js) names that commit.
// One exec per commit: the first cold-boots and saves the ready-guest snapshot, the others restore it.
import t from 'tap';
import { execa } from 'execa';
import { appendFile, copyFile, cp, mkdir, readFile, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '../helpers/rig.ts';
import { projectRoot } from '../../rig/core/paths.ts';
import { ExecExitCode } from '../../rig/core/errors.ts';

// A cold boot and snapshot save, three module builds and three restores: about 20 s on a quiet machine
// (see the report); the limit leaves room for a loaded one.
t.setTimeout(10 * 60_000);

/** The sh block of README's "Bisecting a module" section, line by line. */
async function readmeRecipe(): Promise<string[]> {
  const readme = await readFile(join(projectRoot, 'README.md'), 'utf8');
  const section = readme.split('\n### Bisecting a module\n')[1]?.split('\n### ')[0] ?? '';
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  return block.split('\n').filter((l) => l.trim() !== '');
}

const recipe = await readmeRecipe();
const runLine = recipe.find((l) => l.startsWith('git bisect run '));
t.ok(recipe.length === 3 && recipe[0] === 'git bisect start BAD GOOD' && recipe[2] === 'git bisect reset' && runLine, 'README has the recipe', { recipe });
const command = runLine!.slice('git bisect run '.length);
t.match(command, /^npx ktest-rig exec /, 'the recipe runs the package command (bin/ktest-rig.js), not node --import tsx');

// The module author's repository: the ktest module, three commits, ktest-rig installed as npm installs a
// file: dependency (node_modules/ktest-rig and its bin link), not tracked.
const repo = await tempDir(t, 'ktest-rig-bisect-repo-');
const tmp = await tempDir(t, 'ktest-rig-bisect-tmp-');
const snapshots = await tempDir(t, 'ktest-rig-bisect-snapshots-');
const env = { TMPDIR: tmp, KTEST_RIG_SNAPSHOT_DIR: snapshots };
const git = (...args: string[]) => execa('git', ['-c', 'user.name=test', '-c', 'user.email=test@example.invalid', ...args], { cwd: repo });
await cp(join(projectRoot, 'kmod'), repo, { recursive: true });
await git('init', '-q');
await git('add', '-A');
await git('commit', '-qm', 'ktest: netlink echo module');
await appendFile(join(repo, 'Kbuild'), 'ccflags-y += -DDEBUG\n');
await git('commit', '-qam', 'ktest: pr_debug messages on');
await copyFile(join(projectRoot, 'test/fixtures/kmods/crash-on-ack/Kbuild'), join(repo, 'Kbuild'));
await git('commit', '-qam', 'ktest: handle NLM_F_ACK (crashes: a NULL dereference)');
const [bad, middle, good] = (await git('rev-list', 'HEAD')).stdout.split('\n');
await mkdir(join(repo, 'node_modules', '.bin'), { recursive: true });
await symlink(projectRoot, join(repo, 'node_modules', 'ktest-rig'));
await symlink('../ktest-rig/bin/ktest-rig.js', join(repo, 'node_modules', '.bin', 'ktest-rig'));
await appendFile(join(repo, '.git', 'info', 'exclude'), 'node_modules/\n');

const sh = (line: string) => execa('sh', ['-c', line], { cwd: repo, reject: false, env, stdin: 'ignore', all: true, timeout: 8 * 60_000 });
const qemuLeft = async () => (await execa('pgrep', ['-f', `qemu-system-.*${tmp}`], { reject: false })).stdout.split('\n').filter(Boolean).length;
const BOOT = /booting the template guest \(snapshot not cached yet\)/;
const RESTORE = /restoring bookworm-6\.1 \(\w+\) from its snapshot/;

t.test('the ends first: the command passes at GOOD (cold boot, snapshot saved) and fails at BAD (restored)', async (t) => {
  await git('checkout', '-q', good!);
  const g = await sh(command);
  t.equal(g.exitCode, 0, 'GOOD: CMD succeeded on a healthy kernel', { output: g.all?.slice(-2000) });
  t.match(g.all, BOOT, 'the first exec boots and saves the snapshot');
  await git('checkout', '-q', bad!);
  const b = await sh(command);
  t.equal(b.exitCode, ExecExitCode.kernelFailed, 'BAD: the kernel crashed (git bisect: bad)', { output: b.all?.slice(-2000) });
  t.match(b.all, /kernel report: BUG: kernel NULL pointer dereference in ktest_fault_oops_on_ack/);
  t.match(b.all, RESTORE, 'restored');
  t.notMatch(b.all, BOOT, 'not booted');
  t.equal(await qemuLeft(), 0);
});

t.test("README's recipe, as written: git bisect run lands on the crashing commit", async (t) => {
  const lines = recipe.map((l) => l.replace('BAD', bad!).replace('GOOD', good!));
  const start = await sh(lines[0]!);
  t.equal(start.exitCode, 0, 'git bisect start', { output: start.all });
  const run = await sh(lines[1]!);
  t.equal(run.exitCode, 0, 'git bisect run finished', { output: run.all?.slice(-3000) });
  t.match(run.all, new RegExp(`^${bad} is the first bad commit`, 'm'), 'the third commit is the culprit');
  t.match(run.all, /ktest: handle NLM_F_ACK/);
  t.match(run.all, RESTORE, 'the middle commit ran in a restored guest');
  t.notMatch(run.all, BOOT, 'no cold boot');
  const log = (await git('bisect', 'log')).stdout;
  t.match(log, new RegExp(`^git bisect good ${middle}$`, 'm'), 'the middle commit was tested and judged good');
  const reset = await sh(lines[2]!);
  t.equal(reset.exitCode, 0);
  t.equal(await qemuLeft(), 0, 'no QEMU left');
});

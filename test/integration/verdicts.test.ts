// Verdicts a test cannot fool, and exit codes that say what happened (issue 14's reproductions, each against the real rig).
import t from 'tap';
import { join } from 'node:path';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { execa } from 'execa';
import { setTimeout as sleep } from 'node:timers/promises';
import { rig, tempDir } from '../helpers/rig.ts';
import { projectRoot } from '../../rig/core/paths.ts';

t.setTimeout(20 * 60_000);
const crasher = join(projectRoot, 'test/fixtures/kmods/crasher');

t.test('1. a WARNING hidden with dmesg -c still fails exec (120) and the scenario', async (t) => {
  const r = await rig(['exec', '--kmod', crasher, '--', 'sh', '-c', 'echo warn > /sys/module/crasher/parameters/trigger; dmesg -c >/dev/null']);
  t.equal(r.exitCode, 120, 'exec: the kernel printed a report', { stderr: r.stderr.slice(-2000) });
  t.match(r.stderr, /WARNING: CPU: \d+ PID: \d+ at .*crasher/);
  const run = await rig(['--kmod', crasher, '--scenarios', join(projectRoot, 'test/fixtures/scenarios/hostile.ts')]);
  t.equal(run.exitCode, 1, 'run: a scenario failed', { stderr: run.stderr.slice(-3000) });
  t.match(run.stdout, /not ok \d+ - hide-warning/);
  t.match(run.stdout, /kernel reported WARNING/);
  t.match(run.stdout, /^ok \d+ - fake-panic/m, 'panic text from user space fails nothing');
  t.equal(run.qemuLeft, 0);
});

t.test('2. panic text written by user space kills nothing and loses no output', async (t) => {
  const r = await rig(['exec', '--', 'sh', '-c', 'echo "Kernel panic - not syncing: x" > /dev/kmsg; sleep 3; echo still-alive']);
  t.equal(r.exitCode, 0, 'the command\'s own status', { stderr: r.stderr.slice(-2000) });
  t.equal(r.stdout, 'still-alive');
  t.match(r.stderr, /user space wrote "Kernel panic.*" to \/dev\/kmsg: not a kernel report, not judged/);
});

t.test('5. a module the kernel refuses exits 119, not a kernel crash', async (t) => {
  const r = await rig(['exec', '--kmod', join(projectRoot, 'test/fixtures/kmods/init-fails'), '--', 'true']);
  t.equal(r.exitCode, 119, { stderr: r.stderr.slice(-2000) });
  t.match(r.stderr, /the kernel refused to load ktest/);
});

t.test('5. a command killed by a signal exits 128+N and the signal is named', async (t) => {
  const kill9 = await rig(['exec', '--no-load', '--', 'sh', '-c', 'kill -9 $$']);
  t.equal(kill9.exitCode, 137, { stderr: kill9.stderr.slice(-1500) });
  t.match(kill9.stderr, /command killed by SIGKILL \(exit 137\)/);
  const term = await rig(['exec', '--no-load', '--', 'sh', '-c', 'kill -TERM $$']);
  t.equal(term.exitCode, 143);
  t.match(term.stderr, /command killed by SIGTERM \(exit 143\)/);
});

t.test('5. QEMU killed from outside is an infrastructure error naming the signal (exec 125)', async (t) => {
  const tmp = await tempDir(t, 'ktest-outside-kill-');
  const child = execa(process.execPath, ['--import', 'tsx', join(projectRoot, 'rig/cli/main.ts'), 'exec', '--no-load', '--', 'sh', '-c', 'echo up; sleep 120'], {
    cwd: projectRoot, reject: false, env: { TMPDIR: tmp }, stdin: 'ignore', all: true,
  });
  let pid = '';
  for (let i = 0; i < 1200 && !pid; i++) {
    await sleep(500);
    // the guest's QEMU (its command socket is in our TMPDIR), not the short KVM probe
    pid = (await execa('pgrep', ['-f', `qemu-system-.*${tmp}.*cmd\\.sock`], { reject: false })).stdout.split('\n')[0] ?? '';
  }
  t.ok(pid, 'QEMU started');
  await sleep(5000); // booting or running the command: either way QEMU dies of a signal it did not ask for
  process.kill(Number(pid), 'SIGKILL');
  const r = await child;
  t.equal(r.exitCode, 125, 'untestable: bisect skips', { all: r.all?.slice(-2000) });
  t.match(r.all, /QEMU \(pid \d+\) was killed by SIGKILL from outside the rig/);
  t.notMatch(r.all, /panic/);
});

// The forger (test/fixtures/forgery/forge-result.sh) finds the nonce and its own command id in the agent's
// memory through /proc/1/mem (root can: CAP_SYS_PTRACE outranks PR_SET_DUMPABLE 0), writes an O frame
// ("forged") and an E frame (status 0) to the command port, tries the results port, then prints
// "real" and exits 7. Before the results channel, the rig reported 0 and "forged".
const FORGER = readFileSync(join(projectRoot, 'test/fixtures/forgery/forge-result.sh'), 'utf8');

for (const image of ['bookworm-6.1', 'bookworm-6.1-arm64']) {
  t.test(`6. a root process's forged frames on the command port change no result (${image})`, async (t) => {
    const r = await rig(['exec', '--kernel', image, '--no-load', '--', 'sh', '-c', FORGER]);
    t.match(r.stderr, /forger: nonce and id \d+ read from the agent/, 'the forger had the nonce: the frames were well-formed');
    t.match(r.stderr, /forger: frames written to \/dev\/(ttyS1|hvc0)/);
    t.match(r.stderr, /forger: results port busy/, 'the results port admits no second opener');
    t.equal(r.exitCode, 7, 'the command\'s own status', { stderr: r.stderr.slice(-1500) });
    t.equal(r.stdout, 'real');
    t.equal(r.qemuLeft, 0);
  });
}

t.test('7. 5 MB of command output arrives whole (over the results channel)', async (t) => {
  const r = await rig(['exec', '--no-load', '--', 'sh', '-c', "head -c 5000000 /dev/zero | tr '\\0' a; echo; echo done >&2"]);
  t.equal(r.exitCode, 0, { stderr: r.stderr.slice(-1500) });
  t.equal(r.stdout.length, 5_000_000, 'every byte (execa strips the final newline)');
  t.match(r.stdout, /^a+$/);
  t.match(r.stderr, /^done$/m);
});

t.test('7. exec forwards a piped stdin', async (t) => {
  const r = await rig(['exec', '--no-load', '--', 'sh', '-c', 'wc -c'], {}, 'abc\n');
  t.equal(r.exitCode, 0, { stderr: r.stderr.slice(-1500) });
  t.equal(r.stdout.trim(), '4');
});

t.test('7. --kmod on a directory without Kbuild or Makefile: exit 2 with one clear line', async (t) => {
  const dir = await tempDir(t, 'ktest-nokbuild-');
  mkdirSync(join(dir, 'src'));
  writeFileSync(join(dir, 'src', 'x.c'), 'int x;\n');
  const run = await rig(['--kmod', join(dir, 'src'), '--only', 'load']);
  t.equal(run.exitCode, 2, { stderr: run.stderr.slice(-1500) });
  t.match(run.stderr, /--kmod .* has no Kbuild or Makefile/);
  const ex = await rig(['exec', '--kmod', join(dir, 'src'), '--', 'true']);
  t.equal(ex.exitCode, 2);
});

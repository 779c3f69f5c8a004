// Boots the default image's kernel under QEMU: ready guest, exec, a panic, a hang, boot failures, no QEMU left behind.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Guest } from '../../rig/vm/guest.ts';
import { GuestError, QemuError } from '../../rig/core/errors.ts';
import { runProbe } from '../../rig/vm/kvm.ts';
import { ARCHES } from '../../rig/platform/arch/index.ts';
import { liveQemuPids } from '../../rig/vm/qemu.ts';
import { defaultKernel, gone, guestFixture } from '../helpers/rig.ts';

t.setTimeout(300_000);



t.test('guest', async (t) => {
  const { dir, opts, pids } = await guestFixture(t, 'ktest-guest-');

  t.test('boot, exec: stdout, stderr, exit codes, stdin, missing command, timeout', async (t) => {
    const started = performance.now();
    const guest = await Guest.boot({ ...opts, consoleLog: join(dir, 'console.log') });
    pids.push(guest.pid);
    t.teardown(() => guest.close());
    t.comment(`boot to a ready agent: ${(performance.now() - started).toFixed(0)} ms`);
    t.equal(guest.accel, 'tcg');

    const r = await guest.exec(['sh', '-c', 'echo out; echo err >&2; exit 7']);
    t.equal(r.exitCode, 7);
    t.equal(r.signal, null);
    t.equal(r.stdout.toString(), 'out\n');
    t.equal(r.stderr.toString(), 'err\n');
    t.equal(r.timedOut, false);

    t.equal((await guest.exec(['uname', '-r'])).stdout.toString().trim(), (await defaultKernel()).image.release);
    t.equal((await guest.exec(['cat'], { stdin: Buffer.from('piped\n') })).stdout.toString(), 'piped\n');

    const missing = await guest.exec(['/no/such/program']);
    t.equal(missing.exitCode, 127);
    t.ok(missing.stderr.length > 0, 'the reason is on stderr');

    const slow = await guest.exec(['sleep', '30'], { timeoutMs: 300 });
    t.equal(slow.timedOut, true);
    t.equal(slow.signal, 'SIGKILL');
    t.ok(await guest.ping(), 'still alive after a timeout');

    // the console is the kernel's, and commands never write into it through the agent's port
    const mark = guest.console.mark();
    await guest.exec(['sh', '-c', 'echo ktest-console-marker > /dev/kmsg']);
    for (let i = 0; i < 100 && !guest.console.since(mark).includes('ktest-console-marker'); i++) await sleep(20);
    t.match(guest.console.since(mark), /ktest-console-marker/);

    const pid = guest.pid;
    await guest.close();
    await guest.close();
    t.ok(gone(pid), 'QEMU is gone after close');
    await t.rejects(guest.exec(['true']), GuestError, 'exec after close');
    await sleep(100);
    t.equal(readFileSync(join(dir, 'console.log'), 'utf8').includes('ktest-console-marker'), true, 'console log file');
  });

  t.test('a guest panic rejects exec with kind panic at once', async (t) => {
    const guest = await Guest.boot(opts);
    pids.push(guest.pid);
    t.teardown(() => guest.close());
    const started = performance.now();
    const error = await guest.exec(['sh', '-c', 'echo c > /proc/sysrq-trigger'], { timeoutMs: 60_000 }).catch((e: unknown) => e);
    const ms = performance.now() - started;
    t.ok(error instanceof GuestError, 'GuestError');
    t.equal((error as GuestError).kind, 'panic');
    t.match((error as GuestError).consoleTail, /sysrq triggered crash/);
    t.ok(ms < 10_000, `rejected after ${ms.toFixed(0)} ms, not at the command timeout`);
    const exit = await guest.exited;
    t.equal(exit.exitCode, 0, 'panic=-1 with -no-reboot ended QEMU');
    await t.rejects(guest.exec(['true']), GuestError, 'later execs reject too');
  });

  t.test('a frozen guest gives kind hang', async (t) => {
    const guest = await Guest.boot({ ...opts, timeouts: { execGraceMs: 500, pingMs: 500 } });
    pids.push(guest.pid);
    t.teardown(() => guest.close());
    await (await guest.qmp()).execute('stop');
    const started = performance.now();
    const error = await guest.exec(['true'], { timeoutMs: 500 }).catch((e: unknown) => e);
    t.ok(error instanceof GuestError, 'GuestError');
    t.equal((error as GuestError).kind, 'hang');
    t.ok(performance.now() - started < 5000, 'within timeout + grace + ping');
    t.equal(await guest.ping(200), false);
  });

  t.test('a kernel without a working init fails the boot with kind panic', async (t) => {
    const error = await Guest.boot({ ...opts, appendExtra: ['rdinit=/nonexistent', 'init=/nonexistent'] }).catch((e: unknown) => e);
    t.ok(error instanceof GuestError, `GuestError: ${error}`);
    t.equal((error as GuestError).kind, 'panic');
    t.match((error as GuestError).consoleTail, /Kernel panic - not syncing/);
  });

  t.test('QEMU failing to start is an infrastructure error, not the guest', async (t) => {
    const error = await Guest.boot({ ...opts, kernelPath: join(dir, 'missing-kernel') }).catch((e: unknown) => e);
    t.ok(error instanceof QemuError && !(error instanceof GuestError), `QemuError: ${error}`);
    t.match((error as Error).message, /missing-kernel/);
  });

  t.test('the KVM probe firmware runs to the end under TCG', async (t) => {
    const recipe = ARCHES.x86_64.kvmProbe;
    const verdict = await runProbe({ ...recipe, args: (fw) => recipe.args(fw).map((a) => (a === 'kvm' ? 'tcg' : a)) }, 5000);
    t.same(verdict, { accel: 'kvm', reason: 'kvm probe passed' }, 'exit status (0x42 << 1) | 1 under TCG');
  });

  t.test('no QEMU left behind', async (t) => {
    t.same(liveQemuPids(), []);
    for (const pid of pids) t.ok(gone(pid), `pid ${pid} gone`);
  });
});

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}


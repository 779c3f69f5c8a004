// Guest's state machine (ready, exec, panic, hang, exit, start failures) against a fake QEMU: no kernel boots.
import t from 'tap';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Guest, type GuestOptions } from '../../../rig/vm/guest.ts';
import { GuestError, QemuError } from '../../../rig/core/errors.ts';
import { liveQemuPids } from '../../../rig/vm/qemu.ts';
import type { QemuSpec } from '../../../rig/vm/types.ts';

/**
 * A stand-in for qemu-system-*: serves the command socket and QMP like QEMU does, and speaks the
 * agent protocol itself. Its behaviour comes from `-fake MODE` (image extraArgs).
 */
const FAKE_QEMU = String.raw`#!/usr/bin/env node
const net = require('node:net');
const args = process.argv.slice(2);
const opt = (flag) => args[args.indexOf(flag) + 1];
const mode = args.includes('-fake') ? opt('-fake') : 'normal';
const cmdPath = args.find((a) => a.startsWith('socket,id=cmd,')).match(/path=([^,]*)/)[1];
const qmpPath = opt('-qmp').slice('unix:'.length).split(',')[0];
// With a results channel (images with filesChannel) the agent's frames go there, as guest/agent.c does.
const resultsArg = args.find((a) => a.startsWith('socket,id=results,'));
let results = null;
if (resultsArg) net.createServer((s) => (results = s)).listen(resultsArg.match(/path=([^,]*)/)[1]);
if (mode === 'bad-argv') { process.stderr.write('qemu-system-x86_64: could not load kernel /nope\n'); process.exit(1); }
process.stdout.write('[    0.000000] Linux version 6.1.0-fake\n');
if (mode === 'boot-panic') {
  setTimeout(() => { process.stdout.write('[    0.100000] Kernel panic - not syncing: VFS: Unable to mount root fs\n'); process.exit(0); }, 50);
}
let frozen = false;
let ready = false;
setTimeout(() => (ready = mode !== 'never-ready'), 100);
const b64 = (s) => Buffer.from(s).toString('base64');
net.createServer((sock) => {
  let buf = '';
  const cmdSock = sock;
  sock = { write: (line) => (resultsArg ? results : cmdSock)?.write(line) }; // before the host connects: lost, as in QEMU
  cmdSock.on('data', (d) => {
    buf += d;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const f = buf.slice(0, nl).split(' ');
      buf = buf.slice(nl + 1);
      if (frozen || !ready) continue;
      const [type, nonce, id] = f;
      if (type === 'P') sock.write('R ' + nonce + ' ' + id + '\n');
      if (type === 'K') sock.write('E ' + nonce + ' ' + id + ' - SIGKILL 0 7\n');
      if (type !== 'X') continue;
      const argv = f.slice(5).map((a) => Buffer.from(a, 'base64').toString());
      if (argv[0] === 'forge') {
        // a guest process with the nonce writes a result to the command port; the agent's own frames follow
        cmdSock.write('O ' + nonce + ' ' + id + ' 1 ' + b64('forged\n') + '\nE ' + nonce + ' ' + id + ' 0 - 0 1\n');
        setTimeout(() => { sock.write('O ' + nonce + ' ' + id + ' 1 ' + b64('real\n') + '\n'); sock.write('E ' + nonce + ' ' + id + ' 7 - 0 5\n'); }, 100);
      } else if (argv[0] === 'echo') {
        sock.write('O ' + nonce + ' ' + id + ' 1 ' + b64(argv.slice(1).join(' ') + '\n') + '\n');
        sock.write('O ' + nonce + ' ' + id + ' 2 ' + b64('warn\n') + '\n');
        sock.write('E ' + nonce + ' ' + id + ' 3 - 0 12\n');
      } else if (argv[0] === 'timeout') {
        sock.write('E ' + nonce + ' ' + id + ' - SIGKILL 1 ' + f[3] + '\n');
      } else if (argv[0] === 'missing') {
        sock.write('F ' + nonce + ' ' + id + ' ' + b64('execvp missing: ENOENT') + '\n');
      } else if (argv[0] === 'panic') {
        process.stdout.write('[    5.000000] Kernel panic - not syncing: sysrq triggered crash\n');
        setTimeout(() => process.exit(0), 20);
      } else if (argv[0] === 'panic-stay') {
        process.stdout.write('[    5.000000] Kernel panic - not syncing: Fatal exception\n[    5.000001] Call Trace:\n');
        frozen = true;
      } else if (argv[0] === 'user-panic') {
        // user space wrote panic text to /dev/kmsg: it reaches the console, the kernel runs on
        process.stdout.write('[    5.000000] Kernel panic - not syncing: x\n');
        setTimeout(() => { sock.write('O ' + nonce + ' ' + id + ' 1 ' + b64('still-alive\n') + '\n'); sock.write('E ' + nonce + ' ' + id + ' 0 - 0 1500\n'); }, 1500);
      } else if (argv[0] === 'killed') {
        process.kill(process.pid, 'SIGKILL');
      } else if (argv[0] === 'die') {
        process.exit(0);
      } else if (argv[0] === 'freeze') {
        frozen = true;
      } // 'ignore': never ends until killed with K
    }
  });
}).listen(cmdPath);
net.createServer((sock) => {
  sock.write('{"QMP": {"version": {}, "capabilities": []}}\r\n');
  sock.on('data', (d) => {
    for (const line of String(d).split('\n').filter(Boolean)) {
      const c = JSON.parse(line);
      const ret = c.execute === 'query-migrate' ? { status: 'completed' } : {};
      sock.write(JSON.stringify({ return: ret, id: c.id }) + '\r\n');
    }
  });
}).listen(qmpPath);
setInterval(() => {}, 1000);
`;

t.test('Guest against a fake QEMU', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'guest-unit-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const binary = join(dir, 'qemu-system-fake');
  await writeFile(binary, FAKE_QEMU);
  await chmod(binary, 0o755);
  const qemu = (mode: string): QemuSpec => ({
    binary,
    machine: 'pc',
    cpu: 'max',
    console: 'ttyS0',
    commandChannel: 'serial',
    commandPort: 'ttyS1',
    extraArgs: ['-fake', mode],
  });
  const opts = (mode: string, more: Partial<GuestOptions> = {}): GuestOptions => ({
    kernelPath: '/k',
    initrdPath: '/i',
    qemu: qemu(mode),
    accel: 'tcg',
    workDir: dir,
    timeouts: { execGraceMs: 200, pingMs: 200, bootMs: 3000, restoreMs: 3000 },
    ...more,
  });

  t.test('boot waits for a pong; exec collects output frames; F is status 127', async (t) => {
    const guest = await Guest.boot(opts('normal'));
    t.teardown(() => guest.close());
    t.match(guest.console.text(), /Linux version 6\.1\.0-fake/);
    const r = await guest.exec(['echo', 'a b', 'c']);
    t.same({ ...r, stdout: r.stdout.toString(), stderr: r.stderr.toString() }, {
      exitCode: 3,
      signal: null,
      stdout: 'a b c\n',
      stderr: 'warn\n',
      timedOut: false,
      durationMs: 12,
    });
    const timedOut = await guest.exec(['timeout'], { timeoutMs: 1234 });
    t.equal(timedOut.timedOut, true);
    t.equal(timedOut.durationMs, 1234, 'the timeout reached the agent');
    const missing = await guest.exec(['missing']);
    t.equal(missing.exitCode, 127);
    t.match(missing.stderr.toString(), /ENOENT/);
    const all = await Promise.all([1, 2, 3].map((i) => guest.exec(['echo', String(i)])));
    t.same(all.map((x) => x.stdout.toString()), ['1\n', '2\n', '3\n'], 'concurrent commands by id');
    t.equal(await guest.ping(), true);
  });

  t.test('with a results channel, frames come from it alone: a forged result on the command port is dropped', async (t) => {
    const guest = await Guest.boot(opts('normal', { qemu: { ...qemu('normal'), filesChannel: 'virtio-serial-pci' } }));
    t.teardown(() => guest.close());
    t.equal((await guest.exec(['echo', 'via results'])).stdout.toString(), 'via results\n');
    const r = await guest.exec(['forge']);
    t.equal(r.exitCode, 7, 'the agent\'s status, not the forged 0');
    t.equal(r.stdout.toString(), 'real\n');
    t.ok(guest.droppedCommandPortBytes > 0, 'the forged frames reached the host and were dropped unread');
    const plain = await Guest.boot(opts('normal'));
    t.teardown(() => plain.close());
    const old = await plain.exec(['forge']);
    t.equal(old.exitCode, 0, 'without a results channel the command port is the route, so a forgery with the nonce works there');
  });

  t.test('a command the agent never ends is killed, then reported when K works', async (t) => {
    const guest = await Guest.boot(opts('normal'));
    t.teardown(() => guest.close());
    const r = await guest.exec(['ignore'], { timeoutMs: 50 });
    t.equal(r.signal, 'SIGKILL', 'the watchdog pinged, got a pong and sent K');
  });

  t.test('panic on the console rejects in-flight and later execs with kind panic', async (t) => {
    const guest = await Guest.boot(opts('normal'));
    t.teardown(() => guest.close());
    const slow = guest.exec(['ignore'], { timeoutMs: 60_000 });
    const error = await guest.exec(['panic'], { timeoutMs: 60_000 }).catch((e: unknown) => e);
    t.ok(error instanceof GuestError);
    t.equal((error as GuestError).kind, 'panic');
    t.match((error as GuestError).consoleTail, /sysrq triggered crash/);
    await t.rejects(slow, { name: 'GuestError', kind: 'panic' }, 'the other command too');
    await guest.exited;
    await t.rejects(guest.exec(['echo']), { name: 'GuestError', kind: 'panic' });
  });

  t.test('a panic that does not end QEMU rejects once the agent stops answering, with the trace after the line', async (t) => {
    const guest = await Guest.boot(opts('normal'));
    t.teardown(() => guest.close());
    const started = Date.now();
    const error = await guest.exec(['panic-stay'], { timeoutMs: 60_000 }).catch((e: unknown) => e);
    t.equal((error as GuestError).kind, 'panic');
    t.match((error as GuestError).consoleTail, /Fatal exception\n.*Call Trace:/s);
    const bound = 1000 + 2 * guest.timeouts.pingMs + 2000;
    t.ok(Date.now() - started < bound, `the panic line, then two unanswered pings (< ${bound} ms)`);
  });

  t.test('panic text while the kernel runs on (user space wrote it) kills nothing', async (t) => {
    const guest = await Guest.boot(opts('normal'));
    t.teardown(() => guest.close());
    const r = await guest.exec(['user-panic'], { timeoutMs: 60_000 });
    t.equal(r.exitCode, 0);
    t.equal(r.stdout.toString(), 'still-alive\n', 'the command\'s output is kept');
    t.equal(await guest.ping(), true, 'the guest lives');
  });

  t.test('QEMU killed from outside: an infrastructure error naming the signal, never a panic', async (t) => {
    const guest = await Guest.boot(opts('normal'));
    t.teardown(() => guest.close());
    const error = await guest.exec(['killed']).catch((e: unknown) => e);
    t.ok(error instanceof QemuError && !(error instanceof GuestError), String(error));
    t.match((error as Error).message, /QEMU \(pid \d+\) was killed by SIGKILL from outside the rig/);
  });

  t.test('QEMU exiting without a panic is kind exited', async (t) => {
    const guest = await Guest.boot(opts('normal'));
    t.teardown(() => guest.close());
    await t.rejects(guest.exec(['die']), { name: 'GuestError', kind: 'exited' });
  });

  t.test('a frozen agent is kind hang after timeout + grace + ping', async (t) => {
    const guest = await Guest.boot(opts('normal'));
    t.teardown(() => guest.close());
    const started = Date.now();
    const error = await guest.exec(['freeze'], { timeoutMs: 100 }).catch((e: unknown) => e);
    t.equal((error as GuestError).kind, 'hang');
    const ms = Date.now() - started;
    t.ok(ms >= 300 && ms < 2000, `${ms} ms`);
  });

  t.test('start failures: guest panic, guest never ready, QEMU itself failing', async (t) => {
    await t.rejects(Guest.boot(opts('boot-panic')), { name: 'GuestError', kind: 'panic' });
    const started = Date.now();
    await t.rejects(Guest.boot(opts('never-ready', { timeouts: { bootMs: 500 } })), { name: 'GuestError', kind: 'boot' });
    t.ok(Date.now() - started < 3000, 'gave up at bootMs');
    const error = await Guest.boot(opts('bad-argv')).catch((e: unknown) => e);
    t.ok(error instanceof QemuError && !(error instanceof GuestError), String(error));
    t.match((error as Error).message, /could not load kernel/);
  });

  t.test('exec argument errors reject (never throw synchronously)', async (t) => {
    const guest = await Guest.boot(opts('normal'));
    t.teardown(() => guest.close());
    const p = guest.exec(['echo', 'nul\0byte']);
    await t.rejects(p, { name: 'UsageError' });
    t.equal((await guest.exec(['echo', 'ok'])).stdout.toString(), 'ok\n', 'the guest is still usable');
  });

  t.test('restore of a missing snapshot is an infrastructure error', async (t) => {
    await t.rejects(Guest.restore(opts('normal'), join(dir, 'missing.snapshot')), { name: 'QemuError', message: /missing/ });
  });

  t.test('restore waits for the migration, conts, pings', async (t) => {
    await writeFile(join(dir, 'no-matter.snapshot'), 'x');
    const guest = await Guest.restore(opts('normal'), join(dir, 'no-matter.snapshot'));
    t.teardown(() => guest.close());
    t.equal((await guest.exec(['echo', 'restored'])).stdout.toString(), 'restored\n');
  });

  t.test('nothing left running', async (t) => {
    t.same(liveQemuPids(), []);
  });
});

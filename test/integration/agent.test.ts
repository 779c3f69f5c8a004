// Boots the dev kernel with our initramfs and drives the agent: output, exit codes, hostile argv, timeouts, load.
import t from 'tap';
import { defaultKernel, gone } from '../helpers/rig.ts';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Guest } from '../../rig/vm/guest.ts';
import { buildGuestPrograms } from '../../rig/build/module.ts';
import { busyboxFor } from '../../rig/build/busybox.ts';
import { prepareKernel } from '../../rig/kernels/fetch.ts';
import { resolveImages } from '../../rig/kernels/images.ts';
import { buildInitramfs } from '../../rig/build/initramfs.ts';
import type { QemuSpec } from '../../rig/vm/types.ts';

t.setTimeout(300_000);

// The default image's kernel, fetched through the rig's own cache (never skipped).
const KERNEL = (await defaultKernel()).kernelPath;
const QEMU: QemuSpec = {
  binary: 'qemu-system-x86_64',
  machine: 'pc',
  cpu: 'max',
  console: 'ttyS0',
  memoryMb: 256,
  commandChannel: 'serial',
  commandPort: 'ttyS1',
};

const alive = (pid: number): boolean => !gone(pid);

/** Hex of each argument as the guest sees it, one line per argument. */
const PRINT_ARGS = ['sh', '-c', 'for a in "$@"; do printf "%s" "$a" | od -An -v -tx1 | tr -d " \\n"; echo; done', 'sh'];

t.test('agent in a real guest', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ktest-agent-it-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const { agent } = await buildGuestPrograms({ arch: 'x86_64', outDir: join(dir, 'bin') });
  const initrdPath = join(dir, 'initrd.cpio');
  await writeFile(
    initrdPath,
    await buildInitramfs({
      busybox: await busyboxFor('x86_64'),
      agent,
      files: [{ path: '/etc/ktest/hello', source: Buffer.from('from the initramfs\n') }],
    }),
  );
  const started = performance.now();
  const guest = await Guest.boot({ kernelPath: KERNEL, initrdPath, qemu: QEMU, accel: 'tcg', workDir: dir });
  t.teardown(async () => {
    await guest.close();
    if (alive(guest.pid)) process.kill(guest.pid, 'SIGKILL');
  });
  t.comment(`boot to a ready agent: ${(performance.now() - started).toFixed(0)} ms`);

  t.test('echo, exit codes, stderr, stdin, files from the initramfs, missing programs', async (t) => {
    const echo = await guest.exec(['echo', 'hello', 'world']);
    t.match(echo, { exitCode: 0, signal: null, timedOut: false });
    t.equal(echo.stdout.toString(), 'hello world\n');
    t.equal(echo.stderr.length, 0);
    const failing = await guest.exec(['sh', '-c', 'echo oops >&2; exit 42']);
    t.match(failing, { exitCode: 42, signal: null });
    t.equal(failing.stderr.toString(), 'oops\n');
    t.equal(failing.stdout.length, 0);
    const stdin = Buffer.from(Array.from({ length: 256 * 40 }, (_, i) => i % 256));
    const cat = await guest.exec(['cat'], { stdin });
    t.same(cat.stdout, stdin, 'binary stdin comes back unchanged');
    t.equal((await guest.exec(['cat', '/etc/ktest/hello'])).stdout.toString(), 'from the initramfs\n');
    t.equal((await guest.exec(['hostname'])).stdout.toString(), 'ktest\n');
    t.match((await guest.exec(['cat', '/proc/mounts'])).stdout.toString(), /devtmpfs \/dev[\s\S]*tmpfs \/tmp/);
    const missing = await guest.exec(['no-such-program']);
    t.equal(missing.exitCode, 127);
    t.match(missing.stderr.toString(), /no-such-program: No such file or directory/);
    const killed = await guest.exec(['sh', '-c', 'kill -SEGV $$']);
    t.match(killed, { exitCode: null, signal: 'SIGSEGV', timedOut: false });
  });

  t.test('argv bytes arrive unchanged', async (t) => {
    const every = String.fromCharCode(...Array.from({ length: 255 }, (_, i) => i + 1));
    const hostile = [every, 'it\'s "quoted"', 'new\nline', '$(touch /tmp/pwned) `touch /tmp/pwned` ${HOME}', '', '  ', '*', '-n', 'ü✓'];
    const r = await guest.exec([...PRINT_ARGS, ...hostile]);
    t.equal(r.exitCode, 0, r.stderr.toString());
    t.same(r.stdout.toString().split('\n').slice(0, -1), hostile.map((a) => Buffer.from(a, 'utf8').toString('hex')));
    t.equal((await guest.exec(['ls', '/tmp/pwned'])).exitCode, 1, 'nothing was expanded');
  });

  t.test('a command that outlives its timeout is killed', async (t) => {
    const before = performance.now();
    const r = await guest.exec(['sh', '-c', 'echo started; sleep 30; echo never'], { timeoutMs: 1000 });
    t.match(r, { exitCode: null, signal: 'SIGKILL', timedOut: true });
    t.equal(r.stdout.toString(), 'started\n');
    t.ok(r.durationMs >= 1000 && r.durationMs < 10_000, `duration ${r.durationMs} ms`);
    t.ok(performance.now() - before < 20_000);
    t.equal((await guest.exec(['sh', '-c', 'ps -o comm | grep -c sleep || true'])).stdout.toString().trim(), '0', 'its process group is gone');
  });

  t.test('8 concurrent commands', async (t) => {
    const before = performance.now();
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => guest.exec(['sh', '-c', `sleep 1; i=0; while [ $i -lt 200 ]; do echo "cmd${i} line $i"; i=$((i+1)); done; exit ${i}`])),
    );
    results.forEach((r, i) => {
      t.equal(r.exitCode, i);
      const lines = r.stdout.toString().split('\n').slice(0, -1);
      t.equal(lines.length, 200);
      t.ok(lines.every((l, n) => l === `cmd${i} line ${n}`), `command ${i} got only its own output, in order`);
    });
    t.comment(`8 concurrent commands: ${(performance.now() - before).toFixed(0)} ms`);
  });

  t.test('a flooding command does not starve the others, and orphans are reaped', async (t) => {
    const flood = guest.exec(['yes', 'flood'], { timeoutMs: 4000 });
    await new Promise((r) => setTimeout(r, 500));
    const before = performance.now();
    const quick = await Promise.all([1, 2, 3].map((i) => guest.exec(['echo', `quick ${i}`])));
    t.same(quick.map((r) => r.stdout.toString()), ['quick 1\n', 'quick 2\n', 'quick 3\n']);
    t.comment(`3 commands beside a flood: ${(performance.now() - before).toFixed(0)} ms`);
    const f = await flood;
    t.match(f, { exitCode: null, signal: 'SIGKILL', timedOut: true });
    t.ok(f.stdout.length > 10_000, `flood delivered ${f.stdout.length} bytes`);
    t.match(f.stdout.toString(), /^(flood\n)+(f|fl|flo|floo|flood)?$/, 'flood output intact and in order');
    // a grandchild that escapes with setsid outlives its parent; when it ends, PID 1 (the agent) reaps it
    const escaped = await guest.exec(['sh', '-c', 'setsid sleep 1 >/dev/null 2>&1 & echo spawned'], { timeoutMs: 5000 });
    t.equal(escaped.stdout.toString(), 'spawned\n', 'the command ends without waiting for its escaped grandchild');
    await new Promise((r) => setTimeout(r, 3000));
    const ps = await guest.exec(['ps', '-o', 'stat,comm']);
    t.notMatch(ps.stdout.toString(), /^Z/m, 'no zombies left');
  });

  t.test('kernel messages never mix into command output', async (t) => {
    const r = await guest.exec([
      'sh', '-c', 'i=0; while [ $i -lt 50 ]; do echo "KMSG-NOISE-$i" > /dev/kmsg; echo "out $i"; i=$((i+1)); done',
    ]);
    t.equal(r.exitCode, 0);
    t.notMatch(r.stdout.toString(), /KMSG/);
    t.equal(r.stdout.toString().split('\n').length - 1, 50);
    t.match((await guest.exec(['dmesg'])).stdout.toString(), /KMSG-NOISE-49/);
  });

  t.test('a command printing 1 MB', async (t) => {
    const before = performance.now();
    const r = await guest.exec(['sh', '-c', 'head -c 1048576 /dev/urandom > /tmp/big && md5sum /tmp/big >&2 && cat /tmp/big'], {
      timeoutMs: 180_000,
    });
    const ms = performance.now() - before;
    t.equal(r.exitCode, 0);
    t.equal(r.stdout.length, 1048576);
    t.equal(r.stderr.toString().split(' ')[0], createHash('md5').update(r.stdout).digest('hex'), 'bytes intact');
    t.comment(`1 MiB of output: ${ms.toFixed(0)} ms (${((1048576 / ms) * 1000 / 1024).toFixed(0)} KiB/s)`);
    t.equal((await guest.exec(['echo', 'still alive'])).stdout.toString(), 'still alive\n');
  });
});

// arm64: the command port is hvc0 (virtio console), whose modules the init loads from /etc/ktest/modules.
const ARM64 = resolveImages('bookworm-6.1-arm64')[0]!;

t.test('agent in an arm64 guest (hvc0)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ktest-agent-arm64-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const kernel = await prepareKernel(ARM64);
  const { agent } = await buildGuestPrograms({ arch: 'arm64', outDir: join(dir, 'bin') });
  const mods = ARM64.qemu.guestModules ?? [];
  const initrdPath = join(dir, 'initrd.cpio');
  await writeFile(
    initrdPath,
    await buildInitramfs({
      busybox: await busyboxFor('arm64'),
      agent,
      guestModules: mods,
      files: mods.map((m) => ({ path: `/lib/modules/${ARM64.release}/${m}`, source: join(kernel.modulesDir!, m) })),
    }),
  );
  const started = performance.now();
  const guest = await Guest.boot({ kernelPath: kernel.kernelPath, initrdPath, qemu: ARM64.qemu, accel: 'tcg', workDir: dir });
  t.teardown(async () => {
    await guest.close();
    if (alive(guest.pid)) process.kill(guest.pid, 'SIGKILL');
  });
  t.comment(`arm64 boot to a ready agent on ${ARM64.qemu.commandPort}: ${(performance.now() - started).toFixed(0)} ms`);
  t.equal((await guest.exec(['uname', '-m'])).stdout.toString(), 'aarch64\n');
  t.match((await guest.exec(['cat', '/proc/modules'])).stdout.toString(), /^virtio_console /m);
  const hostile = ['it\'s "quoted"', 'new\nline', '$(id) `id`', '', 'ü✓'];
  const r = await guest.exec([...PRINT_ARGS, ...hostile]);
  t.same(r.stdout.toString().split('\n').slice(0, -1), hostile.map((a) => Buffer.from(a).toString('hex')));
  t.match(await guest.exec(['sleep', '30'], { timeoutMs: 500 }), { signal: 'SIGKILL', timedOut: true });
  const before = performance.now();
  const big = await guest.exec(['head', '-c', '1048576', '/dev/zero'], { timeoutMs: 60_000 });
  t.equal(big.stdout.length, 1048576);
  t.ok(big.stdout.every((b) => b === 0));
  t.comment(`1 MiB over hvc0: ${(performance.now() - before).toFixed(0)} ms`);
});

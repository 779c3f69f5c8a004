// Scenarios of the mailbox example: each drives /dev/mailbox with the static test program mailbox-test.
import type { ExecResult, Scenario, ScenarioContext } from 'ktest-rig';

/** stdout of a guest command, as lines. */
const lines = (r: ExecResult): string[] => r.stdout.toString('utf8').trim().split('\n').filter(Boolean);

/** Runs mailbox-test with steps on one open descriptor; returns its exit code and output lines. */
async function box(t: ScenarioContext, ...args: string[]): Promise<{ code: number | null; out: string[] }> {
  const r = await t.exec(['mailbox-test', ...args], { timeoutMs: 20_000 });
  return { code: r.exitCode, out: lines(r) };
}

/** Waits until the device has `n` openers besides the one asking (a holder process got its descriptor). */
async function waitForOpeners(t: ScenarioContext, n: number): Promise<void> {
  for (let i = 0; i < 50; i++) {
    const { out } = await box(t, 'status');
    if (out[0]?.includes(`openers=${n + 1}`)) return;
    await t.sleep(100);
  }
  t.fail(`the device never had ${n} other openers`);
}

export default [
  {
    name: 'device-appears',
    description: 'loading creates /dev/mailbox, empty, with the default capacity',
    async run(t) {
      const ls = await t.exec(['ls', '-l', '/dev/mailbox']);
      t.match(ls.stdout.toString(), /^crw-rw-rw-/, 'a character device anyone may open');
      t.equal((await box(t, 'status')).out, ['status EMPTY len=0 capacity=256 openers=1'], 'status');
      t.match(await t.dmesg(), /mailbox: ready, capacity 256, max_openers 0/, 'kernel log');
    },
  },
  {
    name: 'write-then-read',
    description: 'a message goes in whole and comes out whole',
    async run(t) {
      const r = await box(t, 'write:hello mailbox', 'status', 'read', 'status');
      t.equal(r.out, ['write 13', 'status FULL len=13 capacity=256 openers=1', 'read 13 hello mailbox', 'status EMPTY len=0 capacity=256 openers=1'], 'steps');
      t.equal(r.code, 0, 'exit code');
    },
  },
  {
    name: 'state-machine',
    description: 'EMPTY -> FULL -> SEALED (writers refused, readers drain, then end of file) -> RESET -> EMPTY',
    async run(t) {
      const r = await box(t, 'write:a', 'seal', 'status', 'write:b', 'read', 'read', 'reset', 'status', 'write:c', 'status');
      t.equal(r.out, [
        'write 1',
        'seal',
        'status SEALED len=1 capacity=256 openers=1',
        'error EPIPE write:b',
        'read 1 a',
        'read 0',
        'reset',
        'status EMPTY len=0 capacity=256 openers=1',
        'write 1',
        'status FULL len=1 capacity=256 openers=1',
      ], 'steps');
    },
  },
  {
    name: 'seal-dropping-the-message',
    description: 'SEAL with MAILBOX_SEAL_DROP discards the pending message',
    async run(t) {
      t.equal((await box(t, 'write:gone', 'seal:1', 'read')).out, ['write 4', 'seal', 'read 0'], 'steps');
    },
  },
  {
    name: 'nonblocking-would-block',
    description: 'O_NONBLOCK: reading an empty box and writing a full one answer EAGAIN',
    async run(t) {
      const r = await box(t, '--nonblock', 'read', 'write:x', 'write:y', 'read');
      t.equal(r.out, ['error EAGAIN read', 'write 1', 'error EAGAIN write:y', 'read 1 x'], 'steps');
      t.equal(r.code, 1, 'a failed step makes the exit status 1');
    },
  },
  {
    name: 'blocking-read-woken-by-write',
    description: 'a reader sleeps on the empty box until a writer arrives 400 ms later',
    async run(t) {
      const r = await box(t, 'wake', '400');
      t.equal(r.code, 0, `exit code (${r.out.join(' | ')})`);
      const m = /^woken after_ms=(\d+) read=wake up$/.exec(r.out[0] ?? '');
      t.ok(m, `woken with the message: ${r.out[0]}`);
      t.ok(Number(m![1]) >= 350, `it slept until the write (${m![1]} ms)`);
    },
  },
  {
    name: 'poll',
    description: 'poll: writable when empty, readable when full',
    async run(t) {
      t.equal((await box(t, 'poll:0', 'write:x', 'poll:0', 'read', 'seal', 'poll:0')).out, ['poll in=0 out=1', 'write 1', 'poll in=1 out=0', 'read 1 x', 'seal', 'poll in=1 out=0'], 'steps');
    },
  },
  {
    name: 'concurrent-openers',
    description: '8 writer processes with their own descriptors, 25 messages each: every message read exactly once',
    timeoutMs: 120_000,
    async run(t) {
      const r = await box(t, 'crowd', '8', '25');
      t.equal(r.out, ['crowd received=200 duplicates=0 failed_writers=0'], 'every message once');
      t.equal(r.code, 0, 'exit code');
    },
  },
  {
    name: 'bad-ioctl-pointer',
    description: 'STATUS with an unmapped pointer is answered with EFAULT',
    async run(t) {
      t.equal((await box(t, 'badptr', 'status')).out, ['error EFAULT badptr', 'status EMPTY len=0 capacity=256 openers=1'], 'steps');
    },
  },
  {
    name: 'bad-ioctl-argument',
    description: 'SEAL with an unknown flag is answered with EINVAL and changes nothing',
    async run(t) {
      t.equal((await box(t, 'seal:6', 'status')).out, ['error EINVAL seal:6', 'status EMPTY len=0 capacity=256 openers=1'], 'steps');
    },
  },
  {
    name: 'unknown-ioctl',
    description: 'an ioctl number the driver does not know is answered with ENOTTY',
    async run(t) {
      t.equal((await box(t, 'ioctl:99')).out, ['error ENOTTY ioctl:99'], 'steps');
    },
  },
  {
    name: 'capacity-parameter',
    description: 'capacity=16: 16 bytes fit, 17 are refused with EMSGSIZE',
    params: { capacity: 16 },
    async run(t) {
      const r = await box(t, 'write:0123456789abcdefX', 'write:0123456789abcdef', 'status');
      t.equal(r.out, ['error EMSGSIZE write:0123456789abcdefX', 'write 16', 'status FULL len=16 capacity=16 openers=1'], 'steps');
    },
  },
  {
    name: 'bad-capacity-refused',
    description: 'capacity=0 makes the load fail with a message, and nothing stays loaded',
    load: false,
    async run(t) {
      const r = await t.module.tryLoad({ capacity: 0 });
      t.ok(r.exitCode !== 0, 'insmod fails');
      t.match(await t.dmesg(), /mailbox: capacity=0 is outside 1\.\.65536/, 'the reason in the kernel log');
      t.equal(await t.module.isLoaded(), false, 'not loaded');
    },
  },
  {
    name: 'max-openers-parameter',
    description: 'max_openers=2: a third open is refused with EBUSY while two holders keep theirs',
    params: { max_openers: 2 },
    async run(t) {
      const holders = t.exec(['sh', '-c', 'mailbox-test sleep:3000 & mailbox-test sleep:3000 & wait'], { timeoutMs: 20_000 });
      let refused = false;
      for (let i = 0; i < 50 && !refused; i++) {
        refused = (await box(t, 'status')).out.includes('error EBUSY open');
        if (!refused) await t.sleep(100);
      }
      t.ok(refused, 'the third opener got EBUSY');
      t.equal((await holders).exitCode, 0, 'the holders were fine');
      t.equal((await box(t, 'status')).out, ['status EMPTY len=0 capacity=256 openers=1'], 'open again once they closed');
    },
  },
  {
    name: 'unload-while-open-refused',
    description: 'an open /dev/mailbox pins the module: rmmod fails until the holder closes it',
    async run(t) {
      const holder = t.exec(['mailbox-test', 'sleep:3000'], { timeoutMs: 20_000 });
      await waitForOpeners(t, 1);
      const refused = await t.module.tryUnload();
      t.ok(refused.exitCode !== 0, `rmmod refused (${refused.stderr.toString().trim()})`);
      t.equal(await t.module.isLoaded(), true, 'still loaded');
      t.equal((await holder).exitCode, 0, 'the holder was not disturbed');
      await t.module.unload();
      t.equal(await t.module.isLoaded(), false, 'unloads once closed');
    },
  },
  {
    name: 'reset-while-reading',
    description: 'RESET with a sleeping reader warns once (an allowed report), and the reader still gets the next message',
    async run(t) {
      const r = await t.exec(['sh', '-c', 'mailbox-test read & sleep 1; mailbox-test reset write:bye; wait'], { timeoutMs: 20_000 });
      t.equal(lines(r).sort(), ['read 3 bye', 'reset', 'write 3'], 'steps');
      t.match(await t.dmesg(), /mailbox: reset while 1 readers sleep/, 'the warning');
    },
  },
  {
    name: 'reload-10',
    description: 'ten loads and unloads in a row',
    load: false,
    async run(t) {
      for (let i = 0; i < 10; i++) {
        await t.module.load();
        t.equal((await box(t, 'write:x', 'read')).out, ['write 1', 'read 1 x'], `round ${i + 1}`);
        await t.module.unload();
      }
      t.equal((await t.exec(['ls', '/dev/mailbox'])).exitCode === 0, false, 'the device is gone');
    },
  },
] satisfies Scenario[];

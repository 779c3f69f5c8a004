// Snapshot a ready default-image guest once, restore fresh guests from it: independent, fast, nothing left behind.
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Guest } from '../../rig/vm/guest.ts';
import { QemuError } from '../../rig/core/errors.ts';
import { liveQemuPids } from '../../rig/vm/qemu.ts';
import { gone, guestFixture } from '../helpers/rig.ts';
import { takeSnapshot } from '../../rig/vm/snapshot.ts';

t.setTimeout(300_000);



function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

t.test('snapshot', async (t) => {
  const { dir, opts, pids } = await guestFixture(t, 'ktest-snap-');

  let started = performance.now();
  const snapshot = await takeSnapshot(opts, dir);
  t.comment(`boot + save: ${(performance.now() - started).toFixed(0)} ms, ${((await stat(snapshot.file)).size / 1e6).toFixed(1)} MB`);
  t.same(liveQemuPids(), [], 'the template guest is gone');

  t.test('three restores, each a fresh copy of the saved guest', async (t) => {
    const restoreMs: number[] = [];
    const firstExecMs: number[] = [];
    for (let i = 0; i < 3; i++) {
      started = performance.now();
      const guest = await snapshot.restore();
      restoreMs.push(performance.now() - started);
      pids.push(guest.pid);
      try {
        started = performance.now();
        const r = await guest.exec(['sh', '-c', `ls /tmp; echo ${i} > /tmp/written-by-${i}`]);
        firstExecMs.push(performance.now() - started);
        t.equal(r.exitCode, 0);
        t.equal(r.stdout.toString(), '', `restore ${i}: no file from an earlier restore`);
        const again = await guest.exec(['cat', `/tmp/written-by-${i}`]);
        t.equal(again.stdout.toString(), `${i}\n`, 'the guest keeps its own state');
      } finally {
        await guest.close();
      }
      t.ok(gone(guest.pid), `restore ${i}: QEMU gone after close`);
    }
    t.comment(`restore to a ready agent: median ${median(restoreMs).toFixed(0)} ms (${restoreMs.map((x) => x.toFixed(0)).join(', ')})`);
    t.comment(`first exec after restore: median ${median(firstExecMs).toFixed(0)} ms`);
  });

  t.test('restored guests run concurrently and independently', async (t) => {
    const guests = await Promise.all([snapshot.restore(), snapshot.restore()]);
    for (const g of guests) pids.push(g.pid);
    try {
      await guests[0]!.exec(['touch', '/tmp/only-in-0']);
      const r = await guests[1]!.exec(['ls', '/tmp']);
      t.equal(r.stdout.toString(), '');
    } finally {
      await Promise.all(guests.map((g) => g.close()));
    }
  });

  t.test('a corrupt snapshot is an infrastructure error', async (t) => {
    const bad = join(dir, 'bad.snapshot');
    await writeFile(bad, readFileSync(snapshot.file).subarray(0, 4096));
    const error = await Guest.restore(opts, bad).catch((e: unknown) => e);
    t.ok(error instanceof QemuError, `QemuError: ${error}`);
  });

  t.test('remove deletes the file; nothing is left', async (t) => {
    await snapshot.remove();
    await snapshot.remove();
    t.notOk(existsSync(snapshot.file));
    t.same(liveQemuPids(), []);
    for (const pid of pids) t.ok(gone(pid), `pid ${pid} gone`);
  });
});

import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { pool } from '../../../rig/core/pool.ts';

t.test('pool keeps order and never runs more than the limit at once', async (t) => {
  let running = 0;
  let peak = 0;
  const out = await pool([30, 10, 20, 5, 1], 2, async (ms, i) => {
    running++;
    peak = Math.max(peak, running);
    await sleep(ms);
    running--;
    return i * 10;
  });
  t.same(out, [0, 10, 20, 30, 40]);
  t.equal(peak, 2);
});

t.test('pool propagates the first failure', async (t) => {
  await t.rejects(pool([1, 2], 2, async (n) => { if (n === 2) throw new Error('boom'); return n; }), /boom/);
});

t.test('after a failure pool starts nothing new and waits for the running workers before throwing', async (t) => {
  const started: number[] = [];
  let finished = 0;
  const work = pool([0, 1, 2, 3, 4], 2, async (n) => {
    started.push(n);
    if (n === 0) {
      await sleep(5);
      throw new Error('boom');
    }
    await sleep(40);
    finished++;
    return n;
  });
  await t.rejects(work, /boom/);
  t.same(started, [0, 1], 'no item started after the failure');
  t.equal(finished, 1, 'the worker still running when the failure came was awaited');
});

t.test('pool with no items returns nothing', async (t) => {
  t.same(await pool([], 4, async () => 1), []);
});

t.test('splitJobs: images in parallel first, spare guests as lanes inside an image', async (t) => {
  const { splitJobs } = await import('../../../rig/run/run.ts');
  t.same(splitJobs(2, 1), { images: 1, lanes: 2 });
  t.same(splitJobs(2, 5), { images: 2, lanes: 1 });
  t.same(splitJobs(8, 3), { images: 3, lanes: 2 });
  t.same(splitJobs(1, 1), { images: 1, lanes: 1 });
  t.same(splitJobs(0, 0), { images: 1, lanes: 1 });
});

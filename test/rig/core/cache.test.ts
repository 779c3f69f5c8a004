// The cache helper: one builder per entry (others wait), verification records, damaged entries rebuilt with one line, no debris.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync, truncateSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { cacheEntry, checkEntry, RECORD } from '../../../rig/core/cache.ts';
import type { RigEvent } from '../../../rig/core/events.ts';

async function tmp(t: { teardown(fn: () => unknown): void }): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'cache-test-'));
  t.teardown(() => rm(d, { recursive: true, force: true }));
  return d;
}

/** A pid that is certainly dead (a process that has exited and been reaped). */
function deadPid(): number {
  const r = spawnSync('sh', ['-c', 'echo $$']);
  return Number(String(r.stdout).trim());
}

t.test('two builders of one entry: the second waits and uses the first one\'s result', async (t) => {
  const root = await tmp(t);
  const dir = join(root, 'e', 'one');
  let builds = 0;
  const events: RigEvent[] = [];
  const spec = {
    dir,
    label: 'entry one',
    key: 'k1',
    onEvent: (e: RigEvent) => events.push(e),
    build: async (d: string) => {
      builds++;
      await sleep(400);
      await writeFile(join(d, 'a.bin'), 'hello');
    },
  };
  const [a, b] = await Promise.all([cacheEntry(spec), cacheEntry(spec)]);
  t.equal(a, dir);
  t.equal(b, dir);
  t.equal(builds, 1, 'built once');
  t.match(events, [{ type: 'log', message: /waiting for another rig \(pid \d+\) that is making entry one/ }]);
  t.same(readdirSync(join(root, 'e')).sort(), ['one'], 'no lock, no temp dir left');
  t.same(await checkEntry(dir, 'k1', 'full'), { ok: true });
});

t.test('a damaged entry is rebuilt with one line; a stale key too', async (t) => {
  const root = await tmp(t);
  const dir = join(root, 'two');
  let builds = 0;
  const lines: string[] = [];
  const spec = {
    dir,
    label: 'entry two',
    key: 'k2',
    onEvent: (e: RigEvent) => e.type === 'log' && lines.push(e.message),
    build: async (d: string) => {
      builds++;
      mkdirSync(join(d, 'sub'));
      await writeFile(join(d, 'sub', 'x.ko'), Buffer.alloc(1000, 7));
    },
  };
  await cacheEntry(spec);
  truncateSync(join(dir, 'sub', 'x.ko'), 10);
  t.match(await checkEntry(dir, 'k2'), { ok: false, missing: false, problem: 'sub/x.ko is 10 bytes, was 1000' });
  await cacheEntry(spec);
  t.equal(builds, 2);
  t.match(lines, [/^cache: entry two is damaged \(sub\/x\.ko is 10 bytes, was 1000\); rebuilding it/]);
  t.same(await checkEntry(dir, 'k2', 'full'), { ok: true });
  t.match(await checkEntry(dir, 'k3'), { ok: false, problem: /another layout or location/ });
  t.match(await checkEntry(join(root, 'nothing'), 'k2'), { ok: false, missing: true });
  await rm(join(dir, RECORD));
  t.match(await checkEntry(dir, 'k2'), { ok: false, missing: false, problem: /no verification record/ });
});

t.test('a failed build leaves nothing; a dead owner\'s lock and temp dirs are removed', async (t) => {
  const root = await tmp(t);
  const dir = join(root, 'three');
  await t.rejects(
    cacheEntry({ dir, label: 'three', key: 'k', build: async (d) => { await writeFile(join(d, 'half'), 'x'); throw new Error('network down'); } }),
    /network down/,
  );
  t.same(readdirSync(root), [], 'no temp dir, no lock, no entry');
  // An interrupted rig (kill -9) left its lock and its half-built temp dir.
  const pid = deadPid();
  mkdirSync(`${dir}.lock`);
  writeFileSync(join(`${dir}.lock`, 'pid'), `${pid}\n`);
  mkdirSync(join(root, `.tmp-three-${pid}-abcd`));
  writeFileSync(join(root, `.tmp-three-${pid}-abcd`, 'half'), 'x');
  await cacheEntry({ dir, label: 'three', key: 'k', build: async (d) => writeFile(join(d, 'whole'), 'y') });
  t.same(readdirSync(root), ['three']);
  t.ok(existsSync(join(dir, 'whole')));
});

t.test('symlinks are recorded: a redirected link is damage', async (t) => {
  const root = await tmp(t);
  const dir = join(root, 'four');
  await cacheEntry({ dir, label: 'four', key: 'k', build: async (d) => { await writeFile(join(d, 'f'), 'x'); symlinkSync('f', join(d, 'l')); } });
  await rm(join(dir, 'l'));
  symlinkSync('/etc/passwd', join(dir, 'l'));
  t.match(await checkEntry(dir, 'k'), { ok: false, problem: 'link l points to /etc/passwd, was f' });
});

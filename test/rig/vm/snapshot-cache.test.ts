import t from 'tap';
import { mkdtempSync, writeFileSync, mkdirSync, existsSync, readFileSync, utimesSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { spawn } from 'node:child_process';
import {
  acquireLock,
  clearSnapshots,
  evict,
  listSnapshots,
  sampleHash,
  snapshotCacheBound,
  snapshotInputs,
  snapshotKey,
  toEvict,
  verifyEntry,
  SNAPSHOT_FORMAT,
  DEFAULT_SNAPSHOT_CACHE_MB,
  type SnapshotInputs,
} from '../../../rig/vm/snapshot-cache.ts';
import type { GuestOptions } from '../../../rig/vm/guest.ts';
import type { QemuSpec } from '../../../rig/vm/types.ts';

const qemu: QemuSpec = { binary: 'qemu-system-x86_64', machine: 'pc', cpu: 'max', console: 'ttyS0', commandChannel: 'serial', commandPort: 'ttyS1', filesChannel: 'virtio-serial-pci' };

function fixture(): { dir: string; options: GuestOptions } {
  const dir = mkdtempSync(join(tmpdir(), 'snapcache-'));
  writeFileSync(join(dir, 'vmlinux'), 'kernel');
  writeFileSync(join(dir, 'initrd'), 'initrd bytes');
  return { dir, options: { kernelPath: join(dir, 'vmlinux'), initrdPath: join(dir, 'initrd'), qemu, accel: 'tcg', appendExtra: ['slub_debug=FZPU'] } };
}

t.test('snapshotKey: the same guest gives the same key; anything that shapes it changes the key', async (t) => {
  const { dir, options } = fixture();
  const base = await snapshotInputs('img', options);
  t.equal(base.format, SNAPSHOT_FORMAT);
  t.ok(base.argv.includes('<initrd>') && !base.argv.some((a) => a.includes(dir + '/initrd')), 'the initramfs path is not in the key, its hash is');
  t.ok(base.argv.some((a) => a.includes('<dir>/cmd.sock')), 'per-guest socket paths are placeholders');
  const key = snapshotKey(base);
  t.match(key, /^[0-9a-f]{24}$/);
  const other = mkdtempSync(join(tmpdir(), 'snapcache-'));
  writeFileSync(join(other, 'initrd'), 'initrd bytes');
  t.equal(snapshotKey(await snapshotInputs('img', { ...options, initrdPath: join(other, 'initrd') })), key, 'same initramfs bytes elsewhere: same key');
  const variants: Array<[string, GuestOptions | (() => void)]> = [
    ['cpus', { ...options, cpus: 2 }],
    ['memory', { ...options, memoryMb: 512 }],
    ['debug settings (cmdline)', { ...options, appendExtra: [] }],
    ['accelerator', { ...options, accel: 'kvm' }],
    ['machine', { ...options, qemu: { ...qemu, machine: 'q35' } }],
    ['QEMU binary', { ...options, qemu: { ...qemu, binary: '/nonexistent/qemu' } }],
    ['files channel device', { ...options, qemu: { ...qemu, filesChannel: undefined } }],
  ];
  for (const [what, variant] of variants) {
    t.not(snapshotKey(await snapshotInputs('img', variant as GuestOptions)), key, what);
  }
  t.equal(snapshotKey(await snapshotInputs('img', { ...options, gdb: true })), key, 'the gdb stub (no device) is not part of the key: --gdb restores the same snapshot');
  writeFileSync(join(dir, 'initrd'), 'other initrd bytes');
  t.not(snapshotKey(await snapshotInputs('img', options)), key, 'initramfs contents');
  writeFileSync(join(dir, 'vmlinux'), 'a new kernel');
  utimesSync(join(dir, 'vmlinux'), new Date(1000), new Date(1000));
  const k2 = snapshotKey(await snapshotInputs('img', options));
  t.not(k2, key, 'kernel file');
  t.not(snapshotKey({ ...(await snapshotInputs('img', options)), image: 'other' } as SnapshotInputs), k2, 'image id');
});

function entry(root: string, name: string, bytes: number, usedAt: number): void {
  mkdirSync(join(root, 'snapshots', name), { recursive: true });
  writeFileSync(join(root, 'snapshots', name, 'ready.snapshot'), Buffer.alloc(bytes));
  writeFileSync(join(root, 'snapshots', name, 'used'), '');
  utimesSync(join(root, 'snapshots', name, 'used'), new Date(usedAt), new Date(usedAt));
}

t.test('toEvict: least recently used first until under the bound, never the one in use', async (t) => {
  const e = (name: string, bytes: number) => ({ name, bytes });
  // most recently used first
  t.same(toEvict([e('a', 10), e('b', 10), e('c', 10)], 30, 'a'), [], 'fits');
  t.same(toEvict([e('a', 10), e('b', 10), e('c', 10)], 25, 'a'), ['c']);
  t.same(toEvict([e('a', 10), e('b', 10), e('c', 10)], 5, 'a'), ['c', 'b'], 'keeps the current one even over the bound');
  t.same(toEvict([e('a', 10), e('b', 10), e('c', 10)], 15, 'c'), ['b', 'a'], 'skips the kept one, takes the next oldest');
});

t.test('evict: removes the oldest entries on disk, skips locked ones, cleans up after dead rigs', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'snapcache-'));
  entry(root, 'img-old', 3000, 1_000_000);
  entry(root, 'img-mid', 3000, 2_000_000);
  entry(root, 'img-new', 3000, 3_000_000);
  entry(root, 'img-locked', 3000, 500_000);
  writeFileSync(join(root, 'snapshots', 'img-locked.lock'), `${process.pid}\n`);
  mkdirSync(join(root, 'snapshots', 'in-use'));
  writeFileSync(join(root, 'snapshots', 'in-use', '999999999-abcd.snapshot'), 'x');
  mkdirSync(join(root, 'snapshots', '.tmp-img-x-999999999-abcdef'));
  const list = await listSnapshots(join(root, 'snapshots'));
  t.same(list.map((e) => e.name), ['img-new', 'img-mid', 'img-old', 'img-locked'], 'most recently used first');
  const evicted = await evict(join(root, 'snapshots'), 7000, 'img-new');
  t.same(evicted, ['img-old'], 'the locked entry is not touched, the oldest unlocked one goes');
  t.notOk(existsSync(join(root, 'snapshots', 'img-old')));
  t.ok(existsSync(join(root, 'snapshots', 'img-locked')));
  t.notOk(existsSync(join(root, 'snapshots', 'in-use', '999999999-abcd.snapshot')), 'a dead rig\'s link is removed');
  t.notOk(existsSync(join(root, 'snapshots', '.tmp-img-x-999999999-abcdef')), 'a dead rig\'s temp dir is removed');
  const cleared = await clearSnapshots(join(root, 'snapshots'), ['nothing-like-this']);
  t.same(cleared, { removed: 0, bytes: 0 }, 'clear with ids only clears those images');
  t.same(await clearSnapshots(join(root, 'snapshots')), { removed: 3, bytes: 9000 });
  t.same(await listSnapshots(join(root, 'snapshots')), []);
});

t.test('verifyEntry: a record that matches is accepted; truncation, rewrites and a wrong key are not', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'snapcache-'));
  const file = join(dir, 'ready.snapshot');
  const data = Buffer.alloc(3 * 1024 * 1024 + 100);
  for (let i = 0; i < data.length; i += 997) data[i] = i & 255;
  writeFileSync(file, data);
  const inputs = { format: SNAPSHOT_FORMAT } as SnapshotInputs;
  const writeRecord = () => {
    const s = statSync(file);
    writeFileSync(join(dir, 'record.json'), JSON.stringify({ key: 'k1', inputs, size: s.size, mtimeMs: s.mtimeMs, sample: '' }));
  };
  const sample = await sampleHash(file);
  const s = statSync(file);
  writeFileSync(join(dir, 'record.json'), JSON.stringify({ key: 'k1', inputs, size: s.size, mtimeMs: s.mtimeMs, sample }));
  t.ok(await verifyEntry(dir, 'k1'), 'intact');
  t.notOk(await verifyEntry(dir, 'k2'), 'another key');
  // same size and mtime, different bytes in a sampled block: only the hash can tell
  const fh = readFileSync(file);
  fh[1024 * 1024 + 10] ^= 0xff;
  writeFileSync(file, fh);
  utimesSync(file, s.atime, s.mtime);
  t.notOk(await verifyEntry(dir, 'k1'), 'rewritten bytes with the old mtime');
  writeFileSync(file, data.subarray(0, 1000));
  writeRecord();
  t.notOk(await verifyEntry(dir, 'k1'), 'a record whose sample does not match');
  writeFileSync(join(dir, 'record.json'), '{"key": "k1", tru');
  t.notOk(await verifyEntry(dir, 'k1'), 'a torn record');
});

t.test('acquireLock: exclusive between processes, stolen from a dead holder, released by the holder', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'snapcache-'));
  const lock = join(dir, 'x.lock');
  const release = await acquireLock(lock, Date.now() + 1000);
  t.equal(readFileSync(lock, 'utf8').trim(), String(process.pid));
  await t.rejects(acquireLock(lock, Date.now() + 300), { name: 'InfraError' }, 'held by a live process: waits, then times out');
  await release();
  t.notOk(existsSync(lock));
  const child = spawn(process.execPath, ['-e', '0']);
  const deadPid = child.pid!;
  await new Promise((r) => child.on('exit', r));
  writeFileSync(lock, `${deadPid}\n`);
  const again = await acquireLock(lock, Date.now() + 1000);
  t.equal(readFileSync(lock, 'utf8').trim(), String(process.pid), 'a dead holder\'s lock is taken over');
  await again();
});

t.test('snapshotsDir: KTEST_RIG_SNAPSHOT_DIR, else under the cache', async (t) => {
  const { snapshotsDir } = await import('../../../rig/vm/snapshot-cache.ts');
  t.equal(snapshotsDir('/c', {}), '/c/snapshots');
  t.equal(snapshotsDir('/c', { KTEST_RIG_SNAPSHOT_DIR: '/fast/snaps' }), '/fast/snaps');
});

t.test('snapshotCacheBound: megabytes from the environment, else the default', async (t) => {
  t.equal(snapshotCacheBound({}), DEFAULT_SNAPSHOT_CACHE_MB * 1048576);
  t.equal(snapshotCacheBound({ KTEST_RIG_SNAPSHOT_CACHE_MB: '10' }), 10 * 1048576);
  t.throws(() => snapshotCacheBound({ KTEST_RIG_SNAPSHOT_CACHE_MB: 'lots' }), { name: 'InfraError' });
});

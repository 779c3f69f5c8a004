// Ready-guest snapshots kept in the cache across runs: keyed by everything that shapes the guest,
// written atomically, verified before use, shared by rigs running at once, bounded in size (LRU).
//
// Layout under <cache>/snapshots/ (or $KTEST_RIG_SNAPSHOT_DIR):
//   <image>-<key>/ready.snapshot   the migration stream of a booted guest whose agent answered
//   <image>-<key>/record.json      what the key was made of, the file's size, mtime and sampled hash
//   <image>-<key>/used             touched at every use (eviction is least recently used first)
//   <image>-<key>.lock             held (O_EXCL, our pid inside) while one rig builds that entry
//   in-use/<pid>-<rand>.snapshot   a hard link per restoring rig: eviction never pulls a file from under it
// Entries are built in a temporary dir and renamed into place; a rig that finds an entry whose file
// does not match its record (truncated, rewritten, half-deleted) removes it and builds it again.
import { createHash, randomBytes } from 'node:crypto';
import { constants, existsSync } from 'node:fs';
import { link, mkdir, open, readdir, readFile, rename, rm, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { delimiter, join, resolve } from 'node:path';
import { InfraError } from '../core/errors.ts';
import type { EventSink } from '../core/events.ts';
import { Guest, guestArgv, type GuestOptions } from './guest.ts';

/** Bump when the entry format or what a snapshot holds changes: old entries then never match. */
export const SNAPSHOT_FORMAT = 1;
/** Default bound of the snapshot cache; KTEST_RIG_SNAPSHOT_CACHE_MB overrides it. */
export const DEFAULT_SNAPSHOT_CACHE_MB = 1024;
/** Sampled hash: SAMPLE_BYTES at every SAMPLE_STRIDE, plus the last SAMPLE_BYTES. */
const SAMPLE_BYTES = 4096;
const SAMPLE_STRIDE = 1024 * 1024;
const LOCK_POLL_MS = 100;
const FILE = 'ready.snapshot';
const RECORD = 'record.json';
const USED = 'used';
const IN_USE = 'in-use';

/** What a snapshot depends on, as recorded (and shown) with it. */
export interface SnapshotInputs {
  readonly format: number;
  readonly image: string;
  /** QEMU's argv with the per-guest dir as <dir> and the initramfs as <initrd>: machine, memory, cpus, devices, cmdline, debug knobs. */
  readonly argv: readonly string[];
  /** The QEMU binary as found on PATH: a new QEMU (version) is a new file. */
  readonly qemu: FileIdentity;
  /** The kernel file (its path names the image's pins). */
  readonly kernel: FileIdentity;
  /** sha256 of the initramfs bytes (agent, tools, guest modules; never the module under test). */
  readonly initrdSha256: string;
  /** What ran in the guest before the save (EnsureSnapshotOptions.prepareId), if anything. */
  readonly prepared?: string;
}

export interface FileIdentity {
  readonly path: string;
  readonly size: number;
  readonly mtimeMs: number;
}

export interface SnapshotRecord {
  readonly key: string;
  readonly inputs: SnapshotInputs;
  readonly size: number;
  readonly mtimeMs: number;
  readonly sample: string;
  readonly createdAt: string;
  /** Wall time of the boot that made it. */
  readonly bootMs: number;
}

/** The key of a set of inputs: 24 hex digits of sha256 over their canonical JSON. Pure. */
export function snapshotKey(inputs: SnapshotInputs): string {
  return createHash('sha256').update(JSON.stringify(inputs)).digest('hex').slice(0, 24);
}

/** The cache's size bound in bytes from the environment (MB), else the default. */
export function snapshotCacheBound(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.KTEST_RIG_SNAPSHOT_CACHE_MB;
  const mb = raw === undefined || raw === '' ? DEFAULT_SNAPSHOT_CACHE_MB : Number(raw);
  if (!Number.isFinite(mb) || mb < 0) throw new InfraError(`KTEST_RIG_SNAPSHOT_CACHE_MB must be a number of megabytes, got ${JSON.stringify(raw)}`);
  return Math.floor(mb * 1024 * 1024);
}

/** Where snapshots live: $KTEST_RIG_SNAPSHOT_DIR (another disk, or a test's own), else <cache>/snapshots. */
export function snapshotsDir(cacheDir: string, env: NodeJS.ProcessEnv = process.env): string {
  return env.KTEST_RIG_SNAPSHOT_DIR ? resolve(env.KTEST_RIG_SNAPSHOT_DIR) : join(cacheDir, 'snapshots');
}

async function identity(path: string): Promise<FileIdentity> {
  const s = await stat(path);
  return { path: resolve(path), size: s.size, mtimeMs: s.mtimeMs };
}

/** A binary name resolved along PATH (absolute paths as given). */
export function whichSync(binary: string, path: string = process.env.PATH ?? ''): string {
  if (binary.includes('/')) return resolve(binary);
  for (const dir of path.split(delimiter)) {
    if (dir && existsSync(join(dir, binary))) return join(dir, binary);
  }
  return binary;
}

/** Everything that shapes the guest a snapshot of `options` would hold. */
export async function snapshotInputs(image: string, options: GuestOptions): Promise<SnapshotInputs> {
  // The initramfs lives in each run's temp dir: its bytes are hashed, its path is not part of the key.
  // The gdb stub is no device: a guest with it restores a snapshot saved without it, and the other way round.
  const { binary, args } = guestArgv({ ...options, initrdPath: '<initrd>', gdb: false }, '<dir>');
  const qemuPath = whichSync(binary);
  const [qemu, kernel, initrd] = await Promise.all([
    identity(qemuPath).catch(() => ({ path: qemuPath, size: -1, mtimeMs: -1 })),
    identity(options.kernelPath),
    readFile(options.initrdPath),
  ]);
  return { format: SNAPSHOT_FORMAT, image, argv: [binary, ...args], qemu, kernel, initrdSha256: createHash('sha256').update(initrd).digest('hex') };
}

/** sha256 over the size and SAMPLE_BYTES at every SAMPLE_STRIDE and at the end: cheap, catches truncation and rewrites. */
export async function sampleHash(file: string): Promise<string> {
  const fh = await open(file, 'r');
  try {
    const { size } = await fh.stat();
    const h = createHash('sha256').update(`${size}\n`);
    const buf = Buffer.alloc(SAMPLE_BYTES);
    const offsets: number[] = [];
    for (let off = 0; off < size; off += SAMPLE_STRIDE) offsets.push(off);
    if (size > SAMPLE_BYTES) offsets.push(size - SAMPLE_BYTES);
    for (const off of offsets) {
      const { bytesRead } = await fh.read(buf, 0, SAMPLE_BYTES, off);
      h.update(buf.subarray(0, bytesRead));
    }
    return h.digest('hex');
  } finally {
    await fh.close();
  }
}

/** Does `dir` hold a complete entry whose file matches its record and key? */
export async function verifyEntry(dir: string, key: string): Promise<SnapshotRecord | undefined> {
  try {
    const record = JSON.parse(await readFile(join(dir, RECORD), 'utf8')) as SnapshotRecord;
    if (record.key !== key || record.inputs?.format !== SNAPSHOT_FORMAT) return undefined;
    const s = await stat(join(dir, FILE));
    if (s.size !== record.size || s.mtimeMs !== record.mtimeMs) return undefined;
    if ((await sampleHash(join(dir, FILE))) !== record.sample) return undefined;
    return record;
  } catch {
    return undefined;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Take `<path>` as a lock (our pid inside); waits while a live process holds it, steals it from a dead one. */
export async function acquireLock(path: string, deadline: number): Promise<() => Promise<void>> {
  for (;;) {
    try {
      const fh = await open(path, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o644);
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      return () => unlink(path).catch(() => {});
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
    // An empty file is a lock being written right now; a dead holder's lock is stale.
    if (Number.isInteger(holder) && holder > 0 && !pidAlive(holder)) {
      await unlink(path).catch(() => {});
      continue;
    }
    if (Date.now() >= deadline) throw new InfraError(`timed out waiting for ${path} (held by pid ${holder || '?'})`, { hint: `remove ${path} if no rig is running` });
    await new Promise((r) => setTimeout(r, LOCK_POLL_MS));
  }
}

export interface CachedSnapshot {
  /** A private hard link to the snapshot file: restore from it until release(). */
  readonly file: string;
  readonly key: string;
  /** true when this call booted the guest and wrote the entry. */
  readonly created: boolean;
  readonly record: SnapshotRecord;
  /** Drop the private link (idempotent). */
  release(): Promise<void>;
}

export interface EnsureSnapshotOptions {
  readonly image: string;
  readonly options: GuestOptions;
  readonly cacheDir: string;
  readonly onEvent?: EventSink;
  /** How to boot the template guest (default Guest.boot(options); the engine checks the kernel tree on a failure). */
  readonly boot?: () => Promise<Guest>;
  /** Run in the booted guest before it is saved. */
  readonly prepare?: (guest: Guest) => Promise<void>;
  /** Names what `prepare` does (e.g. its script): part of the key, so a changed step makes a new snapshot. */
  readonly prepareId?: string;
  /** How long to wait for another rig building the same entry (default 5 min). */
  readonly lockWaitMs?: number;
  /** Size bound in bytes (default snapshotCacheBound()). */
  readonly boundBytes?: number;
}

/** The ready-guest snapshot for these options: the cached one if it verifies, else boot, save and keep it. */
export async function ensureSnapshot(o: EnsureSnapshotOptions): Promise<CachedSnapshot> {
  const root = snapshotsDir(o.cacheDir);
  await mkdir(join(root, IN_USE), { recursive: true });
  const inputs = { ...(await snapshotInputs(o.image, o.options)), ...(o.prepareId !== undefined && { prepared: o.prepareId }) };
  const key = snapshotKey(inputs);
  const name = `${o.image}-${key}`;
  const dir = join(root, name);
  let record = await verifyEntry(dir, key);
  let created = false;
  if (!record) {
    const unlock = await acquireLock(join(root, `${name}.lock`), Date.now() + (o.lockWaitMs ?? 5 * 60_000));
    try {
      record = await verifyEntry(dir, key); // another rig may have built it while we waited
      if (!record) {
        if (existsSync(dir)) {
          o.onEvent?.({ type: 'log', level: 'info', message: `${o.image}: cached snapshot ${name} does not match its record: rebuilding it` });
          await removeEntry(root, name);
        }
        record = await buildEntry(root, name, key, inputs, o);
        created = true;
      }
    } finally {
      await unlock();
    }
    await evict(root, o.boundBytes ?? snapshotCacheBound(), name);
  }
  await utimes(join(dir, USED), new Date(), new Date()).catch(() => writeFile(join(dir, USED), '').catch(() => {}));
  const file = join(root, IN_USE, `${process.pid}-${randomBytes(4).toString('hex')}.snapshot`);
  await link(join(dir, FILE), file);
  return { file, key, created, record, release: () => rm(file, { force: true }) };
}

async function buildEntry(root: string, name: string, key: string, inputs: SnapshotInputs, o: EnsureSnapshotOptions): Promise<SnapshotRecord> {
  const tmp = join(root, `.tmp-${name}-${process.pid}-${randomBytes(3).toString('hex')}`);
  await mkdir(tmp, { recursive: true });
  try {
    o.onEvent?.({ type: 'stage', image: o.image, stage: 'boot', message: 'booting the template guest (snapshot not cached yet)' });
    const t0 = Date.now();
    const guest = await (o.boot ? o.boot() : Guest.boot(o.options));
    const bootMs = Date.now() - t0;
    try {
      await o.prepare?.(guest);
      o.onEvent?.({ type: 'stage', image: o.image, stage: 'snapshot', message: 'saving the snapshot into the cache' });
      await guest.saveSnapshot(join(tmp, FILE));
    } finally {
      await guest.close();
    }
    const s = await stat(join(tmp, FILE));
    const record: SnapshotRecord = { key, inputs, size: s.size, mtimeMs: s.mtimeMs, sample: await sampleHash(join(tmp, FILE)), createdAt: new Date().toISOString(), bootMs };
    await writeFile(join(tmp, RECORD), `${JSON.stringify(record, null, 2)}\n`);
    await writeFile(join(tmp, USED), '');
    await rename(tmp, join(root, name));
    return record;
  } catch (error) {
    await rm(tmp, { recursive: true, force: true });
    throw error;
  }
}

/** Move an entry aside (one rename, atomic for readers) and delete it. */
async function removeEntry(root: string, name: string): Promise<void> {
  const trash = join(root, `.trash-${name}-${process.pid}-${randomBytes(3).toString('hex')}`);
  try {
    await rename(join(root, name), trash);
  } catch {
    return;
  }
  await rm(trash, { recursive: true, force: true });
}

export interface SnapshotEntry {
  readonly name: string;
  readonly image: string;
  readonly key: string;
  readonly bytes: number;
  readonly lastUsed: Date;
  readonly record?: SnapshotRecord;
}

/** The entries under `root` (snapshotsDir()), most recently used first (no verification: `images list` shows them). */
export async function listSnapshots(root: string): Promise<SnapshotEntry[]> {
  const names = (await readdir(root).catch(() => [] as string[])).filter((n) => !n.startsWith('.') && n !== IN_USE && !n.endsWith('.lock'));
  const out: SnapshotEntry[] = [];
  for (const name of names) {
    const dir = join(root, name);
    const record = await readFile(join(dir, RECORD), 'utf8').then((t) => JSON.parse(t) as SnapshotRecord).catch(() => undefined);
    const bytes = await stat(join(dir, FILE)).then((s) => s.size).catch(() => 0);
    const lastUsed = await stat(join(dir, USED)).then((s) => s.mtime).catch(() => new Date(0));
    const dash = name.lastIndexOf('-');
    out.push({ name, image: record?.inputs.image ?? name.slice(0, dash), key: record?.key ?? name.slice(dash + 1), bytes, lastUsed, record });
  }
  return out.sort((a, b) => b.lastUsed.getTime() - a.lastUsed.getTime());
}

/** Which entries to evict to bring `entries` (most recent first) under `bound`, never `keep`. Pure. */
export function toEvict(entries: readonly Pick<SnapshotEntry, 'name' | 'bytes'>[], bound: number, keep: string): string[] {
  let total = entries.reduce((sum, e) => sum + e.bytes, 0);
  const out: string[] = [];
  for (let i = entries.length - 1; i >= 0 && total > bound; i--) {
    const e = entries[i]!;
    if (e.name === keep) continue;
    out.push(e.name);
    total -= e.bytes;
  }
  return out;
}

/** Remove least recently used entries until the cache fits `bound`; also stale temp dirs and links. */
export async function evict(root: string, bound: number, keep: string): Promise<string[]> {
  const entries = await listSnapshots(root);
  const victims = toEvict(entries, bound, keep).filter((name) => !existsSync(join(root, `${name}.lock`)));
  for (const name of victims) await removeEntry(root, name);
  for (const n of await readdir(root).catch(() => [] as string[])) {
    const pid = /^\.(?:tmp|trash)-.*-(\d+)-[0-9a-f]{6}$/.exec(n)?.[1];
    if (pid && !pidAlive(Number(pid))) await rm(join(root, n), { recursive: true, force: true });
  }
  for (const n of await readdir(join(root, IN_USE)).catch(() => [] as string[])) {
    const pid = /^(\d+)-/.exec(n)?.[1];
    if (pid && !pidAlive(Number(pid))) await rm(join(root, IN_USE, n), { force: true });
  }
  return victims;
}

/** Delete every snapshot under `root` (or those of `images`); returns the bytes freed. Rigs restoring right now keep their links. */
export async function clearSnapshots(root: string, images?: readonly string[]): Promise<{ removed: number; bytes: number }> {
  let removed = 0;
  let bytes = 0;
  for (const e of await listSnapshots(root)) {
    if (images && images.length > 0 && !images.includes(e.image)) continue;
    await removeEntry(root, e.name);
    removed++;
    bytes += e.bytes;
  }
  return { removed, bytes };
}

// The one cache helper: every cache entry is built in a temp dir beside its final place under a lock, carries a verification record, and is renamed into place atomically; a damaged entry is rebuilt, never used.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, lstatSync, readFileSync, readlinkSync } from 'node:fs';
import { lstat, mkdir, readFile, readdir, readlink, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CacheError } from './errors.ts';
import { nullSink, type EventSink } from './events.ts';

/** The verification record inside every entry. */
export const RECORD = '.ktest-rig-entry.json';
const RECORD_VERSION = 1;

interface FileRecord {
  readonly size: number;
  readonly mtimeMs: number;
  readonly sha256: string;
}
interface EntryRecord {
  readonly version: number;
  /** What the entry was made for (layout version, absolute root, pins...): another key is a stale entry. */
  readonly key: string;
  readonly files: Readonly<Record<string, FileRecord>>;
  readonly links: Readonly<Record<string, string>>;
}

export type CheckMode = 'cheap' | 'full';
export type EntryState = { readonly ok: true } | { readonly ok: false; readonly missing: boolean; readonly problem: string };

export interface EntrySpec {
  /** Final directory of the entry. */
  readonly dir: string;
  /** What it is, for messages ("kernel tree bookworm-6.1"). */
  readonly label: string;
  /** What the entry must have been made for; a record with another key is rebuilt. */
  readonly key: string;
  /** Fill `tmp` (an empty directory beside the final one) with the entry's content. */
  readonly build: (tmp: string) => Promise<void>;
  /** Which files (paths relative to the entry) the rig relies on; default every file and symlink. */
  readonly select?: (rel: string) => boolean;
  /** Remove a tree (build roots need sudo for root-owned files); default fs.rm. */
  readonly remove?: (path: string) => Promise<void>;
  readonly onEvent?: EventSink;
  /** How the existing entry is checked before use (default cheap; `images verify` and blame checks: full). */
  readonly mode?: CheckMode;
}

export async function sha256File(path: string): Promise<string> {
  const st = lstatSync(path);
  // Small files (most of a headers tree) in one read: a stream per file costs more than the hash.
  if (st.size < 1 << 20) return createHash('sha256').update(readFileSync(path)).digest('hex');
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

export async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

async function readRecord(dir: string): Promise<EntryRecord | undefined> {
  try {
    const r = JSON.parse(await readFile(join(dir, RECORD), 'utf8')) as EntryRecord;
    return r.version === RECORD_VERSION && typeof r.files === 'object' ? r : undefined;
  } catch {
    return undefined;
  }
}

/** Every regular file and symlink under dir (relative paths, sorted), the record itself left out. */
async function listTree(dir: string, sub = ''): Promise<{ files: string[]; links: string[] }> {
  const out = { files: [] as string[], links: [] as string[] };
  for (const e of await readdir(join(dir, sub), { withFileTypes: true })) {
    const rel = sub ? `${sub}/${e.name}` : e.name;
    if (rel === RECORD) continue;
    if (e.isSymbolicLink()) out.links.push(rel);
    else if (e.isDirectory()) {
      const inner = await listTree(dir, rel);
      out.files.push(...inner.files);
      out.links.push(...inner.links);
    } else if (e.isFile()) out.files.push(rel);
  }
  return { files: out.files.sort(), links: out.links.sort() };
}

/** Write the verification record of a finished tree (sizes, mtimes and sha256 of the files the rig relies on). */
export async function writeRecord(dir: string, key: string, select: (rel: string) => boolean = () => true): Promise<void> {
  const tree = await listTree(dir);
  const files: Record<string, FileRecord> = {};
  for (const rel of tree.files.filter(select)) {
    const st = await lstat(join(dir, rel));
    files[rel] = { size: st.size, mtimeMs: st.mtimeMs, sha256: await sha256File(join(dir, rel)) };
  }
  const links: Record<string, string> = {};
  for (const rel of tree.links.filter(select)) links[rel] = await readlink(join(dir, rel));
  const record: EntryRecord = { version: RECORD_VERSION, key, files, links };
  await writeFile(join(dir, RECORD), `${JSON.stringify(record)}\n`);
}

/**
 * Check an entry against its record. Cheap: every recorded file exists with its size and mtime (a file
 * whose mtime moved but whose size held is hashed), every recorded link points where it did. Full: every
 * file's sha256 as well.
 */
export async function checkEntry(dir: string, key: string, mode: CheckMode = 'cheap'): Promise<EntryState> {
  const record = await readRecord(dir);
  if (!record) {
    const there = await exists(dir);
    return { ok: false, missing: !there, problem: there ? 'no verification record (an interrupted or older build)' : 'not cached' };
  }
  if (record.key !== key) return { ok: false, missing: false, problem: 'made for another layout or location' };
  const bad = (problem: string): EntryState => ({ ok: false, missing: false, problem });
  for (const [rel, want] of Object.entries(record.files)) {
    let st;
    try {
      st = lstatSync(join(dir, rel)); // sync: thousands of stats of a headers tree are ~10 times faster this way
    } catch {
      return bad(`${rel} is missing`);
    }
    if (!st.isFile()) return bad(`${rel} is not a file`);
    if (st.size !== want.size) return bad(`${rel} is ${st.size} bytes, was ${want.size}`);
    if (mode === 'full' || Math.abs(st.mtimeMs - want.mtimeMs) >= 1) {
      if ((await sha256File(join(dir, rel))) !== want.sha256) return bad(`${rel} changed (sha256 differs)`);
    }
  }
  for (const [rel, target] of Object.entries(record.links)) {
    let now: string;
    try {
      now = readlinkSync(join(dir, rel));
    } catch {
      return bad(`link ${rel} is missing`);
    }
    if (now !== target) return bad(`link ${rel} points to ${now}, was ${target}`);
  }
  return { ok: true };
}

// --- lock -----------------------------------------------------------------------------------------

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const LOCK_POLL_MS = 200;

/**
 * Take `<dir>.lock` (a directory holding the owner's pid, renamed into place whole). A lock whose owner is dead
 * is broken. Waits while another live process holds it; says so once.
 */
export async function acquireLock(dir: string, label: string, emit: EventSink = nullSink): Promise<() => Promise<void>> {
  const lock = `${dir}.lock`;
  await mkdir(dirname(lock), { recursive: true });
  let said = false;
  for (;;) {
    // The lock appears whole, pid inside: made aside, then renamed (a rename onto an existing lock fails).
    const aside = join(dirname(dir), `.lock-${basename(dir)}-${process.pid}-${randomBytes(4).toString('hex')}`);
    await mkdir(aside);
    await writeFile(join(aside, 'pid'), `${process.pid}\n`);
    try {
      await rename(aside, lock);
      return async () => {
        await rm(lock, { recursive: true, force: true });
      };
    } catch (e) {
      await rm(aside, { recursive: true, force: true });
      if (!['EEXIST', 'ENOTEMPTY'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e;
    }
    const pid = Number((await readFile(join(lock, 'pid'), 'utf8').catch(() => '')).trim());
    if (pid > 0 && !alive(pid)) {
      // The owner died (kill -9, power loss): its lock and its temp dir are debris.
      await rm(lock, { recursive: true, force: true });
      continue;
    }
    if (!pid) {
      // A lock without a pid (a disk that lost it): older than 10 s, it is debris.
      const st = await lstat(lock).catch(() => undefined);
      if (st && Date.now() - st.mtimeMs > 10_000) await rm(lock, { recursive: true, force: true });
    }
    if (!said) {
      emit({ type: 'log', level: 'info', message: `waiting for another rig (pid ${pid || '?'}) that is making ${label}` });
      said = true;
    }
    await sleep(LOCK_POLL_MS);
  }
}

/** Temp dir names of an entry: `.tmp-<name>-<pid>-<random>` beside it. */
function tmpPrefix(dir: string): string {
  return `.tmp-${basename(dir)}-`;
}

/** Remove temp dirs of this entry left by interrupted builds (called under the entry's lock). */
async function removeDebris(dir: string, remove: (p: string) => Promise<void>): Promise<void> {
  const lockAside = `.lock-${basename(dir)}-`;
  for (const name of await readdir(dirname(dir)).catch(() => [] as string[])) {
    if (name.startsWith(tmpPrefix(dir))) await remove(join(dirname(dir), name));
    // A lock being made by a process that died between mkdir and rename; a live one is its owner's.
    else if (name.startsWith(lockAside) && !alive(Number(name.slice(lockAside.length).split('-')[0]))) await remove(join(dirname(dir), name));
  }
}

const defaultRemove = (p: string): Promise<void> => rm(p, { recursive: true, force: true });

/**
 * The entry at spec.dir, made if missing, rebuilt (with one line saying why) if its record does not
 * verify. Two rigs never build one entry at once: the second waits for the first and uses its result.
 */
export async function cacheEntry(spec: EntrySpec): Promise<string> {
  const emit = spec.onEvent ?? nullSink;
  const remove = spec.remove ?? defaultRemove;
  const mode = spec.mode ?? 'cheap';
  if ((await checkEntry(spec.dir, spec.key, mode)).ok) return spec.dir;
  const release = await acquireLock(spec.dir, spec.label, emit);
  try {
    const state = await checkEntry(spec.dir, spec.key, mode); // another rig may have made it while we waited
    if (state.ok) return spec.dir;
    if (!state.missing) {
      emit({ type: 'log', level: 'warn', message: `cache: ${spec.label} is damaged (${state.problem}); rebuilding it: ${spec.dir}` });
      await remove(spec.dir);
    }
    await removeDebris(spec.dir, remove);
    const tmp = join(dirname(spec.dir), `${tmpPrefix(spec.dir)}${process.pid}-${randomBytes(4).toString('hex')}`);
    await mkdir(tmp, { recursive: true });
    try {
      await spec.build(tmp);
      await writeRecord(tmp, spec.key, spec.select);
      await rename(tmp, spec.dir);
    } finally {
      await remove(tmp);
    }
    const after = await checkEntry(spec.dir, spec.key);
    if (!after.ok) throw new CacheError(`${spec.label} does not verify right after it was made (${after.problem})`, { hint: `check free disk space; delete ${spec.dir} and retry` });
    return spec.dir;
  } finally {
    await release();
  }
}

// Ready-guest snapshots kept in the cache (rig/vm/snapshot-cache.ts), through the CLI as a user runs it:
// reused by the next process, rebuilt when corrupted, built once by two rigs at once, and a module
// edited between runs reaches the guest without a new snapshot.
import t from 'tap';
import { cp, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile, open } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { rig, defaultKernel } from '../helpers/rig.ts';
import { projectRoot } from '../../rig/core/paths.ts';

t.setTimeout(20 * 60_000);

const NOT_CACHED = /snapshot not cached yet/;

/** A snapshot dir of our own (KTEST_RIG_SNAPSHOT_DIR); kernels, modules and programs come from the usual cache. */
async function privateSnapshots(t: { teardown(fn: () => unknown): void }): Promise<{ dir: string; env: NodeJS.ProcessEnv }> {
  await defaultKernel();
  const dir = await mkdtemp(join(tmpdir(), 'ktest-snapshots-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return { dir, env: { KTEST_RIG_SNAPSHOT_DIR: dir } };
}

async function entries(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [] as string[])).filter((n) => n.startsWith('bookworm-6.1-') && !n.endsWith('.lock'));
}

t.test('a snapshot made by one process is restored by the next; a corrupted one is rebuilt, never restored', async (t) => {
  const { dir, env } = await privateSnapshots(t);
  const first = await rig(['exec', '--', 'nlclient', 'hi'], env);
  t.equal(first.exitCode, 0, 'first exec', { stderr: first.stderr.slice(-1500) });
  t.match(first.stderr, NOT_CACHED, 'the first process boots and saves');
  const [name] = await entries(dir);
  t.ok(name, 'one entry in the cache');
  const file = join(dir, name!, 'ready.snapshot');
  const before = await stat(file);

  const second = await rig(['exec', '--', 'nlclient', 'hi'], env);
  t.equal(second.exitCode, 0, 'second exec', { stderr: second.stderr.slice(-1500) });
  t.notMatch(second.stderr, NOT_CACHED, 'the second process restores without booting');
  t.match(second.stdout, /hello users!!!/);
  t.equal((await stat(file)).mtimeMs, before.mtimeMs, 'the same file');
  const list = await rig(['images', 'list'], env);
  t.match(list.stdout, /snapshots in .*: 1, \d+ MB of \d+ MB/, 'images list shows it');

  // Flip bytes in the middle of guest RAM, keeping size and mtime: only the record's sampled hash can tell.
  const fh = await open(file, 'r+');
  const block = Buffer.alloc(4096, 0x5a);
  await fh.write(block, 0, block.length, 16 * 1024 * 1024);
  await fh.close();
  await utimes(file, before.atime, before.mtime);
  const third = await rig(['exec', '--', 'nlclient', 'hi'], env);
  t.equal(third.exitCode, 0, 'exec after the corruption', { stderr: third.stderr.slice(-1500) });
  t.match(third.stderr, /does not match its record: rebuilding it/);
  t.match(third.stderr, NOT_CACHED, 'rebuilt by booting');
  t.equal((await entries(dir)).length, 1, 'still one entry');

  const cleared = await rig(['images', 'clear'], env);
  t.match(cleared.stdout, /removed 1 snapshot/);
  t.same(await entries(dir), [], 'images clear empties it');
  t.equal(first.qemuLeft + second.qemuLeft + third.qemuLeft, 0, 'no QEMU left behind');
});

t.test('two rigs at once: one builds the snapshot, the other waits and restores it', async (t) => {
  const { dir, env } = await privateSnapshots(t);
  const [a, b] = await Promise.all([rig(['exec', '--', 'nlclient', 'a'], env), rig(['exec', '--', 'nlclient', 'b'], env)]);
  t.equal(a.exitCode, 0, 'rig a', { stderr: a.stderr.slice(-1500) });
  t.equal(b.exitCode, 0, 'rig b', { stderr: b.stderr.slice(-1500) });
  t.equal([a, b].filter((r) => NOT_CACHED.test(r.stderr)).length, 1, 'exactly one of them booted');
  t.equal((await entries(dir)).length, 1, 'one entry');
  t.same((await readdir(dir)).filter((n) => n.endsWith('.lock') || n.startsWith('.')), [], 'no lock or temp dir left');
  t.same(await readdir(join(dir, 'in-use')), [], 'no private link left');
  t.equal(a.qemuLeft + b.qemuLeft, 0);
});

t.test('a module edited between runs reaches the guest without a new snapshot', async (t) => {
  const { dir, env } = await privateSnapshots(t);
  const kmod = await mkdtemp(join(tmpdir(), 'ktest-kmod-edit-'));
  t.teardown(() => rm(kmod, { recursive: true, force: true }));
  await cp(join(projectRoot, 'kmod'), kmod, { recursive: true, dereference: true });
  const one = await rig(['exec', '--kmod', kmod, '--', 'nlclient', 'hi'], env);
  t.equal(one.exitCode, 0, 'before the edit', { stderr: one.stderr.slice(-1500) });
  t.match(one.stdout, /"payload":"hello users!!!"/);
  const source = join(kmod, 'ktest_uapi.h');
  const text = await readFile(source, 'utf8');
  t.ok(text.includes('"hello users!!!"'), 'the greeting is in the module source');
  await writeFile(source, text.replace('"hello users!!!"', '"edited users!!"'));
  const two = await rig(['exec', '--kmod', kmod, '--', 'nlclient', 'hi'], env);
  t.equal(two.exitCode, 0, 'after the edit', { stderr: two.stderr.slice(-1500) });
  t.match(two.stdout, /"payload":"edited users!!"/, 'the edited module answers');
  t.notMatch(two.stderr, NOT_CACHED, 'the snapshot was reused');
  t.equal((await entries(dir)).length, 1, 'no second snapshot');
});

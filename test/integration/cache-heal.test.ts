// Damaged cache entries, as a user's disk or a stray command damages them, are found, named and made again: never used, never blamed on the module or the kernel.
import t from 'tap';
import { closeSync, cpSync, linkSync, mkdirSync, openSync, readdirSync, rmSync, statSync, truncateSync, utimesSync, writeSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { rig, defaultKernel, tempDir } from '../helpers/rig.ts';
import { cacheRoot } from '../../rig/core/paths.ts';
import { kernelDirName } from '../../rig/kernels/fetch.ts';

t.setTimeout(20 * 60_000);

/** cp -al: the same files under another tree (the rig never writes a cached .deb in place; it only removes). */
function hardLinkTree(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const e of readdirSync(from, { withFileTypes: true })) {
    if (e.isDirectory()) hardLinkTree(join(from, e.name), join(to, e.name));
    else if (e.isFile()) linkSync(join(from, e.name), join(to, e.name));
  }
}

t.test('a truncated .ko, a deleted header, an overwritten vmlinux: healed, with real runs', async (t) => {
  const kernel = await defaultKernel(); // the shared cache holds this image's verified .debs
  const cache = await tempDir(t, 'ktest-cache-heal-');
  // A cache of our own: its .debs hard-linked from the shared one (never written in place), the rest made here.
  hardLinkTree(join(resolve(cacheRoot()), 'debs'), join(cache, 'debs'));
  cpSync(join(resolve(cacheRoot()), 'apt'), join(cache, 'apt'), { recursive: true, preserveTimestamps: true });
  const env = { KTEST_RIG_CACHE: cache };
  const check = ['exec', '--', 'sh', '-c', 'grep -c ^ktest /proc/modules; nlclient hi'];

  const first = await rig(check, env);
  t.equal(first.exitCode, 0, 'a fresh cache', { stderr: first.stderr.slice(-2000) });

  // 1. A truncated cached module: rebuilt, never loaded ("invalid module format" would fail every scenario).
  const [key] = readdirSync(join(cache, 'modules')).filter((d) => !d.startsWith('.') && !d.endsWith('.lock'));
  const ko = join(cache, 'modules', key!, 'ktest.ko');
  truncateSync(ko, statSync(ko).size - 4096);
  const r1 = await rig(check, env);
  t.equal(r1.exitCode, 0, 'the run passes', { stderr: r1.stderr.slice(-2000) });
  t.match(r1.stderr, /cache: the built module in .* is damaged \(ktest\.ko is \d+ bytes, was \d+\); building it again/);
  t.match(r1.stdout, /hello users!!!/);
  t.notMatch(r1.stderr, /invalid module format/);

  // 2. A header deleted from the cached kernel tree: the tree is made again before any build.
  const tree = join(cache, 'kernels', kernelDirName(kernel.image));
  const common = readdirSync(join(tree, 'root/usr/src')).find((d) => d.endsWith('-common'))!;
  rmSync(join(tree, 'root/usr/src', common, 'include/linux/netlink.h'));
  rmSync(join(cache, 'modules'), { recursive: true }); // so that the module is compiled against the tree
  const r2 = await rig(check, env);
  t.equal(r2.exitCode, 0, 'the module builds', { stderr: r2.stderr.slice(-2000) });
  t.match(r2.stderr, new RegExp(`cache: kernel tree bookworm-6\\.1 is damaged \\(root/usr/src/${common}/include/linux/netlink\\.h is missing\\)`));
  t.ok(existsSync(join(tree, 'root/usr/src', common, 'include/linux/netlink.h')));

  // 3. Part of vmlinux overwritten, same size. (a) With its time kept (a restore tool): only the full
  // check sees it; `images verify` names it and makes the tree again.
  const vmlinux = join(tree, 'vmlinux');
  const before = statSync(vmlinux);
  const fd = openSync(vmlinux, 'r+');
  writeSync(fd, Buffer.alloc(1 << 20, 0xcc), 0, 1 << 20, 0x200000);
  closeSync(fd);
  utimesSync(vmlinux, before.atime, before.mtime);
  const v = await rig(['images', 'verify', 'bookworm-6.1'], env);
  t.equal(v.exitCode, 0, 'verify', { stderr: v.stderr.slice(-2000) });
  t.match(v.stdout, /bookworm-6\.1: was damaged \(vmlinux changed \(sha256 differs\)\); made again from verified packages/);
  const again = await rig(['images', 'verify', 'bookworm-6.1'], env);
  t.match(again.stdout, /bookworm-6\.1: verified/);
  // (b) An ordinary write moves the time: the cheap check before every run sees it.
  const fd2 = openSync(vmlinux, 'r+');
  writeSync(fd2, Buffer.alloc(4096, 0xcc), 0, 4096, 0x200000);
  closeSync(fd2);
  const r3 = await rig(check, env);
  t.equal(r3.exitCode, 0, 'the guest boots', { stderr: r3.stderr.slice(-2000) });
  t.match(r3.stderr, /cache: kernel tree bookworm-6\.1 is damaged \(vmlinux changed \(sha256 differs\)\)/);
  t.equal(r3.qemuLeft, 0);
});

// prepareKernel end to end on fake .debs (no network): verify, extract atomically, fix the headers, decompress, reuse the cache.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, realpathSync, rmSync, symlinkSync, writeFileSync, existsSync, readdirSync, utimesSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CacheError } from '../../../rig/core/errors.ts';
import { RECORD as MARKER } from '../../../rig/core/cache.ts';
import { kernelDirName, kernelPaths, pinsOf, prepareKernel, rewriteHeadersMakefile, treeIsValid, checkTree } from '../../../rig/kernels/fetch.ts';
import { debPath, fetchDeb, type Downloader } from '../../../rig/kernels/debs.ts';
import { checkVmlinux } from '../../../rig/kernels/vmlinux.ts';
import type { DebianImageSpec, PinnedPackage } from '../../../rig/kernels/spec.ts';
import { bzImage, elfWithNotes } from '../../fixtures/images/synthetic-kernel.ts';

const RELEASE = '1.0.0-1-amd64';

t.test('headers Makefile: absolute /usr/src paths point into the extracted root', async (t) => {
  t.equal(
    rewriteHeadersMakefile('include /usr/src/linux-headers-6.1.0-50-common/Makefile\n', '/c/k/root'),
    'include /c/k/root/usr/src/linux-headers-6.1.0-50-common/Makefile\n',
  );
  const seven = 'KBUILD_OUTPUT := /usr/src/linux-headers-7.0-amd64\ninclude /usr/src/linux-headers-7.0-common/Makefile\nx=$(srctree)/usr/src/keep\n';
  t.equal(
    rewriteHeadersMakefile(seven, '/r'),
    'KBUILD_OUTPUT := /r/usr/src/linux-headers-7.0-amd64\ninclude /r/usr/src/linux-headers-7.0-common/Makefile\nx=$(srctree)/usr/src/keep\n',
  );
  t.equal(rewriteHeadersMakefile('include ../common/Makefile\n', '/r'), 'include ../common/Makefile\n', 'relative paths untouched');
});

/** Build a .deb from a map of paths to contents (strings/Buffers) or symlinks ({ link }). */
function makeDeb(dir: string, name: string, files: Record<string, string | Buffer | { link: string }>): { path: string; pin: PinnedPackage } {
  const root = join(dir, `${name}-tree`);
  mkdirSync(join(root, 'DEBIAN'), { recursive: true });
  writeFileSync(join(root, 'DEBIAN', 'control'), `Package: ${name}\nVersion: 1.0-1\nArchitecture: amd64\nMaintainer: t <t@t>\nDescription: test\n`);
  for (const [p, c] of Object.entries(files)) {
    mkdirSync(join(root, p, '..'), { recursive: true });
    if (typeof c === 'object' && !Buffer.isBuffer(c)) symlinkSync(c.link, join(root, p));
    else writeFileSync(join(root, p), c);
  }
  const path = join(dir, `${name}.deb`);
  execFileSync('dpkg-deb', ['--root-owner-group', '-Zgzip', '-b', root, path], { stdio: 'ignore' });
  const sha256 = createHash('sha256').update(readFileSync(path)).digest('hex');
  return { path, pin: { name, version: '1.0-1', arch: 'amd64', sha256 } };
}

/** A fake 4-package kernel; `mergedUsr` lays it out like sid 7.x (usr/lib/modules/R/vmlinuz, absolute KBUILD_OUTPUT). */
function fakeImage(dir: string, mergedUsr = false): { image: DebianImageSpec; debs: Map<string, string> } {
  const vmlinuz = bzImage(execFileSync('zstd', ['-c', '-q'], { input: elfWithNotes([{ name: 'Xen', type: 18 }]) }));
  const lib = mergedUsr ? 'usr/lib' : 'lib';
  const img = makeDeb(dir, `linux-image-${RELEASE}`, {
    [mergedUsr ? `usr/lib/modules/${RELEASE}/vmlinuz` : `boot/vmlinuz-${RELEASE}`]: vmlinuz,
    [`${lib}/modules/${RELEASE}/modules.order`]: 'kernel/x.ko\n',
    [`${lib}/modules/${RELEASE}/build`]: { link: `/usr/src/linux-headers-${RELEASE}` },
  });
  const headers = makeDeb(dir, `linux-headers-${RELEASE}`, {
    [`usr/src/linux-headers-${RELEASE}/Makefile`]:
      `${mergedUsr ? `KBUILD_OUTPUT=/usr/src/linux-headers-${RELEASE}\n` : ''}include /usr/src/linux-headers-1.0.0-1-common/Makefile\n`,
    [`usr/src/linux-headers-${RELEASE}/scripts`]: { link: '../../lib/linux-kbuild-1.0/scripts' },
  });
  const common = makeDeb(dir, 'linux-headers-1.0.0-1-common', { 'usr/src/linux-headers-1.0.0-1-common/Makefile': 'all:\n\t@echo common\n' });
  const kbuild = makeDeb(dir, 'linux-kbuild-1.0', { 'usr/lib/linux-kbuild-1.0/scripts/x': 'x' });
  const image: DebianImageSpec = {
    id: 'fake-1.0',
    description: 'fake',
    arch: 'x86_64',
    suite: 'bookworm',
    release: RELEASE,
    packages: { image: img.pin, headers: headers.pin, headersCommon: common.pin, kbuild: kbuild.pin },
    toolchain: { kind: 'host', cc: 'gcc-12' },
    qemu: { binary: 'qemu-system-x86_64', machine: 'pc', cpu: 'max', console: 'ttyS0', commandChannel: 'serial', commandPort: 'ttyS1' },
  };
  const debs = new Map([img, headers, common, kbuild].map((d) => [d.pin.name, d.path]));
  return { image, debs };
}

function countingDownloader(debs: Map<string, string>, corrupt: Set<string> = new Set()): { download: Downloader; calls: string[] } {
  const calls: string[] = [];
  const download: Downloader = async (pin, destDir) => {
    calls.push(pin.name);
    mkdirSync(destDir, { recursive: true });
    const out = join(destDir, `${pin.name}.deb`);
    if (corrupt.has(pin.name)) writeFileSync(out, 'garbage');
    else copyFileSync(debs.get(pin.name)!, out);
    return out;
  };
  return { download, calls };
}

t.test('prepareKernel: download, verify, extract, fix, decompress; then cache only', async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'fetch-'));
  const cacheDir = join(work, 'cache');
  const { image, debs } = fakeImage(work);
  const { download, calls } = countingDownloader(debs);
  const events: string[] = [];
  const k = await prepareKernel(image, { cacheDir, download, onEvent: (e) => events.push(`${e.type}:${'stage' in e ? e.stage : ''}`) });
  t.same(calls.sort(), pinsOf(image).map((p) => p.name).sort(), 'each pin downloaded once');
  t.ok(events.includes('progress:fetch'));
  const dir = join(cacheDir, 'kernels', kernelDirName(image));
  const paths = kernelPaths(image, dir);
  t.equal(k.kernelPath, join(dir, 'vmlinux'));
  t.equal(k.headersDir, paths.headers);
  t.equal(k.modulesDir, paths.modules);
  t.equal(await checkVmlinux(k.kernelPath), undefined, 'vmlinux is a PVH ELF');
  t.ok(existsSync(k.vmlinuzPath));
  t.equal(readFileSync(join(k.headersDir, 'Makefile'), 'utf8'), `include ${paths.root}/usr/src/linux-headers-1.0.0-1-common/Makefile\n`);
  t.equal(readlinkSync(join(paths.modules, 'build')), `../../../usr/src/linux-headers-${RELEASE}`, 'absolute link made relative');
  t.equal(realpathSync(join(paths.modules, 'build')), realpathSync(k.headersDir));
  for (const pin of pinsOf(image)) t.ok(existsSync(debPath(pin, cacheDir)));
  t.same(readdirSync(join(cacheDir, 'kernels')).filter((f) => f.startsWith('.tmp')), [], 'no temp dir left');

  calls.length = 0;
  t.same(await prepareKernel(image, { cacheDir, download }), k);
  t.same(calls, [], 'second run: no download');

  // A damaged tree (size changed) is rebuilt from the cached .debs, still without downloading, with one line saying so.
  writeFileSync(k.kernelPath, 'truncated');
  t.notOk(await treeIsValid(dir));
  const said: string[] = [];
  await prepareKernel(image, { cacheDir, download, onEvent: (e) => e.type === 'log' && said.push(e.message) });
  t.equal(await checkVmlinux(k.kernelPath), undefined);
  t.same(calls, []);
  t.match(said.join('\n'), /cache: kernel tree fake-1\.0 is damaged \(vmlinux is 9 bytes/);

  // Same size, other bytes (the mtime moves): found by the cheap check too.
  const good = readFileSync(k.kernelPath);
  const bad = Buffer.from(good);
  bad.fill(0xcc, 64, 128);
  writeFileSync(k.kernelPath, bad);
  t.match(await checkTree(dir), { ok: false, problem: /vmlinux changed/ });
  // Same size, same mtime (a tool that restores times): only the full check sees it.
  const rec = JSON.parse(readFileSync(join(dir, MARKER), 'utf8'));
  utimesSync(k.kernelPath, new Date(), new Date(rec.files.vmlinux.mtimeMs));
  t.match(await checkTree(dir), { ok: true });
  t.match(await checkTree(dir, 'full'), { ok: false, problem: /vmlinux changed/ });
  await prepareKernel(image, { cacheDir, download });
  t.match(await checkTree(dir, 'full'), { ok: false }, 'the cheap check before a run does not hash 500 MB');
  await prepareKernel(image, { cacheDir, download, check: 'full' });
  t.same(await checkTree(dir, 'full'), { ok: true }, 'healed by a full check');

  // A header deleted from the tree.
  rmSync(join(k.headersDir, 'Makefile'));
  t.match(await checkTree(dir), { ok: false, problem: /Makefile is missing/ });
  await prepareKernel(image, { cacheDir, download });
  t.ok(existsSync(join(k.headersDir, 'Makefile')));

  // A half-extracted tree (no marker) is never used.
  rmSync(join(dir, MARKER));
  t.notOk(await treeIsValid(dir));
  await prepareKernel(image, { cacheDir, download });
  t.ok(await treeIsValid(dir));

  // A corrupted cached .deb is refetched.
  rmSync(dir, { recursive: true });
  writeFileSync(debPath(image.packages.kbuild, cacheDir), 'bitrot');
  await prepareKernel(image, { cacheDir, download });
  t.same(calls, ['linux-kbuild-1.0']);
});

t.test('prepareKernel: merged-/usr packages (sid 7.x) get the same layout', async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'fetch-'));
  const { image, debs } = fakeImage(work, true);
  const k = await prepareKernel(image, { cacheDir: join(work, 'cache'), download: countingDownloader(debs).download });
  const root = kernelPaths(image, join(work, 'cache', 'kernels', kernelDirName(image))).root;
  t.equal(await checkVmlinux(k.kernelPath), undefined);
  t.ok(existsSync(k.vmlinuzPath), 'boot/vmlinuz-R links to usr/lib/modules/R/vmlinuz');
  t.ok(existsSync(join(k.modulesDir!, 'modules.order')), 'lib/modules reaches usr/lib/modules');
  t.equal(
    readFileSync(join(k.headersDir, 'Makefile'), 'utf8'),
    `KBUILD_OUTPUT=${root}/usr/src/linux-headers-${RELEASE}\ninclude ${root}/usr/src/linux-headers-1.0.0-1-common/Makefile\n`,
  );
  t.equal(realpathSync(join(k.modulesDir!, 'build')), realpathSync(k.headersDir));
});

t.test('prepareKernel: an arm64 Image is used as is, and must be one', async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'fetch-'));
  const release = '1.0.0-1-arm64';
  const arm64Image = Buffer.alloc(4096);
  arm64Image.write('ARM\x64', 0x38, 'latin1');
  const base = fakeImage(work).image;
  const make = (vmlinuz: Buffer, tag: string): { image: DebianImageSpec; debs: Map<string, string> } => {
    const img = makeDeb(work, `linux-image-${release}${tag}`, { [`boot/vmlinuz-${release}`]: vmlinuz });
    const headers = makeDeb(work, `linux-headers-${release}${tag}`, { [`usr/src/linux-headers-${release}/Makefile`]: 'include /usr/src/c/Makefile\n' });
    const common = makeDeb(work, `common${tag}`, { 'usr/src/c/Makefile': 'all:\n' });
    const kbuild = makeDeb(work, `kbuild${tag}`, { 'usr/lib/k/x': 'x' });
    const image: DebianImageSpec = {
      ...base,
      id: `fake-arm64${tag}`,
      arch: 'arm64',
      release,
      packages: { image: img.pin, headers: headers.pin, headersCommon: common.pin, kbuild: kbuild.pin },
    };
    return { image, debs: new Map([img, headers, common, kbuild].map((d) => [d.pin.name, d.path])) };
  };
  const good = make(arm64Image, '');
  const k = await prepareKernel(good.image, { cacheDir: join(work, 'cache'), download: countingDownloader(good.debs).download });
  t.equal(k.kernelPath, k.vmlinuzPath, 'no decompression on arm64');
  t.ok(existsSync(k.kernelPath));
  const bad = make(Buffer.alloc(4096, 1), '-bad');
  await t.rejects(prepareKernel(bad.image, { cacheDir: join(work, 'cache'), download: countingDownloader(bad.debs).download }), { name: 'CacheError', message: /not an uncompressed arm64 Image/ });
});

t.test('fetchDeb: a wrong hash is refetched once, then a CacheError', async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'fetch-'));
  const { image, debs } = fakeImage(work);
  const pin = image.packages.kbuild;
  const bad = countingDownloader(debs, new Set([pin.name]));
  const err = await t.rejects(fetchDeb(pin, bad.download, join(work, 'c1')), CacheError);
  t.same(bad.calls, [pin.name, pin.name], 'two attempts');
  t.match((err as unknown as CacheError).hint, /images update/);
  t.notOk(existsSync(debPath(pin, join(work, 'c1'))), 'nothing bad left in the cache');
  t.same(readdirSync(join(work, 'c1', 'debs')), [], 'no temp dir, no lock left');

  let n = 0;
  const flaky: Downloader = async (p, destDir) => {
    n++;
    const out = join(destDir, 'x.deb');
    mkdirSync(destDir, { recursive: true });
    if (n === 1) writeFileSync(out, 'garbage');
    else copyFileSync(debs.get(p.name)!, out);
    return out;
  };
  const path = await fetchDeb(pin, flaky, join(work, 'c2'));
  t.equal(n, 2);
  t.equal(path, debPath(pin, join(work, 'c2')));
});

t.test('the cache dir name changes with the pins', async (t) => {
  const { image } = fakeImage(mkdtempSync(join(tmpdir(), 'fetch-')));
  const other: DebianImageSpec = { ...image, packages: { ...image.packages, kbuild: { ...image.packages.kbuild, sha256: 'f'.repeat(64) } } };
  t.match(kernelDirName(image), /^fake-1\.0-[0-9a-f]{12}$/);
  t.not(kernelDirName(image), kernelDirName(other));
  t.equal(kernelDirName(image), kernelDirName({ ...image, description: 'changed' }), 'only pins matter');
});

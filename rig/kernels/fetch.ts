// Download an image's pinned .debs into the cache, verify them, extract them atomically, and make the kernel bootable.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, readdir, readlink, rename, rm, stat, symlink, unlink, writeFile, lstat } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { execa } from 'execa';
import { aptContext, aptDownload, type AptContext } from './apt.ts';
import { CacheError, InfraError, MissingToolError } from '../core/errors.ts';
import { nullSink, type EventSink } from '../core/events.ts';
import { debArch } from './images.ts';
import { decompressKernel, isArm64Image } from './vmlinux.ts';
import { cacheRoot } from '../core/paths.ts';
import type { ImageSpec, PinnedPackage, PreparedKernel } from '../core/types.ts';

/** Bump when the extracted layout changes, so old trees are not reused. */
const LAYOUT_VERSION = 1;
export const MARKER = '.ktest-rig-complete.json';

export interface FetchOptions {
  readonly cacheDir?: string;
  readonly onEvent?: EventSink;
  /** How .debs are downloaded (default: apt-get download with the private configuration). */
  readonly download?: Downloader;
}

interface Marker {
  readonly layout: number;
  readonly root: string;
  /** Sizes of the files a boot or build needs, re-checked on every use. */
  readonly sizes: Readonly<Record<string, number>>;
}

/** The packages of an image, in extraction order. */
export function pinsOf(image: ImageSpec): PinnedPackage[] {
  const p = image.packages;
  return [p.image, ...(p.binary ? [p.binary] : []), p.headers, p.headersCommon, p.kbuild];
}

/** Cache directory of an image's extracted tree: kernels/<id>-<hash of the pins>. Pure. */
export function kernelDirName(image: ImageSpec): string {
  const h = createHash('sha256').update(`${LAYOUT_VERSION}\n${image.release}\n`);
  for (const pin of pinsOf(image)) h.update(`${pin.name} ${pin.version} ${pin.arch} ${pin.sha256}\n`);
  return `${image.id}-${h.digest('hex').slice(0, 12)}`;
}

/** Paths inside an extracted tree. Pure. */
export function kernelPaths(image: ImageSpec, dir: string): { root: string; vmlinuz: string; kernel: string; headers: string; modules: string } {
  const root = join(dir, 'root');
  const vmlinuz = join(root, 'boot', `vmlinuz-${image.release}`);
  return {
    root,
    vmlinuz,
    kernel: image.arch === 'x86_64' ? join(dir, 'vmlinux') : vmlinuz,
    headers: join(root, 'usr', 'src', `linux-headers-${image.release}`),
    modules: join(root, 'lib', 'modules', image.release),
  };
}

/**
 * Point a headers Makefile's absolute /usr/src paths (the `include` of the common tree, 7.x's
 * KBUILD_OUTPUT) at the extracted tree under `root`. Pure.
 */
export function rewriteHeadersMakefile(text: string, root: string): string {
  return text.replace(/(^|[\s=:"'(])\/usr\/src\//gm, (_m, pre: string) => `${pre}${root}/usr/src/`);
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

function contextFor(image: ImageSpec, pin: PinnedPackage, cacheDir: string): Promise<AptContext> {
  return aptContext(image.suite, pin.arch === 'all' ? debArch(image.arch) : pin.arch, cacheDir);
}

/** Downloads one pinned .deb into destDir and returns its path (apt-get download, or a fake in tests). */
export type Downloader = (pin: PinnedPackage, destDir: string) => Promise<string>;

/** The apt downloader for an image's pins (the private configuration of the image's suite and the pin's arch). */
export function aptDownloader(image: ImageSpec, cacheDir: string): Downloader {
  return async (pin, destDir) => aptDownload(await contextFor(image, pin, cacheDir), pin.name, pin.version, destDir);
}

/**
 * The verified .deb of a pin in debs/<sha256>.deb, downloading it if needed. A download whose hash
 * is wrong is deleted and fetched once more; still wrong is a CacheError.
 */
export async function fetchDeb(pin: PinnedPackage, download: Downloader, cacheDir: string): Promise<string> {
  const debs = join(cacheDir, 'debs');
  const final = join(debs, `${pin.sha256}.deb`);
  if (await exists(final)) return final;
  let got = '';
  for (let attempt = 0; attempt < 2; attempt++) {
    // A directory of its own: two rigs fetching the same package at once must not write one file.
    const incoming = join(debs, 'incoming', `${process.pid}-${randomBytes(4).toString('hex')}`);
    try {
      const path = await download(pin, incoming);
      got = await sha256File(path);
      if (got === pin.sha256) {
        await rename(path, final);
        return final;
      }
    } finally {
      await rm(incoming, { recursive: true, force: true });
    }
  }
  throw new CacheError(`${pin.name} ${pin.version}: sha256 is ${got}, the image pins ${pin.sha256}`, {
    hint: 'the archive changed under the pin or the download is corrupted: run `npm run rig -- images update`',
  });
}

/** Re-verify a cached .deb fully (before extracting it); a bad one is deleted and refetched. */
async function verifiedDeb(pin: PinnedPackage, download: Downloader, cacheDir: string): Promise<string> {
  const cached = join(cacheDir, 'debs', `${pin.sha256}.deb`);
  if (!(await exists(cached))) return fetchDeb(pin, download, cacheDir); // fetchDeb verifies what it downloads
  if ((await sha256File(cached)) === pin.sha256) return cached;
  const path = cached;
  await rm(path, { force: true });
  return fetchDeb(pin, download, cacheDir);
}

/** Make every absolute symlink under `root` relative, so it resolves inside the extracted tree. */
async function relativizeLinks(root: string, dir: string = root): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isSymbolicLink()) {
      const target = await readlink(path);
      if (target.startsWith('/')) {
        await unlink(path);
        await symlink(relative(dirname(path), join(root, target)) || '.', path);
      }
    } else if (entry.isDirectory()) await relativizeLinks(root, path);
  }
}

/**
 * Newer kernels (sid 7.x) ship merged-/usr paths only: usr/lib/modules/<release>/vmlinuz and no /boot.
 * Link lib -> usr/lib and boot/vmlinuz-<release> to it, so one layout serves every image.
 */
async function mergedUsrLinks(root: string, release: string): Promise<void> {
  if (!(await exists(join(root, 'lib'))) && (await exists(join(root, 'usr', 'lib')))) await symlink('usr/lib', join(root, 'lib'));
  const boot = join(root, 'boot', `vmlinuz-${release}`);
  const inModules = join(root, 'usr', 'lib', 'modules', release, 'vmlinuz');
  if (!(await exists(boot)) && (await exists(inModules))) {
    await mkdir(dirname(boot), { recursive: true });
    await symlink(relative(dirname(boot), inModules), boot);
  }
}

async function readHead(path: string, length: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await fh.read(buf, 0, length, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

async function readMarker(dir: string): Promise<Marker | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, MARKER), 'utf8')) as Marker;
  } catch {
    return undefined;
  }
}

/** Cheap check of a cached tree: the marker exists, names this root, and every recorded size matches. */
export async function treeIsValid(dir: string): Promise<boolean> {
  const marker = await readMarker(dir);
  if (!marker || marker.layout !== LAYOUT_VERSION || marker.root !== join(dir, 'root')) return false;
  for (const [rel, size] of Object.entries(marker.sizes)) {
    const st = await stat(join(dir, rel)).catch(() => undefined);
    if (!st || st.size !== size) return false;
  }
  return true;
}

async function extractTree(image: ImageSpec, debs: readonly string[], tmp: string, finalDir: string): Promise<void> {
  const finalPaths = kernelPaths(image, finalDir);
  const tmpRoot = join(tmp, 'root');
  await mkdir(tmpRoot, { recursive: true });
  for (const deb of debs) {
    const r = await execa('dpkg-deb', ['-x', deb, tmpRoot], { reject: false });
    if ((r as { code?: string }).code === 'ENOENT') throw new MissingToolError(['dpkg-deb'], 'sudo apt-get install dpkg');
    if (r.exitCode !== 0) {
      throw new CacheError(`dpkg-deb -x ${deb} failed: ${String(r.stderr).trim()}`, { hint: 'delete the file and retry' });
    }
  }
  await relativizeLinks(tmpRoot);
  await mergedUsrLinks(tmpRoot, image.release);
  const makefile = join(tmp, relative(finalDir, finalPaths.headers), 'Makefile');
  if (!(await exists(makefile))) throw new CacheError(`${image.id}: the headers package has no ${relative(tmp, makefile)}`);
  await writeFile(makefile, rewriteHeadersMakefile(await readFile(makefile, 'utf8'), finalPaths.root));
  const vmlinuz = join(tmp, relative(finalDir, finalPaths.vmlinuz));
  if (!(await exists(vmlinuz))) throw new CacheError(`${image.id}: no boot/vmlinuz-${image.release} in the image packages`);
  if (image.arch === 'x86_64') await decompressKernel(vmlinuz, join(tmp, 'vmlinux'));
  else if (!isArm64Image(await readHead(vmlinuz, 64))) throw new CacheError(`${image.id}: ${relative(tmp, vmlinuz)} is not an uncompressed arm64 Image`);
  const sizes: Record<string, number> = {};
  for (const p of [finalPaths.kernel, finalPaths.vmlinuz, makefile.replace(tmp, finalDir), join(finalPaths.modules, 'modules.order')]) {
    const rel = relative(finalDir, p);
    const st = await stat(join(tmp, rel)).catch(() => undefined);
    if (st) sizes[rel] = st.size;
  }
  const marker: Marker = { layout: LAYOUT_VERSION, root: finalPaths.root, sizes };
  await writeFile(join(tmp, MARKER), `${JSON.stringify(marker, null, 2)}\n`);
}

/** Fetch, verify, extract and decompress an image's kernel; a second call uses only the cache. */
export async function prepareKernel(image: ImageSpec, opts: FetchOptions = {}): Promise<PreparedKernel> {
  const cacheDir = resolve(opts.cacheDir ?? cacheRoot()); // absolute: the headers Makefile embeds it
  const emit = opts.onEvent ?? nullSink;
  const dir = join(cacheDir, 'kernels', kernelDirName(image));
  const paths = kernelPaths(image, dir);
  const prepared: PreparedKernel = { image, kernelPath: paths.kernel, vmlinuzPath: paths.vmlinuz, headersDir: paths.headers, modulesDir: paths.modules };
  if (await treeIsValid(dir)) return prepared;

  emit({ type: 'stage', image: image.id, stage: 'fetch', message: `fetching ${image.id} (${image.release})` });
  const pins = pinsOf(image);
  const download = opts.download ?? aptDownloader(image, cacheDir);
  const debs: string[] = [];
  for (const [i, pin] of pins.entries()) {
    emit({ type: 'progress', image: image.id, stage: 'fetch', label: pin.name, done: i, total: pins.length });
    debs.push(await verifiedDeb(pin, download, cacheDir));
  }
  emit({ type: 'progress', image: image.id, stage: 'fetch', label: 'done', done: pins.length, total: pins.length });

  emit({ type: 'stage', image: image.id, stage: 'extract', message: `extracting ${image.id}` });
  const tmp = join(cacheDir, 'kernels', `.tmp-${kernelDirName(image)}-${randomBytes(4).toString('hex')}`);
  try {
    await extractTree(image, debs, tmp, dir);
    if (await treeIsValid(dir)) return prepared; // another process finished it meanwhile
    if (await exists(dir)) await rm(dir, { recursive: true, force: true }); // an invalid leftover
    await rename(tmp, dir).catch(async (cause: NodeJS.ErrnoException) => {
      // Another process finished the same tree first: use theirs.
      if (!(await treeIsValid(dir))) throw new InfraError(`cannot move the extracted kernel to ${dir}`, { cause });
    });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  if (!(await treeIsValid(dir))) throw new CacheError(`extracted kernel tree ${dir} does not verify`, { hint: `delete ${dir} and retry` });
  return prepared;
}

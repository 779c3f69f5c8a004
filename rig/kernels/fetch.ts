// An image's kernel tree: its verified .debs (debs.ts) extracted atomically into the cache and the kernel made bootable; built images are compiled by build/kernel.ts.
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, readlink, symlink, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { cacheEntry, checkEntry, exists, type CheckMode, type EntryState } from '../core/cache.ts';
import { execa } from 'execa';
import { aptDownloader, verifiedDeb, type Downloader } from './debs.ts';
import { CacheError } from '../core/errors.ts';
import { nullSink, type EventSink } from '../core/events.ts';
import { ARCHES } from '../platform/arch/index.ts';
import { readHead } from '../platform/elf.ts';
import { decompressKernel, isArm64Image } from './vmlinux.ts';
import { prepareBuiltKernel } from '../build/kernel.ts';
import { cacheRoot } from '../core/paths.ts';
import { isBuiltImage, type ImageSpec, type PinnedPackage, type PreparedKernel } from './spec.ts';
import { missingTool } from '../platform/host-tools.ts';

/** Bump when the extracted layout changes, so old trees are not reused. */
const LAYOUT_VERSION = 2;

export interface FetchOptions {
  readonly cacheDir?: string;
  readonly onEvent?: EventSink;
  /** How .debs are downloaded (default: apt-get download with the private configuration). */
  readonly download?: Downloader;
  /** Check an existing tree cheaply (default) or fully (every sha256: `images verify`, before blaming the kernel). */
  readonly check?: CheckMode;
}

/** The packages of an image, in extraction order. */
export function pinsOf(image: ImageSpec): PinnedPackage[] {
  if (isBuiltImage(image)) return [image.packages.source];
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
    kernel: ARCHES[image.arch].kernelImage === 'pvh-vmlinux' ? join(dir, 'vmlinux') : vmlinuz,
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

/** What QEMU will boot, made from the packaged kernel as the arch's record says. */
async function prepareBootKernel(image: ImageSpec, vmlinuz: string, tmp: string): Promise<void> {
  switch (ARCHES[image.arch].kernelImage) {
    case 'pvh-vmlinux':
      return decompressKernel(vmlinuz, join(tmp, 'vmlinux'));
    case 'image':
      if (!isArm64Image(await readHead(vmlinuz, 64))) throw new CacheError(`${image.id}: ${relative(tmp, vmlinuz)} is not an uncompressed ${image.arch} Image`);
  }
}

/** What a tree must have been made for: the layout and its absolute root (the headers Makefile embeds it). Pure. */
export function treeKey(dir: string): string {
  return `kernel-tree ${LAYOUT_VERSION} ${join(dir, 'root')}`;
}

/**
 * The files of a tree the rig relies on: everything but the distribution's own module files (390 MB
 * of .ko under lib/modules/<release>/kernel), except those the image loads in the guest. Pure.
 */
export function reliedOn(image: ImageSpec): (rel: string) => boolean {
  const prefixes = [`root/lib/modules/${image.release}/kernel/`, `root/usr/lib/modules/${image.release}/kernel/`];
  const wanted = new Set((image.qemu.guestModules ?? []).flatMap((m) => [`root/lib/modules/${image.release}/${m}`, `root/usr/lib/modules/${image.release}/${m}`]));
  return (rel) => wanted.has(rel) || !prefixes.some((p) => rel.startsWith(p));
}

/** Check a cached tree against its record: cheap (sizes, mtimes, links) or full (every sha256). */
export async function checkTree(dir: string, mode: CheckMode = 'cheap'): Promise<EntryState> {
  return checkEntry(dir, treeKey(dir), mode);
}

/** Cheap check of a cached tree. */
export async function treeIsValid(dir: string): Promise<boolean> {
  return (await checkTree(dir)).ok;
}

async function extractTree(image: ImageSpec, debs: readonly string[], tmp: string, finalDir: string): Promise<void> {
  const finalPaths = kernelPaths(image, finalDir);
  const tmpRoot = join(tmp, 'root');
  await mkdir(tmpRoot, { recursive: true });
  for (const deb of debs) {
    const r = await execa('dpkg-deb', ['-x', deb, tmpRoot], { reject: false });
    if ((r as { code?: string }).code === 'ENOENT') throw missingTool('dpkg-deb');
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
  await prepareBootKernel(image, vmlinuz, tmp);
}

/** Fetch, verify, extract and decompress an image's kernel; a second call uses only the cache. */
export async function prepareKernel(image: ImageSpec, opts: FetchOptions = {}): Promise<PreparedKernel> {
  if (isBuiltImage(image)) {
    return prepareBuiltKernel(image, { cacheDir: opts.cacheDir, onEvent: opts.onEvent, download: opts.download, check: opts.check });
  }
  const cacheDir = resolve(opts.cacheDir ?? cacheRoot()); // absolute: the headers Makefile embeds it
  const emit = opts.onEvent ?? nullSink;
  const dir = join(cacheDir, 'kernels', kernelDirName(image));
  const paths = kernelPaths(image, dir);
  const prepared: PreparedKernel = { image, kernelPath: paths.kernel, vmlinuzPath: paths.vmlinuz, headersDir: paths.headers, modulesDir: paths.modules };
  await cacheEntry({
    dir,
    label: `kernel tree ${image.id}`,
    key: treeKey(dir),
    onEvent: emit,
    mode: opts.check,
    select: reliedOn(image),
    build: async (tmp) => {
      emit({ type: 'stage', image: image.id, stage: 'fetch', message: `fetching ${image.id} (${image.release})` });
      const pins = pinsOf(image);
      const download = opts.download ?? aptDownloader(image, cacheDir);
      const debs: string[] = [];
      for (const [i, pin] of pins.entries()) {
        emit({ type: 'progress', image: image.id, stage: 'fetch', label: pin.name, done: i, total: pins.length });
        debs.push(await verifiedDeb(pin, download, cacheDir, emit));
      }
      emit({ type: 'progress', image: image.id, stage: 'fetch', label: 'done', done: pins.length, total: pins.length });
      emit({ type: 'stage', image: image.id, stage: 'extract', message: `extracting ${image.id}` });
      await extractTree(image, debs, tmp, dir);
    },
  });
  return prepared;
}

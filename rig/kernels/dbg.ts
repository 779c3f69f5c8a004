// Debian's -dbg package of a stock kernel (linux-image-R-dbg: its vmlinux with DWARF), fetched on demand only:
// it is large (855 MB for 6.1), so only `--gdb-dbg` asks for it, and the rig says the size before downloading.
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { aptContext, ensureLists, showPackage } from './apt.ts';
import { aptDownloader, fetchDeb } from './debs.ts';
import { ARCHES } from '../platform/arch/index.ts';
import { CacheError } from '../core/errors.ts';
import type { EventSink } from '../core/events.ts';
import type { DebianImageSpec, PinnedPackage } from './spec.ts';

/** The -dbg package of an image's kernel. Pure. */
export function dbgPackageName(image: DebianImageSpec): string {
  return `linux-image-${image.release}-dbg`;
}

/** Where the package keeps the kernel's ELF with DWARF. Pure. */
export function dbgVmlinuxPath(image: DebianImageSpec): string {
  return `./usr/lib/debug/boot/vmlinux-${image.release}`;
}

/**
 * The -dbg package pinned to the image's kernel: the same version as its linux-image pin (Debian builds
 * both from one source upload), with the sha256 of the suite's signed Packages index.
 */
export async function dbgPin(image: DebianImageSpec, cacheDir: string): Promise<PinnedPackage & { readonly size: number }> {
  const ctx = await aptContext(image.suite, ARCHES[image.arch].debArch, cacheDir);
  await ensureLists(ctx);
  const name = dbgPackageName(image);
  const version = image.packages.image.version;
  const [record] = await showPackage(ctx, name, version);
  if (!record) throw new CacheError(`${name} ${version} is not in the archive (any more)`, { hint: `the image's pins may be gone: npm run rig -- images update ${image.id}` });
  return { name, version, arch: record.architecture, sha256: record.sha256, filename: record.filename, size: record.size };
}

/**
 * The stock kernel's vmlinux with DWARF, from its -dbg package: downloaded and verified into the .deb cache
 * once, the vmlinux alone extracted to <cache>/gdb/<image>-dbg-<version>/ (the package unpacks to 5.6 GB).
 */
export async function dbgVmlinux(image: DebianImageSpec, cacheDir: string, onEvent: EventSink): Promise<string> {
  const dir = join(cacheDir, 'gdb', `${image.id}-dbg-${image.packages.image.version}`);
  const vmlinux = join(dir, 'vmlinux');
  if (existsSync(vmlinux)) return vmlinux;
  const pin = await dbgPin(image, cacheDir);
  onEvent({ type: 'log', level: 'warn', message: `--gdb-dbg: downloading ${pin.name} ${pin.version} (${Math.round(pin.size / 1e6)} MB, once; kept in ${cacheDir}) for the kernel's DWARF` });
  const deb = await fetchDeb(pin, aptDownloader(image, cacheDir), cacheDir, onEvent);
  onEvent({ type: 'stage', image: image.id, stage: 'extract', message: `extracting the kernel's vmlinux from ${pin.name}` });
  await mkdir(dir, { recursive: true });
  const tmp = `${vmlinux}.${process.pid}.tmp`;
  try {
    // dpkg-deb streams the data archive; tar keeps only the vmlinux.
    await execa('sh', ['-c', 'dpkg-deb --fsys-tarfile "$1" | tar -xO "$2" > "$3"', 'sh', deb, dbgVmlinuxPath(image), tmp]);
    await rename(tmp, vmlinux);
  } catch (cause) {
    await rm(tmp, { force: true });
    throw new CacheError(`cannot extract ${dbgVmlinuxPath(image)} from ${deb}`, { cause });
  }
  return vmlinux;
}

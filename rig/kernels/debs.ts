// An image's pinned .debs: downloaded with the private apt into the cache (debs/<sha256>/), verified against
// the pins. Used by the Debian kernels' fetch (fetch.ts) and by the kernel build of built images (build/kernel.ts).
import { rename, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { cacheEntry, checkEntry, exists, sha256File } from '../core/cache.ts';
import { CacheError } from '../core/errors.ts';
import type { EventSink } from '../core/events.ts';
import { ARCHES } from '../platform/arch/index.ts';
import { aptContext, aptDownload, type AptContext } from './apt.ts';
import type { ImageSpec, PinnedPackage } from './spec.ts';

function contextFor(image: ImageSpec, pin: PinnedPackage, cacheDir: string): Promise<AptContext> {
  return aptContext(image.suite, pin.arch === 'all' ? ARCHES[image.arch].debArch : pin.arch, cacheDir);
}

/** Downloads one pinned .deb into destDir and returns its path (apt-get download, or a fake in tests). */
export type Downloader = (pin: PinnedPackage, destDir: string) => Promise<string>;

/** The apt downloader for an image's pins (the private configuration of the image's suite and the pin's arch). */
export function aptDownloader(image: ImageSpec, cacheDir: string): Downloader {
  return async (pin, destDir) => aptDownload(await contextFor(image, pin, cacheDir), pin.name, pin.version, destDir);
}

/** Cache entry of a pin's .deb: debs/<sha256>/ holding <name>_<version>.deb and its record. Pure. */
export function debEntryDir(pin: PinnedPackage, cacheDir: string): string {
  return join(cacheDir, 'debs', pin.sha256);
}

/** The .deb inside its entry. Pure. */
export function debPath(pin: PinnedPackage, cacheDir: string): string {
  return join(debEntryDir(pin, cacheDir), `${pin.name}_${pin.version.replace(/:/g, '%3a')}_${pin.arch}.deb`);
}

/**
 * The verified .deb of a pin, downloading it if needed (a cache entry: temp dir, record, rename, lock).
 * A download whose hash is wrong is fetched once more; still wrong is a CacheError.
 */
export async function fetchDeb(pin: PinnedPackage, download: Downloader, cacheDir: string, onEvent?: EventSink): Promise<string> {
  const final = debPath(pin, cacheDir);
  await cacheEntry({
    dir: debEntryDir(pin, cacheDir),
    label: `${pin.name} ${pin.version}`,
    key: `deb ${pin.sha256}`,
    onEvent,
    build: async (tmp) => {
      // A cache of the previous layout kept .debs as debs/<sha256>.deb: adopt a file that still verifies.
      const legacy = join(cacheDir, 'debs', `${pin.sha256}.deb`);
      if ((await exists(legacy)) && (await sha256File(legacy)) === pin.sha256) {
        await rename(legacy, join(tmp, basename(final)));
        return;
      }
      await rm(legacy, { force: true });
      let got = '';
      for (let attempt = 0; attempt < 2; attempt++) {
        const incoming = join(tmp, `incoming-${attempt}`);
        try {
          const path = await download(pin, incoming);
          got = await sha256File(path);
          if (got === pin.sha256) {
            await rename(path, join(tmp, basename(final)));
            return;
          }
        } finally {
          await rm(incoming, { recursive: true, force: true });
        }
      }
      throw new CacheError(`${pin.name} ${pin.version}: sha256 is ${got}, the image pins ${pin.sha256}`, {
        hint: 'the archive changed under the pin or the download is corrupted: run `npm run rig -- images update`',
      });
    },
  });
  return final;
}

/** Re-verify a cached .deb fully (before extracting it); a bad one is refetched with one line saying so. */
export async function verifiedDeb(pin: PinnedPackage, download: Downloader, cacheDir: string, emit: EventSink): Promise<string> {
  const dir = debEntryDir(pin, cacheDir);
  const state = await checkEntry(dir, `deb ${pin.sha256}`, 'full');
  if (!state.ok && !state.missing) {
    emit({ type: 'log', level: 'warn', message: `cache: ${pin.name} ${pin.version} is damaged (${state.problem}); fetching it again` });
    await rm(dir, { recursive: true, force: true });
  }
  return fetchDeb(pin, download, cacheDir, emit);
}

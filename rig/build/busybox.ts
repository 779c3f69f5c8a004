// The guest's static busybox for any arch: the host's own for the native arch, else Debian's busybox-static:<arch>, cached.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { aptContext, aptDownload, compareDebVersions, ensureLists, networkHint, showPackage, type PackageRecord } from '../kernels/apt.ts';
import { CacheError, DownloadError } from '../core/errors.ts';
import { nullSink, type EventSink } from '../core/events.ts';
import { cacheRoot } from '../core/paths.ts';
import { cacheEntry, checkEntry } from '../core/cache.ts';
import { ARCHES, hostArch, type Arch } from '../platform/arch/index.ts';
import { elfInfo, readHead } from '../platform/elf.ts';
import { missingTool } from '../platform/host-tools.ts';

/** Where the guest busybox comes from: Debian's busybox-static of this suite. */
export const BUSYBOX_PACKAGE = 'busybox-static';
export const BUSYBOX_SUITE = 'bookworm';
const BUSYBOX_MARKER = 'busybox.json';

export interface BusyboxOptions {
  readonly cacheDir?: string;
  readonly onEvent?: EventSink;
  /** Host arch (tests). */
  readonly host?: Arch;
  /** The host's busybox for the native arch (tests). */
  readonly hostBusybox?: string;
}

/** Is `path` a static ELF executable for `arch`? */
export async function isStaticFor(path: string, arch: Arch): Promise<boolean> {
  const info = elfInfo(await readHead(path));
  return info !== undefined && info.machine === ARCHES[arch].elfMachine && !info.dynamic;
}

interface BusyboxMarker {
  readonly package: string;
  readonly version: string;
  readonly debSha256: string;
}

/** The newest record (apt lists every version it knows), by Debian version order. Pure. */
export function newest(records: readonly PackageRecord[]): PackageRecord | undefined {
  let best: PackageRecord | undefined;
  for (const r of records) if (!best || compareDebVersions(r.version, best.version) > 0) best = r;
  return best;
}

export const BUSYBOX_KEY = 'busybox 2';

/** A verified cached busybox (the newest entry whose record holds); damaged entries are removed, saying so. */
async function cachedBusybox(dir: string, arch: Arch, emit: EventSink = nullSink): Promise<string | undefined> {
  const entries = (await readdir(dir).catch(() => [] as string[])).filter((e) => !e.startsWith('.') && !e.endsWith('.lock')).sort().reverse();
  for (const entry of entries) {
    const bin = join(dir, entry, 'busybox');
    const state = await checkEntry(join(dir, entry), BUSYBOX_KEY);
    if (state.ok && (await isStaticFor(bin, arch))) return bin;
    emit({ type: 'log', level: 'warn', message: `cache: busybox ${entry} is damaged (${state.ok ? 'not a static executable' : state.problem}); fetching it again` });
    await rm(join(dir, entry), { recursive: true, force: true });
  }
  return undefined;
}

/**
 * A static busybox that runs on `arch`: the host's /bin/busybox for the native arch, else Debian's
 * busybox-static:<arch> downloaded once into <cache>/busybox/<debArch>/ (no network once cached).
 */
export async function busyboxFor(arch: Arch, opts: BusyboxOptions = {}): Promise<string> {
  const host = opts.host ?? hostArch();
  if (arch === host) {
    const bin = opts.hostBusybox ?? '/bin/busybox';
    if (!existsSync(bin)) throw missingTool('busybox');
    if (!(await isStaticFor(bin, arch))) {
      throw missingTool('busybox', {
        label: 'busybox (static)',
        cause: new Error(`${bin} is not a static ${arch} executable`),
      });
    }
    return bin;
  }
  const { debArch } = ARCHES[arch];
  const cacheDir = opts.cacheDir ?? cacheRoot();
  const dir = join(cacheDir, 'busybox', debArch);
  const emit = opts.onEvent ?? nullSink;
  const hit = await cachedBusybox(dir, arch, emit);
  if (hit) return hit;
  emit({ type: 'stage', stage: 'fetch', message: `fetching ${BUSYBOX_PACKAGE}:${debArch} for the ${arch} guest` });
  const ctx = await aptContext(BUSYBOX_SUITE, debArch, cacheDir);
  await ensureLists(ctx);
  const record = newest(await showPackage(ctx, BUSYBOX_PACKAGE));
  if (!record) {
    throw new DownloadError(`${BUSYBOX_PACKAGE}:${debArch} is not in ${BUSYBOX_SUITE}`, { hint: networkHint() });
  }
  const final = join(dir, record.version.replace(/[^A-Za-z0-9.+~-]/g, '_'));
  await cacheEntry({
    dir: final,
    label: `${BUSYBOX_PACKAGE}:${debArch} ${record.version}`,
    key: BUSYBOX_KEY,
    onEvent: emit,
    build: async (tmp) => {
      const deb = await aptDownload(ctx, BUSYBOX_PACKAGE, record.version, join(tmp, 'dl'));
      const debSha256 = createHash('sha256').update(await readFile(deb)).digest('hex');
      if (record.sha256 && debSha256 !== record.sha256) {
        throw new CacheError(`${BUSYBOX_PACKAGE}:${debArch} ${record.version}: sha256 ${debSha256}, the index says ${record.sha256}`);
      }
      const x = await execa('dpkg-deb', ['-x', deb, join(tmp, 'x')], { reject: false });
      if (x.exitCode !== 0) throw new CacheError(`dpkg-deb -x ${deb} failed: ${String(x.stderr).trim()}`);
      const extracted = [join(tmp, 'x', 'bin', 'busybox'), join(tmp, 'x', 'usr', 'bin', 'busybox')].find((p) => existsSync(p));
      if (!extracted || !(await isStaticFor(extracted, arch))) {
        throw new CacheError(`${BUSYBOX_PACKAGE}:${debArch} ${record.version} has no static ${arch} busybox`);
      }
      await rename(extracted, join(tmp, 'busybox'));
      const marker: BusyboxMarker = { package: BUSYBOX_PACKAGE, version: record.version, debSha256 };
      await writeFile(join(tmp, BUSYBOX_MARKER), `${JSON.stringify(marker, null, 2)}\n`);
      await rm(join(tmp, 'x'), { recursive: true, force: true });
      await rm(join(tmp, 'dl'), { recursive: true, force: true });
    },
  });
  return join(final, 'busybox');
}

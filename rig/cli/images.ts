// `images list|fetch|update|verify|clear`: list the images and snapshots, prefetch them, re-pin them to the archive's newest kernel (returns data; the CLI prints).
import type { SnapshotEntry } from '../vm/snapshot-cache.ts';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { aptContext, aptUpdate, compareDebVersions, isRollingSuite, madison, pocketsOf, searchNames, showPackage, type AptContext, type AptSource, type MadisonRow, type PackageRecord } from '../kernels/apt.ts';
import { DownloadError, PinGoneError } from '../core/errors.ts';
import { nullSink, type EventSink } from '../core/events.ts';
import { builtKernelState } from '../build/kernel.ts';
import { checkTree, kernelDirName, prepareKernel } from '../kernels/fetch.ts';
import { aptDownloader, fetchDeb } from '../kernels/debs.ts';
import { ARCHES } from '../platform/arch/index.ts';
import { DEFAULT_IMAGE_ID, imagesDir as defaultImagesDir, loadImages, resolveImages } from '../kernels/images.ts';
import { cacheRoot } from '../core/paths.ts';
import { isBuiltImage, type BuiltImageSpec, type DebianImageSpec, type ImageSpec, type PinnedPackage, type PreparedKernel } from '../kernels/spec.ts';

export interface ImagesOptions {
  readonly cacheDir?: string;
  readonly onEvent?: EventSink;
  readonly imagesDir?: string;
  /** Mirrors and keyring instead of Debian's (tests serve a captured archive). */
  readonly source?: AptSource;
}

export interface ImageListEntry {
  readonly id: string;
  readonly description: string;
  readonly arch: string;
  readonly suite: string;
  readonly release: string;
  readonly version: string;
  /** The pocket the kernel's pin came from (bookworm-security, ...), when the image file records it. */
  readonly pocket?: string;
  readonly isDefault: boolean;
}

export interface ImageUpdate {
  readonly id: string;
  readonly file: string;
  readonly changed: boolean;
  readonly from: { readonly release: string; readonly version: string };
  readonly to: { readonly release: string; readonly version: string; readonly pocket?: string };
}

/** Every image, for `images list` (and the CI matrix). */
export function imagesList(opts: ImagesOptions = {}): ImageListEntry[] {
  return loadImages(opts.imagesDir ?? defaultImagesDir).map((i) => ({
    id: i.id,
    description: i.description,
    arch: i.arch,
    suite: i.suite,
    release: i.release,
    version: versionOf(i),
    pocket: isBuiltImage(i) ? i.packages.source.pocket : i.packages.image.pocket,
    isDefault: i.id === DEFAULT_IMAGE_ID,
  }));
}

/** Download and prepare the given images (a spec as for --kernel: ids, comma list, `all`). */
export async function imagesFetch(ids: string = DEFAULT_IMAGE_ID, opts: ImagesOptions = {}): Promise<PreparedKernel[]> {
  const images = resolveImages(ids, loadImages(opts.imagesDir ?? defaultImagesDir));
  const out: PreparedKernel[] = [];
  for (const image of images) out.push(await prepareKernel(image, { cacheDir: opts.cacheDir, onEvent: opts.onEvent }));
  return out;
}

export interface ImageVerify {
  readonly id: string;
  /** ok: every recorded sha256 holds; repaired: it did not (problem says why) and the tree was made again; absent: not cached. */
  readonly state: 'ok' | 'repaired' | 'absent';
  readonly problem?: string;
}

/**
 * `images verify`: the full check (every sha256 in the tree's record) of each cached image; a damaged
 * tree is made again from its verified .debs (refetched if they are damaged too).
 */
export async function imagesVerify(ids: string, opts: ImagesOptions = {}): Promise<ImageVerify[]> {
  const cacheDir = opts.cacheDir ?? cacheRoot();
  const out: ImageVerify[] = [];
  for (const image of resolveImages(ids, loadImages(opts.imagesDir ?? defaultImagesDir))) {
    const state = isBuiltImage(image)
      ? await builtKernelState(image, { cacheDir, imagesDir: opts.imagesDir }, 'full')
      : await checkTree(join(resolve(cacheDir), 'kernels', kernelDirName(image)), 'full');
    if (state.ok) out.push({ id: image.id, state: 'ok' });
    else if (state.missing) out.push({ id: image.id, state: 'absent' });
    else {
      await prepareKernel(image, { cacheDir, onEvent: opts.onEvent, check: 'full' });
      out.push({ id: image.id, state: 'repaired', problem: state.problem });
    }
  }
  return out;
}

/** A kernel release split into its version part and flavour (6.1.0-50-amd64 -> 6.1.0-50 + amd64). Pure. */
export function parseRelease(release: string): { version: string; major: number; minor: number; flavour: string } | undefined {
  const m = /^((\d+)\.(\d+)(?:\.\d+)?(?:-\d+)?(?:\+[a-z0-9.~]+)?)-([a-z][a-z0-9-]*)$/.exec(release);
  if (!m) return undefined;
  return { version: m[1], major: Number(m[2]), minor: Number(m[3]), flavour: m[4] };
}

/**
 * The version to pin among madison rows: the newest in any pocket of the suite that Debian users get
 * by default (the suite, -updates, -security: users run the security kernels); when two pockets serve
 * that version, the most preferred one (main, then -updates, then -security). Rows of other suites are
 * ignored. Pure.
 */
export function pickRow(rows: readonly MadisonRow[], suite: string): MadisonRow | undefined {
  const pockets = pocketsOf(suite);
  const rank = (r: MadisonRow) => pockets.indexOf(r.pocket);
  const mine = rows.filter((r) => rank(r) >= 0);
  return [...mine].sort((a, b) => compareDebVersions(b.version, a.version) || rank(a) - rank(b))[0];
}

/**
 * Kernel image packages of the same flavour and series as `release` (no -cloud, -rt, -dbg, -unsigned,
 * no meta packages such as linux-image-6.12-amd64): the same major.minor, or with `anyMinor` (a rolling
 * suite such as sid) the same major. A stable suite's security pocket can carry a newer series (bookworm
 * has 6.12 beside 6.1, bullseye 6.1 beside 5.10): an image keeps the series it is named for. Pure.
 */
export function sameFlavour(names: readonly string[], release: string, anyMinor = false): string[] {
  const want = parseRelease(release);
  if (!want) return [];
  return names.filter((n) => {
    if (!n.startsWith('linux-image-')) return false;
    const r = parseRelease(n.slice('linux-image-'.length));
    return r !== undefined && /^\d+\.\d+\.\d+/.test(r.version) && r.flavour === want.flavour && r.major === want.major && (anyMinor || r.minor === want.minor);
  });
}

/** Name and exact version of a dependency in a Depends field (first alternative), by a name pattern. Pure. */
export function dependency(depends: string, name: RegExp): { name: string; version?: string } | undefined {
  for (const clause of depends.split(',')) {
    const m = /^\s*([a-z0-9][a-z0-9+.-]*)(?::\S+)?\s*(?:\((?:=|>=)\s*([^)\s]+)\))?/.exec(clause.split('|')[0]);
    if (m && name.test(m[1])) return { name: m[1], version: m[2] };
  }
  return undefined;
}

/** A pin from a Packages record, with the pocket that serves it when known. Pure. */
export function pinOf(r: PackageRecord, pocket?: string): PinnedPackage {
  return { name: r.package, version: r.version, arch: r.architecture, sha256: r.sha256, filename: r.filename, ...(pocket ? { pocket } : {}) };
}

const TOP_KEYS = ['id', 'description', 'kind', 'arch', 'suite', 'release', 'packages', 'build', 'toolchain', 'qemu'];
const PACKAGE_KEYS = ['image', 'headers', 'headersCommon', 'kbuild', 'binary', 'source'];
const PIN_KEYS = ['name', 'version', 'arch', 'sha256', 'filename', 'pocket'];

function ordered(o: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  for (const k of Object.keys(o)) if (!(k in out) && o[k] !== undefined) out[k] = o[k];
  return out;
}

/** The image's QEMU settings that differ from its arch's record: all an image file needs to say. Pure. */
export function qemuOverrides(spec: ImageSpec): Record<string, unknown> {
  const defaults = ARCHES[spec.arch].qemu as Readonly<Record<string, unknown>>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(spec.qemu)) if (JSON.stringify(v) !== JSON.stringify(defaults[k])) out[k] = v;
  return out;
}

/** An image file's text: stable key order, two-space indent, trailing newline. Pure. */
export function renderImage(spec: ImageSpec): string {
  const pkgs = spec.packages as unknown as Record<string, Record<string, unknown>>;
  const packages: Record<string, unknown> = {};
  for (const [role, pin] of Object.entries(ordered(pkgs, PACKAGE_KEYS))) packages[role] = ordered(pin as Record<string, unknown>, PIN_KEYS);
  const qemu = qemuOverrides(spec);
  const { qemu: _merged, ...rest } = spec as unknown as Record<string, unknown>;
  const top = ordered({ ...rest, packages, ...(Object.keys(qemu).length > 0 && { qemu }) }, TOP_KEYS);
  return `${JSON.stringify(top, null, 2)}\n`;
}

/** The image with new pins and release; everything else kept. Pure. */
export function withPins(spec: DebianImageSpec, release: string, packages: DebianImageSpec['packages']): DebianImageSpec {
  return { ...spec, release, packages };
}

/** Upstream part of a Debian kernel source version (6.1.176-1 -> 6.1.176). Pure. */
export function upstreamVersion(debVersion: string): string {
  return debVersion.replace(/-[^-]*$/, '');
}

/** A built image re-pinned to another source package; its release follows the new upstream version. Pure. */
export function withSourcePin(spec: BuiltImageSpec, source: PinnedPackage): BuiltImageSpec {
  const release = spec.release.replace(upstreamVersion(spec.packages.source.version), upstreamVersion(source.version));
  return { ...spec, release, packages: { source } };
}

/** The newest linux-source-X.Y of a built image's suite, in any of its pockets. */
async function resolveLatestSource(image: BuiltImageSpec, cacheDir: string, source?: AptSource): Promise<BuiltImageSpec> {
  const ctx = await aptContext(image.suite, ARCHES[image.arch].debArch, cacheDir, source);
  await aptUpdate(ctx);
  const best = pickRow(await madison(ctx, [image.packages.source.name]), image.suite);
  if (!best) throw new PinGoneError(`${image.id}: no ${image.packages.source.name} in ${image.suite}`);
  return withSourcePin(image, pinOf(await record(ctx, best.name, best.version), best.pocket));
}

/** The record of name=version and the most preferred pocket of the suite that serves it. */
async function pinFrom(ctx: AptContext, name: string, version: string): Promise<PinnedPackage> {
  const rec = await record(ctx, name, version);
  const row = pickRow((await madison(ctx, [name])).filter((r) => r.version === version), ctx.suite);
  return pinOf(rec, row?.pocket);
}

function versionOf(image: ImageSpec): string {
  return isBuiltImage(image) ? image.packages.source.version : image.packages.image.version;
}

async function record(ctx: AptContext, name: string, version: string): Promise<PackageRecord> {
  const [r] = await showPackage(ctx, name, version);
  if (!r) throw new PinGoneError(`${name} ${version} is not in ${ctx.suite}/${ctx.debArch}`, { hint: 'the archive changed during the update: retry' });
  return r;
}

/** Resolve the newest pins for an image from the archive (updating the private apt lists). */
export async function resolveLatest(image: ImageSpec, cacheDir: string, source?: AptSource): Promise<ImageSpec> {
  if (isBuiltImage(image)) return resolveLatestSource(image, cacheDir, source);
  const contexts = new Map<string, AptContext>();
  const ctxFor = async (arch: string): Promise<AptContext> => {
    const a = arch === 'all' ? ARCHES[image.arch].debArch : arch;
    let ctx = contexts.get(a);
    if (!ctx) {
      ctx = await aptContext(image.suite, a, cacheDir, source);
      await aptUpdate(ctx);
      contexts.set(a, ctx);
    }
    return ctx;
  };
  const main = await ctxFor(image.packages.image.arch);
  const rel = parseRelease(image.release);
  if (!rel) throw new DownloadError(`${image.id}: cannot parse release ${image.release}`);
  const names = sameFlavour(await searchNames(main, `^linux-image-${rel.major}\\.[0-9]+.*-${rel.flavour}$`), image.release, isRollingSuite(image.suite));
  const best = pickRow(await madison(main, names), image.suite);
  if (!best) throw new PinGoneError(`${image.id}: no linux-image-${isRollingSuite(image.suite) ? rel.major : `${rel.major}.${rel.minor}`}.*-${rel.flavour} in ${image.suite}`);
  const release = best.name.slice('linux-image-'.length);
  const imagePin = pinOf(await record(main, best.name, best.version), best.pocket);
  const headersRec = await record(main, `linux-headers-${release}`, best.version);
  const commonDep = dependency(headersRec.depends, /^linux-headers-.*-common(-rt)?$/);
  const kbuildDep = dependency(headersRec.depends, /^linux-kbuild-/);
  if (!commonDep || !kbuildDep) throw new DownloadError(`${headersRec.package}: Depends names no -common headers or linux-kbuild: ${headersRec.depends}`);
  const headersCommon = await pinFrom(await ctxFor('all'), commonDep.name, commonDep.version ?? best.version);
  const kbuild = await pinFrom(await ctxFor(image.packages.kbuild.arch), kbuildDep.name, kbuildDep.version ?? best.version);
  const binary = image.packages.binary ? await pinFrom(main, `linux-binary-${release}`, best.version) : undefined;
  return withPins(image, release, {
    image: imagePin,
    ...(binary ? { binary } : {}),
    headers: await pinFrom(main, headersRec.package, headersRec.version),
    headersCommon,
    kbuild,
  });
}

/** Re-pin the images to the newest kernel of their suite, download and verify the .debs, rewrite images/<id>.json. */
export async function imagesUpdate(ids: string = 'all', opts: ImagesOptions = {}): Promise<ImageUpdate[]> {
  const dir = opts.imagesDir ?? defaultImagesDir;
  const cacheDir = opts.cacheDir ?? cacheRoot();
  const emit = opts.onEvent ?? nullSink;
  const out: ImageUpdate[] = [];
  for (const image of resolveImages(ids, loadImages(dir))) {
    emit({ type: 'stage', image: image.id, stage: 'fetch', message: `resolving the newest ${image.id} kernel` });
    const next = await resolveLatest(image, cacheDir, opts.source);
    const pins = Object.values(next.packages) as PinnedPackage[];
    for (const [i, pin] of pins.entries()) {
      emit({ type: 'progress', image: image.id, stage: 'fetch', label: pin.name, done: i, total: pins.length });
      await fetchDeb(pin, aptDownloader(next, cacheDir), cacheDir);
    }
    const file = join(dir, `${image.id}.json`);
    const text = renderImage(next);
    const changed = text !== (await readFile(file, 'utf8'));
    if (changed) await writeFile(file, text);
    out.push({
      id: image.id,
      file,
      changed,
      from: { release: image.release, version: versionOf(image) },
      to: { release: next.release, version: versionOf(next), pocket: isBuiltImage(next) ? next.packages.source.pocket : next.packages.image.pocket },
    });
  }
  return out;
}

/** `images list`'s snapshot section: one line per cached ready-guest snapshot, most recently used first. Pure. */
export function formatSnapshotList(entries: readonly SnapshotEntry[], dir: string, boundBytes: number, now: Date = new Date()): string {
  const mb = (n: number) => `${(n / 1048576).toFixed(0)} MB`;
  const total = entries.reduce((s, e) => s + e.bytes, 0);
  const head = `\nsnapshots in ${dir}: ${entries.length}, ${mb(total)} of ${mb(boundBytes)} (KTEST_RIG_SNAPSHOT_CACHE_MB; clear with: rig images clear [ID...])`;
  const lines = entries.map((e) => {
    const argv = e.record?.inputs.argv ?? [];
    const at = (flag: string) => argv[argv.indexOf(flag) + 1] ?? '?';
    const debug = argv.some((a) => a.includes('slub_debug=')) ? 'debug' : 'no-debug';
    const ago = Math.max(0, Math.round((now.getTime() - e.lastUsed.getTime()) / 60_000));
    return `  ${e.image.padEnd(20)} ${e.key.slice(0, 12)}  ${mb(e.bytes).padStart(7)}  -smp ${at('-smp')} -m ${at('-m')} ${debug.padEnd(8)}  used ${ago} min ago`;
  });
  return [head, ...lines].join('\n');
}

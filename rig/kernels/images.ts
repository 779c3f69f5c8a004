// Guest images as data: load and validate images/*.json, resolve `--image` specs to ImageSpecs.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../core/errors.ts';
import { projectRoot } from '../core/paths.ts';
import type { ImageSpec } from './spec.ts';
import { ARCHES, ARCH_NAMES, isArch, type Arch } from '../platform/arch/index.ts';

export const DEFAULT_IMAGE_ID = 'bookworm-6.1';
export const imagesDir: string = join(projectRoot, 'images');

const PACKAGE_ROLES = ['image', 'headers', 'headersCommon', 'kbuild'] as const;


type Json = Record<string, unknown>;

function fail(file: string, field: string, why: string): never {
  throw new UsageError(`image ${file}: field "${field}" ${why}`, {
    hint: `fix ${file} (see images/${DEFAULT_IMAGE_ID}.json for a complete example)`,
  });
}

function obj(file: string, v: unknown, field: string): Json {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(file, field, 'is missing or not an object');
  return v as Json;
}

function str(file: string, o: Json, key: string, prefix: string, optional = false): void {
  const v = o[key];
  if (v === undefined && optional) return;
  if (typeof v !== 'string' || v === '') fail(file, `${prefix}${key}`, 'is missing or not a non-empty string');
}

function strList(file: string, o: Json, key: string, prefix: string): void {
  const v = o[key];
  if (v === undefined) return;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) fail(file, `${prefix}${key}`, 'is not a list of strings');
}

function checkPackage(file: string, v: unknown, field: string): void {
  const p = obj(file, v, field);
  for (const k of ['name', 'version', 'arch', 'sha256']) str(file, p, k, `${field}.`);
  str(file, p, 'filename', `${field}.`, true);
  str(file, p, 'pocket', `${field}.`, true);
  if (!/^[0-9a-f]{64}$/.test(p.sha256 as string)) fail(file, `${field}.sha256`, 'is not 64 lowercase hex digits');
}

/** Which images a run covers: the default image, all of them, or the named ones. */
export type KernelSelection = { readonly kind: 'default' } | { readonly kind: 'all' } | { readonly kind: 'ids'; readonly ids: readonly string[] };

const selectionError = (message: string): UsageError => new UsageError(message, { hint: 'image ids are the names of images/*.json (see: npm run -s rig -- images)' });

/** Parses --kernel values: repeated and/or comma-separated ids, or "all" alone. */
export function parseKernels(values: readonly string[] | undefined): KernelSelection {
  if (!values || values.length === 0) return { kind: 'default' };
  const ids = values.flatMap((v) => v.split(',')).map((v) => v.trim());
  if (ids.some((id) => id === '')) throw selectionError(`--kernel has an empty id in '${values.join(',')}'`);
  if (ids.includes('all')) {
    if (ids.length > 1) throw selectionError(`--kernel all cannot be combined with other ids ('${values.join(',')}')`);
    return { kind: 'all' };
  }
  for (const id of ids) if (!/^[\w.+-]+$/.test(id)) throw selectionError(`--kernel '${id}' is not an image id (letters, digits, . _ + -)`);
  return { kind: 'ids', ids: [...new Set(ids)] };
}

/** Validate one parsed image file; `file` names it in errors. Pure. */
export function validateImage(file: string, data: unknown): ImageSpec {
  const o = obj(file, data, '(top level)');
  for (const k of ['id', 'description', 'arch', 'suite', 'release']) str(file, o, k, '');
  if (!isArch(String(o.arch))) fail(file, 'arch', `must be one of ${ARCH_NAMES.join(', ')} (rig/platform/arch/)`);
  if (o.kind !== undefined && o.kind !== 'debian' && o.kind !== 'built') fail(file, 'kind', 'must be "debian" (the default) or "built"');
  const pkgs = obj(file, o.packages, 'packages');
  if (o.kind === 'built') {
    checkPackage(file, pkgs.source, 'packages.source');
    const b = obj(file, o.build, 'build');
    strList(file, b, 'fragments', 'build.');
    strList(file, b, 'patches', 'build.');
    if (!Array.isArray(b.fragments) || b.fragments.length === 0) fail(file, 'build.fragments', 'must list at least one config fragment');
    for (const f of [...(b.fragments as string[]), ...((b.patches as string[] | undefined) ?? [])]) {
      if (f.startsWith('/') || f.split('/').includes('..')) fail(file, 'build', `names ${f}: fragments and patches are paths inside images/`);
    }
    if (!Number.isInteger(b.objects) || (b.objects as number) < 1) fail(file, 'build.objects', 'must be a positive integer (about how many objects the build compiles)');
  } else {
    for (const role of PACKAGE_ROLES) checkPackage(file, pkgs[role], `packages.${role}`);
    if (pkgs.binary !== undefined) checkPackage(file, pkgs.binary, 'packages.binary');
  }
  const tc = obj(file, o.toolchain, 'toolchain');
  if (tc.kind !== 'host' && tc.kind !== 'buildroot') fail(file, 'toolchain.kind', 'must be "host" or "buildroot"');
  str(file, tc, 'cc', 'toolchain.');
  str(file, tc, 'suite', 'toolchain.', tc.kind !== 'buildroot');
  str(file, tc, 'crossCompile', 'toolchain.', true);
  strList(file, tc, 'packages', 'toolchain.');
  // QEMU settings: the arch's record (rig/platform/arch/), then what the image's own "qemu" overrides.
  const q: Json = { ...ARCHES[o.arch as Arch].qemu, ...obj(file, o.qemu ?? {}, 'qemu') };
  o.qemu = q;
  for (const k of ['binary', 'machine', 'cpu', 'console', 'commandPort']) str(file, q, k, 'qemu.');
  if (q.commandChannel !== 'serial' && q.commandChannel !== 'virtconsole') {
    fail(file, 'qemu.commandChannel', 'must be "serial" or "virtconsole"');
  }
  if (q.filesChannel !== undefined && q.filesChannel !== 'virtio-serial-pci' && q.filesChannel !== 'virtio-serial') {
    fail(file, 'qemu.filesChannel', 'must be "virtio-serial-pci" or "virtio-serial" (or absent)');
  }
  for (const k of ['append', 'guestModules', 'extraArgs']) strList(file, q, k, 'qemu.');
  if (q.memoryMb !== undefined && (!Number.isInteger(q.memoryMb) || (q.memoryMb as number) < 64)) {
    fail(file, 'qemu.memoryMb', 'must be an integer >= 64');
  }
  return o as unknown as ImageSpec;
}

/** Parse and validate one image file's text. */
export function parseImage(file: string, text: string): ImageSpec {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (cause) {
    throw new UsageError(`image ${file}: malformed JSON: ${(cause as Error).message}`, { cause });
  }
  const spec = validateImage(file, data);
  const base = file.replace(/^.*\//, '').replace(/\.json$/, '');
  if (spec.id !== base) fail(file, 'id', `is "${spec.id}" but the file is named ${base}.json`);
  return spec;
}

/** Load every images/*.json, sorted by id. */
export function loadImages(dir: string = imagesDir): ImageSpec[] {
  const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  return files.map((f) => parseImage(join(dir, f), readFileSync(join(dir, f), 'utf8')));
}

/**
 * Resolve an id, a comma list of ids, or `all` (default: the default image). `all` is every image
 * made from Debian's kernel packages; images the rig compiles itself (kind 'built', a build of
 * about 15 minutes on first use) are run only when named.
 */
export function resolveImages(spec: string = DEFAULT_IMAGE_ID, all: readonly ImageSpec[] = loadImages()): ImageSpec[] {
  const ids = spec.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (ids.length === 1 && ids[0] === 'all') return all.filter((i) => i.kind !== 'built');
  if (ids.length === 0) throw new UsageError('no image given', { hint: `valid images: ${all.map((i) => i.id).join(', ')}, all` });
  const out: ImageSpec[] = [];
  for (const id of ids) {
    const found = all.find((i) => i.id === id);
    if (!found) {
      const valid = `${all.map((i) => i.id).join(', ')}, all`;
      throw new UsageError(`unknown image "${id}" (valid: ${valid})`, { hint: `pick one of: ${valid}` });
    }
    if (!out.includes(found)) out.push(found);
  }
  return out;
}

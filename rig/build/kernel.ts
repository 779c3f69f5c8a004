// Build a kernel of kind 'built' (images/<id>.json) from Debian's pinned linux-source package:
// extract, patch, allnoconfig + the image's config fragments, check every asked option stuck, make.
// One cache entry per hash of (source pin, fragments, patches, toolchain and its version).
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { constants, copyFile, mkdir, readFile, readdir, readlink, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { cacheEntry, checkEntry, sha256File, type CheckMode, type EntryState } from '../core/cache.ts';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { CacheError, InfraError, KernelBuildError } from '../core/errors.ts';
import { missingTool } from '../platform/host-tools.ts';
import { nullSink, type EventSink } from '../core/events.ts';
import { cacheRoot } from '../core/paths.ts';
import type { BuiltImageSpec, PreparedKernel } from '../kernels/spec.ts';
import { aptDownloader, fetchDeb, type Downloader } from '../kernels/debs.ts';
import { imagesDir as defaultImagesDir } from '../kernels/images.ts';

/** Bump when the build tree's layout changes, so old entries are not reused. */
const LAYOUT_VERSION = 2;

export interface KernelBuildOptions {
  readonly cacheDir?: string;
  readonly imagesDir?: string;
  readonly onEvent?: EventSink;
  readonly download?: Downloader;
  /** make -j (default: the host's parallelism). */
  readonly jobs?: number;
  /** Run make under `nice -n N` (default 10: a kernel build must not starve the guests). */
  readonly nice?: number;
  /** How a cached build is checked before use (default cheap). */
  readonly check?: CheckMode;
}

/** One option line of a fragment: `CONFIG_X=v` or `# CONFIG_X is not set` (value 'n'). */
export interface ConfigOption {
  readonly name: string;
  readonly value: string;
}

/** Options a fragment asks for, in order (comments and blank lines skipped). Pure. */
export function parseFragment(text: string): ConfigOption[] {
  const out: ConfigOption[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const unset = /^# (CONFIG_[A-Za-z0-9_]+) is not set$/.exec(line);
    if (unset) {
      out.push({ name: unset[1], value: 'n' });
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/.exec(line);
    if (!m) throw new InfraError(`not a config line: ${JSON.stringify(line)}`);
    out.push({ name: m[1], value: m[2] });
  }
  return out;
}

/** Values in a .config (unset options are 'n'). Pure. */
export function parseDotConfig(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const unset = /^# (CONFIG_[A-Za-z0-9_]+) is not set$/.exec(line);
    if (unset) out.set(unset[1], 'n');
    const m = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/.exec(line);
    if (m) out.set(m[1], m[2]);
  }
  return out;
}

/** Options asked for that the resulting .config does not have (the last ask of an option wins). Pure. */
export function missingOptions(asked: readonly ConfigOption[], config: ReadonlyMap<string, string>): ConfigOption[] {
  const want = new Map<string, string>();
  for (const o of asked) want.set(o.name, o.value);
  return [...want].filter(([name, value]) => (config.get(name) ?? 'n') !== value).map(([name, value]) => ({ name, value }));
}

/** Objects compiled so far, from make's output (one `  CC  path.o` line per object). Pure. */
export function isObjectLine(line: string): boolean {
  return /^\s+(CC|AS)\s+\S+\.o$/.test(line);
}

export interface Inputs {
  readonly fragments: readonly { readonly name: string; readonly text: string }[];
  readonly patches: readonly { readonly name: string; readonly text: string }[];
  readonly toolchainVersion: string;
}

export async function readInputs(image: BuiltImageSpec, imagesDir: string): Promise<Inputs> {
  const read = async (name: string) => ({ name, text: await readFile(join(imagesDir, name), 'utf8') });
  const fragments = await Promise.all(image.build.fragments.map(read));
  const patches = await Promise.all((image.build.patches ?? []).map(read));
  const cc = `${image.toolchain.crossCompile ?? ''}${image.toolchain.cc}`;
  const r = await execa(cc, ['--version'], { reject: false }).catch(() => undefined);
  if (!r || r.exitCode !== 0) throw missingTool(cc);
  return { fragments, patches, toolchainVersion: String(r.stdout).split('\n')[0] };
}

/** Cache key: layout, source pin, fragments, patches, toolchain and the compiler's version line. Pure. */
export function buildKey(image: BuiltImageSpec, inputs: Inputs): string {
  const h = createHash('sha256');
  const s = image.packages.source;
  h.update(`${LAYOUT_VERSION}\n${image.arch}\n${s.name} ${s.version} ${s.arch} ${s.sha256}\n`);
  for (const f of inputs.fragments) h.update(`fragment ${f.name}\n${f.text}\n`);
  for (const p of inputs.patches) h.update(`patch ${p.name}\n${p.text}\n`);
  h.update(`${JSON.stringify(image.toolchain)}\n${inputs.toolchainVersion}\n`);
  return `${image.id}-${h.digest('hex').slice(0, 12)}`;
}

/** Paths of a build entry. Pure. */
export function builtPaths(dir: string): { src: string; out: string; log: string; failedLog: string; bzImage: string; vmlinux: string } {
  return {
    src: join(dir, 'src'),
    out: join(dir, 'out'),
    log: join(dir, 'build.log'),
    failedLog: `${dir}.failed.log`,
    bzImage: join(dir, 'out', 'arch', 'x86', 'boot', 'bzImage'),
    vmlinux: join(dir, 'out', 'vmlinux'),
  };
}

/** What a finished build records about itself (build.json in the entry). */
interface BuildInfo {
  readonly release: string;
  readonly seconds: number;
  readonly objects: number;
}

async function run(argv: readonly string[], cwd: string, log: string): Promise<void> {
  const r = await execa(argv[0], argv.slice(1), { cwd, reject: false, all: true, stdin: 'ignore' });
  await writeFile(log, `$ ${argv.join(' ')}\n${String(r.all ?? '')}\n`, { flag: 'a' });
  if (r.exitCode !== 0) throw new KernelBuildError(`kernel build step failed: ${argv.join(' ')}: ${lastErrorLine(String(r.all ?? '')) ?? ''}`);
}

/** The most useful line of a failed build's output: the first `error:` line, else the last line. Pure. */
export function lastErrorLine(output: string): string | undefined {
  const lines = output.split('\n').filter((l) => l.trim() !== '');
  return lines.find((l) => /\berror\b|\*\*\*/.test(l)) ?? lines.at(-1);
}

async function extractSource(deb: string, src: string, log: string): Promise<void> {
  await mkdir(src, { recursive: true });
  // linux-source-X.Y ships one tarball: usr/src/linux-source-X.Y.tar.xz; unpack it without the top directory.
  const script =
    'set -e; t=$(dpkg-deb --fsys-tarfile "$1" | tar -t | grep -m1 "^\\./usr/src/linux-source-.*\\.tar\\.xz$"); ' +
    'dpkg-deb --fsys-tarfile "$1" | tar -xO "$t" | xz -dc -T0 | tar -x --strip-components=1 -C "$2"';
  await run(['sh', '-c', script, 'extract', deb, src], src, log);
}

async function makeKernel(
  image: BuiltImageSpec,
  paths: ReturnType<typeof builtPaths>,
  opts: { jobs: number; nice: number; emit: EventSink },
): Promise<number> {
  const argv = ['nice', '-n', String(opts.nice), ...makeBase(image, paths), `-j${opts.jobs}`, 'bzImage', 'modules_prepare', 'scripts_gdb'];
  const logStream = createWriteStream(paths.log, { flags: 'a' });
  logStream.write(`$ ${argv.join(' ')}\n`);
  const child = execa(argv[0], argv.slice(1), { cwd: paths.src, reject: false, all: true, stdin: 'ignore', buffer: false });
  let done = 0;
  let lastEmit = 0;
  let pending = '';
  const total = image.build.objects;
  child.all?.on('data', (chunk: Buffer) => {
    logStream.write(chunk);
    pending += chunk.toString('utf8');
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) if (isObjectLine(line)) done++;
    const now = Date.now();
    if (now - lastEmit > 1000) {
      lastEmit = now;
      opts.emit({ type: 'progress', image: image.id, stage: 'build', label: 'kernel objects', done: Math.min(done, total), total: Math.max(total, done) });
    }
  });
  const r = await child;
  await new Promise<void>((ok) => logStream.end(ok));
  if (r.exitCode !== 0) {
    const tail = (await readFile(paths.log, 'utf8')).split('\n').slice(-400).join('\n');
    throw new KernelBuildError(`kernel build failed (make exited ${r.exitCode ?? r.signal}): ${lastErrorLine(tail) ?? ''}`);
  }
  return done;
}

/** Delete what only a rebuild of the kernel needs (object files, .cmd files), keep what M= module builds use. */
async function pruneObjects(out: string): Promise<void> {
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) {
        if (p === join(out, 'scripts') || p === join(out, 'tools') || p === join(out, 'include') || p === join(out, 'arch', 'x86', 'include')) continue;
        await walk(p);
      } else if (e.isFile() && (/\.o$/.test(e.name) || /^\..*\.cmd$/.test(e.name) || /\.a$/.test(e.name))) await unlink(p);
    }
  };
  await walk(out);
}

/**
 * Fetch and verify the source package, unpack it into dir/src, apply the patches, and configure it
 * into dir/out (`allnoconfig` with the fragments, then `olddefconfig`). Every option a fragment asks
 * for must be in the resulting .config, else a KernelBuildError names the ones that did not stick.
 * Returns the .config's values.
 */
export async function configureSource(image: BuiltImageSpec, opts: KernelBuildOptions, dir: string, inputs?: Inputs): Promise<Map<string, string>> {
  const cacheDir = resolve(opts.cacheDir ?? cacheRoot());
  const emit = opts.onEvent ?? nullSink;
  const given = inputs ?? (await readInputs(image, opts.imagesDir ?? defaultImagesDir));
  const paths = builtPaths(dir);
  await mkdir(dir, { recursive: true });
  emit({ type: 'stage', image: image.id, stage: 'fetch', message: `fetching ${image.packages.source.name} ${image.packages.source.version}` });
  const deb = await fetchDeb(image.packages.source, opts.download ?? aptDownloader(image, cacheDir), cacheDir);
  if ((await sha256File(deb)) !== image.packages.source.sha256) throw new CacheError(`${deb} does not match its pin`, { hint: `delete ${deb} and retry` });
  emit({ type: 'stage', image: image.id, stage: 'extract', message: `extracting ${image.packages.source.name}` });
  await extractSource(deb, paths.src, paths.log);
  for (const p of given.patches) {
    await writeFile(join(dir, 'patch'), p.text);
    await run(['patch', '-p1', '--forward', '--batch', '-i', join(dir, 'patch')], paths.src, paths.log);
  }
  const asked = given.fragments.flatMap((f) => parseFragment(f.text));
  const merged = join(dir, 'fragments.config');
  await writeFile(merged, given.fragments.map((f) => `# ${f.name}\n${f.text}`).join('\n'));
  const base = makeBase(image, paths);
  await run([...base, `KCONFIG_ALLCONFIG=${merged}`, 'allnoconfig'], paths.src, paths.log);
  await run([...base, 'olddefconfig'], paths.src, paths.log);
  const config = parseDotConfig(await readFile(join(paths.out, '.config'), 'utf8'));
  const missing = missingOptions(asked, config);
  if (missing.length > 0) {
    throw new KernelBuildError(`${image.id}: config options did not stick after olddefconfig: ${missing.map((o) => `${o.name}=${o.value}`).join(', ')}`, {
      hint: `fix the fragments in images/ (${image.build.fragments.join(', ')}): a dependency is missing or the option does not exist`,
    });
  }
  return config;
}

function makeBase(image: BuiltImageSpec, paths: ReturnType<typeof builtPaths>): string[] {
  const cc = `${image.toolchain.crossCompile ?? ''}${image.toolchain.cc}`;
  return ['make', `O=${paths.out}`, 'ARCH=x86_64', `CC=${cc}`, `HOSTCC=${cc}`];
}

/** Files of a built tree the rig relies on (recorded and checked by the cache helper). */
const KEPT_FILES = new Set(['out/arch/x86/boot/bzImage', 'out/vmlinux', 'out/.config', 'out/Module.symvers', 'out/Makefile', 'build.json']);

/**
 * Point the build tree's absolute paths (O='s Makefile and `source` link, gdb script links) from the
 * temp dir the build ran in to the entry's final place. Pure on the text; the links are rewritten.
 */
async function relocate(tmp: string, finalDir: string): Promise<void> {
  const out = join(tmp, 'out');
  const makefile = join(out, 'Makefile');
  await writeFile(makefile, (await readFile(makefile, 'utf8')).split(tmp).join(finalDir));
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isSymbolicLink()) {
        const target = await readlink(p);
        if (target.startsWith(tmp)) {
          await unlink(p);
          await symlink(finalDir + target.slice(tmp.length), p);
        }
      } else if (e.isDirectory()) await walk(p);
    }
  };
  await walk(out);
}

/** Build (or take from the cache) a 'built' image's kernel; the result boots and builds modules like any image. */
export async function prepareBuiltKernel(image: BuiltImageSpec, opts: KernelBuildOptions = {}): Promise<PreparedKernel> {
  if (image.arch !== 'x86_64') throw new InfraError(`${image.id}: only x86_64 kernels can be built so far`);
  const cacheDir = resolve(opts.cacheDir ?? cacheRoot());
  const emit = opts.onEvent ?? nullSink;
  const inputs = await readInputs(image, opts.imagesDir ?? defaultImagesDir);
  const name = buildKey(image, inputs);
  const dir = join(cacheDir, 'kbuild', name);
  const paths = builtPaths(dir);
  const prepared: PreparedKernel = { image, kernelPath: paths.bzImage, vmlinuzPath: paths.bzImage, headersDir: paths.out, vmlinuxPath: paths.vmlinux };
  await cacheEntry({
    dir,
    label: `kernel ${image.id} (built from ${image.packages.source.name} ${image.packages.source.version})`,
    key: `kbuild ${LAYOUT_VERSION} ${dir}`,
    select: (rel) => KEPT_FILES.has(rel) || rel.startsWith('out/scripts/gdb/'),
    onEvent: emit,
    mode: opts.check,
    build: async (tmp) => {
      const tmpPaths = builtPaths(tmp);
      const started = Date.now();
      try {
        await configureSource(image, { cacheDir, imagesDir: opts.imagesDir, onEvent: emit, download: opts.download }, tmp, inputs);
        emit({ type: 'stage', image: image.id, stage: 'build', message: `building kernel ${image.id} (about ${image.build.objects} objects; log: ${tmpPaths.log})` });
        const objects = await makeKernel(image, tmpPaths, { jobs: opts.jobs ?? availableParallelism(), nice: opts.nice ?? 10, emit });
        const release = (await readFile(join(tmpPaths.out, 'include', 'config', 'kernel.release'), 'utf8')).trim();
        if (release !== image.release) {
          throw new KernelBuildError(`${image.id}: the kernel's release is ${release}, the image says ${image.release}`, { hint: `set "release": "${release}" in images/${image.id}.json` });
        }
        // `modules_prepare` leaves no Module.symvers (a full `make modules` writes it): without one, modpost
        // calls every kernel symbol a module uses undefined. vmlinux's exports are all there is to list.
        await copyFile(join(tmpPaths.out, 'vmlinux.symvers'), join(tmpPaths.out, 'Module.symvers'), constants.COPYFILE_EXCL).catch((e: NodeJS.ErrnoException) => {
          if (e.code !== 'EEXIST') throw new KernelBuildError(`${image.id}: the build left no vmlinux.symvers (${e.code ?? e.message})`);
        });
        await pruneObjects(tmpPaths.out);
        await relocate(tmp, dir);
        const info: BuildInfo = { release, seconds: Math.round((Date.now() - started) / 1000), objects };
        await writeFile(join(tmp, 'build.json'), `${JSON.stringify(info, null, 2)}\n`);
        await rm(paths.failedLog, { force: true });
      } catch (e) {
        // The tree is removed by the cache helper (a failed build is never used); its log is kept beside it.
        await writeFile(paths.failedLog, await readFile(tmpPaths.log, 'utf8').catch(() => '')).catch(() => undefined);
        if (e instanceof KernelBuildError) throw new KernelBuildError(`${e.message} (log: ${paths.failedLog})`, { hint: e.hint ?? `read the build log: ${paths.failedLog}`, cause: e });
        if (e instanceof InfraError) throw e;
        throw new InfraError(`building ${image.id} failed: ${(e as Error).message}`, { cause: e, hint: `the build log is kept in ${paths.failedLog}` });
      }
    },
  });
  return prepared;
}

/** The cached build's state (`images list` and `images verify`), without building anything. */
export async function builtKernelState(image: BuiltImageSpec, opts: { cacheDir?: string; imagesDir?: string } = {}, mode: CheckMode = 'cheap'): Promise<EntryState> {
  const inputs = await readInputs(image, opts.imagesDir ?? defaultImagesDir);
  const dir = join(resolve(opts.cacheDir ?? cacheRoot()), 'kbuild', buildKey(image, inputs));
  return checkEntry(dir, `kbuild ${LAYOUT_VERSION} ${dir}`, mode);
}

/** Seconds and objects of the cached build of an image (for bench), or undefined when not built. */
export async function builtKernelInfo(image: BuiltImageSpec, opts: { cacheDir?: string; imagesDir?: string } = {}): Promise<{ dir: string; seconds: number; objects: number } | undefined> {
  const inputs = await readInputs(image, opts.imagesDir ?? defaultImagesDir);
  const dir = join(resolve(opts.cacheDir ?? cacheRoot()), 'kbuild', buildKey(image, inputs));
  if (!(await checkEntry(dir, `kbuild ${LAYOUT_VERSION} ${dir}`)).ok) return undefined;
  const m = JSON.parse(await readFile(join(dir, 'build.json'), 'utf8')) as BuildInfo;
  return { dir, seconds: m.seconds, objects: m.objects };
}

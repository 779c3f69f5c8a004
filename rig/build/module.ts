// Build the module under test against a prepared kernel, and the static guest programs (nlclient, agent).
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, cp, mkdir, readdir, readFile, rename, rm, symlink, writeFile, chmod } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename, join, relative, resolve } from 'node:path';
import { execa } from 'execa';
import { runInBuildRoot, SETUP_FAILED } from './buildroot.ts';
import { cacheEntry, checkEntry } from '../core/cache.ts';
import { BuildError, InfraError, UsageError } from '../core/errors.ts';
import { nullSink, type EventSink } from '../core/events.ts';
import { cacheRoot, MODULE_DEBUG_PREFIX, projectRoot } from '../core/paths.ts';
import type { Arch } from '../platform/arch/index.ts';
import type { ImageSpec, ToolchainSpec } from '../kernels/spec.ts';
import { hashTree } from '../core/tree-hash.ts';
import { missingTool } from '../platform/host-tools.ts';
import { ARCHES, hostArchOrUndefined } from '../platform/arch/index.ts';
import { elfSectionNames } from '../platform/elf.ts';
import { GCOV_MAKE_ARG } from './coverage.ts';

/** The module under test, built. */
export interface BuiltModule {
  readonly name: string;
  /** Path of the .ko (with debug info). */
  readonly koPath: string;
  /** Source dir the user gave. */
  readonly sourceDir: string;
  /** Built with gcov profiling (--coverage): where its notes are and where the kernel shows its counters. */
  readonly gcov?: ModuleGcov;
}

/** A profiled build's gcov side: the notes (.gcno) gcov needs to read the counters (.gcda) a guest kernel wrote. */
export interface ModuleGcov {
  /** The build directory as the compiler saw it: the kernel shows the counters under /sys/kernel/debug/gcov<buildDir>/. */
  readonly buildDir: string;
  /** A directory holding <object>.gcno for every profiled object (the same relative layout as the build). */
  readonly notesDir: string;
  /** The profiled objects, relative to the build directory, without extension ('ktest', 'lib/util'). */
  readonly objects: readonly string[];
}


export interface CommandResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a build command somewhere (the host, or a suite's build root: build/buildroot.ts). */
export type BuildRunner = (argv: readonly string[], opts: { readonly cwd?: string; readonly binds: readonly string[] }) => Promise<CommandResult>;

/**
 * What a module build needs of a kernel: its headers, and of its image the id, release, arch, toolchain and
 * pins (the build key; the host's running kernel has none). A PreparedKernel is one.
 */
export interface ModuleKernel {
  readonly headersDir: string;
  readonly image: Pick<ImageSpec, 'id' | 'release' | 'arch' | 'toolchain'> & { readonly packages?: ImageSpec['packages'] };
}

export interface BuildModuleOptions {
  readonly kernel: ModuleKernel;
  readonly sourceDir: string;
  readonly outDir: string;
  readonly onEvent?: EventSink;
  /** Override where make runs (tests); default: the host, or the image's build root. */
  readonly runner?: BuildRunner;
  /** Cache root for build roots (default cacheRoot()). */
  readonly cacheDir?: string;
  /** Extra make arguments from the project file (EXTRA_CFLAGS=..., CONFIG_FOO=y). */
  readonly makeArgs?: readonly string[];
  /** Profile the module with gcov (GCOV_PROFILE=y; --coverage): a build of its own in the cache. */
  readonly coverage?: boolean;
}

const FIRST_ERROR_PATTERNS: readonly RegExp[] = [
  /^\S[^:\n]*:\d+(?::\d+)?: (?:fatal )?error: .*$/m,
  /^ERROR: modpost: .*$/m,
  /^\S[^:\n]*: undefined reference to .*$/m,
  /^.*\*\*\* .*$/m,
];

/** The compiler's first error line in a build log (`file:line:col: error: ...`), else the first make failure. Pure. */
export function firstCompilerError(log: string): string | undefined {
  for (const re of FIRST_ERROR_PATTERNS) {
    const m = re.exec(log);
    if (m) return m[0].trim();
  }
  return undefined;
}

/** Compiler warning lines of a build log. Pure. */
export function compilerWarnings(log: string): string[] {
  return log.split('\n').filter((l) => /:\d+(?::\d+)?: warning: /.test(l) || /^WARNING: modpost: /.test(l));
}


/** The kernel tree's root above /usr/src (a cache dir), or '' for the host's own /usr/src. Pure. */
export function kernelRootOf(headersDir: string): string {
  return headersDir.match(/^(.*)\/usr\/src\//)?.[1] ?? '';
}

/**
 * Debug info with stable paths: the module's sources under MODULE_DEBUG_PREFIX (not the temporary build
 * dir), the kernel headers under /usr/src/... (not the cache). Pure.
 */
export function debugPrefixFlags(moduleDir: string, headersDir: string): string[] {
  const root = kernelRootOf(headersDir);
  return [`-fdebug-prefix-map=${moduleDir}=${MODULE_DEBUG_PREFIX}`, ...(root ? [`-fdebug-prefix-map=${root}/=/`] : [])];
}

/** make's argv for an out-of-tree module build. Pure. */
export function moduleMakeArgv(headersDir: string, moduleDir: string, toolchain: ToolchainSpec, arch: Arch, jobs: number, extra: readonly string[] = [], host: Arch | undefined = hostArchOrUndefined()): string[] {
  const kcflags = ['-g', ...debugPrefixFlags(moduleDir, headersDir)].join(' ');
  const argv = ['make', '-C', headersDir, `M=${moduleDir}`, `-j${jobs}`, `CC=${toolchain.crossCompile ?? ''}${toolchain.cc}`, `KCFLAGS=${kcflags}`];
  if (arch !== host) argv.push(`ARCH=${ARCHES[arch].kbuildArch}`);
  if (toolchain.crossCompile) argv.push(`CROSS_COMPILE=${toolchain.crossCompile}`);
  argv.push(...extra, 'modules');
  return argv;
}

const hostRunner: BuildRunner = async (argv, opts) => {
  const r = await execa(argv[0], argv.slice(1), { cwd: opts.cwd, reject: false, all: false, env: { LC_ALL: 'C' } });
  if ((r as { code?: string }).code === 'ENOENT') throw missingTool(argv[0]!);
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
};

/** Helper E's build root (rig/build/buildroot.ts): make runs inside a debootstrapped root of the image's suite. */
function buildRootRunner(spec: ToolchainSpec, o: { readonly cacheDir?: string; readonly onEvent?: EventSink }): BuildRunner {
  return (argv, opts) => runInBuildRoot(spec, argv, { binds: opts.binds, cwd: opts.cwd, cacheDir: o.cacheDir, onEvent: o.onEvent, env: { LC_ALL: 'C' } });
}

async function findKos(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await findKos(p)));
    else if (e.isFile() && e.name.endsWith('.ko')) out.push(p);
  }
  return out.sort();
}

async function findNotes(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await findNotes(dir, r)));
    else if (e.isFile() && e.name.endsWith('.gcno')) out.push(r.slice(0, -'.gcno'.length));
  }
  return out.sort();
}

/** Copies <object>.gcno of each object from one tree to another. */
async function copyNotes(from: string, to: string, objects: readonly string[]): Promise<void> {
  for (const o of objects) {
    await mkdir(join(to, o, '..'), { recursive: true });
    await copyFile(join(from, `${o}.gcno`), join(to, `${o}.gcno`));
  }
}

/** What a profiled entry records besides its notes (gcov.json in the cache entry). */
interface GcovRecord {
  readonly buildDir: string;
  readonly objects: readonly string[];
}

/** True when one directory is the other or inside it (the build dir is wiped: never the sources). Pure. */
export function overlaps(a: string, b: string): boolean {
  const [x, y] = [resolve(a), resolve(b)];
  return x === y || x.startsWith(`${y}/`) || y.startsWith(`${x}/`);
}

/** Top-level entries of a module directory that are never copied into the build. */
const NOT_SOURCES = new Set(['node_modules', '.git']);

/** Build every module in sourceDir against the kernel's headers; returns the .ko files (with debug info). */
export async function buildModule(opts: BuildModuleOptions): Promise<BuiltModule[]> {
  const { kernel, sourceDir, outDir } = opts;
  const emit = opts.onEvent ?? nullSink;
  if (!existsSync(join(sourceDir, 'Kbuild')) && !existsSync(join(sourceDir, 'Makefile'))) {
    throw new UsageError(`--kmod ${sourceDir} has no Kbuild or Makefile`, { hint: 'point --kmod at an out-of-tree module directory (a Kbuild file with obj-m := name.o)' });
  }
  if (overlaps(sourceDir, outDir)) {
    throw new UsageError(`module build dir ${outDir} overlaps the sources in ${sourceDir}`, { hint: 'build into a separate directory (it is wiped first)' });
  }
  await rm(outDir, { recursive: true, force: true });
  // A module at the root of its repository shares it with node_modules (ktest-rig itself) and .git: not sources.
  await cp(sourceDir, outDir, { recursive: true, dereference: true, filter: (src) => !NOT_SOURCES.has(relative(sourceDir, src)) });
  // A profiled build is a build of its own (its own key): profiled and plain .ko never mix.
  const makeArgs = [...(opts.makeArgs ?? []), ...(opts.coverage ? [GCOV_MAKE_ARG] : [])];
  const notesDir = `${outDir}-gcov`;
  await rm(notesDir, { recursive: true, force: true });
  // The same sources for the same kernel and toolchain built before: reuse those .ko files if they verify.
  const key = await moduleBuildKey(outDir, kernel, makeArgs, opts.coverage);
  const cached = join(opts.cacheDir ?? cacheRoot(), 'modules', key);
  if (!opts.runner) {
    const state = await checkEntry(cached, MODULE_ENTRY_KEY);
    // A profiled entry without its notes (written before they were kept) is built again.
    if (state.ok && opts.coverage && !existsSync(join(cached, GCOV_RECORD))) await rm(cached, { recursive: true, force: true });
    else if (state.ok) {
      emit({ type: 'stage', image: kernel.image.id, stage: 'build', message: `${sourceDir} for ${kernel.image.release}: unchanged, built before` });
      const names = (await readdir(cached)).filter((f) => f.endsWith('.ko'));
      for (const ko of names) await copyFile(join(cached, ko), join(outDir, ko));
      let gcov: ModuleGcov | undefined;
      if (opts.coverage) {
        const record = JSON.parse(await readFile(join(cached, GCOV_RECORD), 'utf8')) as GcovRecord;
        await copyNotes(join(cached, 'gcov'), notesDir, record.objects);
        gcov = { buildDir: record.buildDir, notesDir, objects: record.objects };
      }
      return names.map((ko) => ({ name: basename(ko, '.ko'), koPath: join(outDir, ko), sourceDir, ...(gcov && { gcov }) }));
    }
    if (!state.ok && !state.missing) {
      emit({ type: 'log', level: 'warn', message: `cache: the built module in ${cached} is damaged (${state.problem}); building it again` });
      await rm(cached, { recursive: true, force: true });
    }
  }
  emit({ type: 'stage', image: kernel.image.id, stage: 'build', message: `building ${sourceDir} for ${kernel.image.release}` });
  const tc = kernel.image.toolchain;
  const argv = moduleMakeArgv(kernel.headersDir, outDir, tc, kernel.image.arch, availableParallelism(), makeArgs);
  const runner = opts.runner ?? (tc.kind === 'buildroot' ? buildRootRunner(tc, opts) : hostRunner);
  const r = await runner(argv, { cwd: outDir, binds: [kernelRootOf(kernel.headersDir) || kernel.headersDir, outDir] });
  const log = `$ ${argv.join(' ')}\n${r.stdout}\n${r.stderr}`;
  await writeFile(join(outDir, 'build.log'), log);
  for (const w of compilerWarnings(log)) emit({ type: 'log', level: 'warn', message: w.replaceAll(`${outDir}/`, `${sourceDir}/`) });
  const firstError = firstCompilerError(r.stderr) ?? firstCompilerError(r.stdout);
  if (r.exitCode !== 0 && r.stderr.includes(SETUP_FAILED)) {
    throw new InfraError(`could not enter the ${tc.suite} build root: ${r.stderr.split('\n').find((l) => l.includes(SETUP_FAILED))}`, {
      hint: 'see the build log; deleting the build root under the cache dir rebuilds it',
    });
  }
  if (r.exitCode !== 0) {
    throw new BuildError(`module build failed for ${kernel.image.id}`, firstError?.replaceAll(`${outDir}/`, `${sourceDir}/`), log, {
      hint: 'fix the first error; --verbose prints the whole compiler log',
    });
  }
  const kos = await findKos(outDir);
  if (kos.length === 0) throw new BuildError(`module build for ${kernel.image.id} produced no .ko (is obj-m set in Kbuild?)`, undefined, log);
  for (const ko of kos) {
    if (!elfSectionNames(await readFile(ko)).includes('.debug_info')) {
      throw new BuildError(`${basename(ko)} has no .debug_info section (built without -g?)`, undefined, log);
    }
  }
  let gcov: ModuleGcov | undefined;
  if (opts.coverage) {
    const objects = await findNotes(outDir);
    if (objects.length === 0) throw new BuildError(`module build for ${kernel.image.id} wrote no gcov notes (.gcno) although ${GCOV_MAKE_ARG} was given`, undefined, log, { hint: 'a Makefile that sets GCOV_PROFILE := n, or a kernel without CONFIG_GCOV_KERNEL' });
    await copyNotes(outDir, notesDir, objects);
    gcov = { buildDir: outDir, notesDir, objects };
  }
  if (!opts.runner) await storeModules(cached, kos, emit, gcov);
  return kos.map((koPath) => ({ name: basename(koPath, '.ko'), koPath, sourceDir, ...(gcov && { gcov }) }));
}

const MODULE_ENTRY_KEY = 'module-build 2';


/**
 * Hash of every file of a (copied, symlink-free) module tree, the kernel's pins, the toolchain and extra make
 * arguments; a profiled build (--coverage) has a key of its own, also apart from a project's GCOV_PROFILE=y,
 * because its entry keeps the gcov notes.
 */
export async function moduleBuildKey(dir: string, kernel: ModuleKernel, makeArgs: readonly string[] = [], coverage = false): Promise<string> {
  const extra = [...(makeArgs.length > 0 ? [makeArgs] : []), ...(coverage ? ['gcov notes'] : [])];
  const h = createHash('sha256').update(JSON.stringify([kernel.image.id, kernel.image.release, kernel.image.packages, kernel.image.toolchain, 2, ...extra]));
  await hashTree(h, dir);
  return h.digest('hex').slice(0, 24);
}

/** Keep the .ko files under the cache (a verified cache entry: temp dir, record, rename, lock). */
async function storeModules(cached: string, kos: readonly string[], emit: EventSink, gcov?: ModuleGcov): Promise<void> {
  await cacheEntry({
    dir: cached,
    label: 'a built module',
    key: MODULE_ENTRY_KEY,
    onEvent: emit,
    build: async (tmp) => {
      for (const ko of kos) await copyFile(ko, join(tmp, basename(ko)));
      // A profiled build keeps its notes, and the directory it was compiled in: the kernel names its counters after it.
      if (gcov) {
        await copyNotes(gcov.notesDir, join(tmp, 'gcov'), gcov.objects);
        const record: GcovRecord = { buildDir: gcov.buildDir, objects: gcov.objects };
        await writeFile(join(tmp, GCOV_RECORD), `${JSON.stringify(record)}\n`);
      }
    },
  });
}

const GCOV_RECORD = 'gcov.json';

/** Guest programs as data: sources (globs of *.c allowed) and include dirs, relative to the project root. */
export const GUEST_PROGRAMS = {
  nlclient: { sources: ['guest/nlclient.c', 'native/lib/*.c'], includes: ['native/include', 'kmod'] },
  agent: { sources: ['guest/agent.c'], includes: ['guest'] },
  /** Receives files on the virtio files channel (rig/vm/files.ts). */
  recv: { sources: ['guest/recv.c'], includes: ['guest'] },
} as const;
export type GuestProgram = keyof typeof GUEST_PROGRAMS;
type ProgramSpec = { readonly sources: readonly string[]; readonly includes: readonly string[] };

/** Kernel uapi headers visible to musl-gcc (linux/, asm/, asm-generic/), without glibc's headers. */
export const X86_64_UAPI_LINKS: Readonly<Record<string, string>> = {
  linux: '/usr/include/linux',
  asm: '/usr/include/x86_64-linux-gnu/asm',
  'asm-generic': '/usr/include/asm-generic',
};

/** Compiler argv for a static guest program (without sources and -o). Pure. */
export function guestCompilerArgv(arch: Arch, includes: readonly string[], uapiDir: string, cflags: readonly string[] = []): string[] {
  const inc = includes.map((d) => `-I${d}`);
  return [ARCHES[arch].guestCc, '-static', '-Os', '-s', ...(uapiDir ? [`-I${uapiDir}`] : []), ...inc, ...cflags];
}

async function expandSources(root: string, patterns: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const pat of patterns) {
    if (!pat.includes('*')) {
      out.push(join(root, pat));
      continue;
    }
    const slash = pat.lastIndexOf('/');
    const dir = join(root, pat.slice(0, slash + 1));
    const [prefix, suffix] = pat.slice(slash + 1).split('*', 2);
    const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.startsWith(prefix) && f.endsWith(suffix)).sort();
    out.push(...files.map((f) => join(dir, f)));
  }
  return out;
}

async function headersOf(dirs: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const d of dirs) out.push(...(await readdir(d).catch(() => [] as string[])).filter((f) => f.endsWith('.h')).sort().map((f) => join(d, f)));
  return out;
}

async function ensureUapiDir(cacheDir: string): Promise<string> {
  const dir = join(cacheDir, 'uapi', 'x86_64');
  if (existsSync(join(dir, 'asm-generic'))) return dir;
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  for (const [name, target] of Object.entries(X86_64_UAPI_LINKS)) {
    if (!existsSync(target)) throw missingTool('linux uapi headers');
    await symlink(target, join(tmp, name));
  }
  await rename(tmp, dir).catch(() => rm(tmp, { recursive: true, force: true }));
  return dir;
}

export interface GuestBuildOptions {
  readonly arch: Arch;
  readonly outDir: string;
  readonly cacheDir?: string;
  /** Where the program sources live (default: this checkout). */
  readonly sourceRoot?: string;
  /** Override the program sources (default GUEST_PROGRAMS). */
  readonly programs?: Readonly<Record<'nlclient' | 'agent', ProgramSpec> & Partial<Record<'recv', ProgramSpec>>>;
}

/** A guest program's sources and include dirs (relative to the source root; *.c globs allowed) and extra flags. */
export interface GuestProgramSpec {
  readonly sources: readonly string[];
  readonly includes: readonly string[];
  readonly cflags?: readonly string[];
}

/** Compile one static guest program, cached by a hash of its sources, headers and flags. */
export async function buildGuestProgram(name: string, spec: GuestProgramSpec, o: GuestBuildOptions): Promise<string> {
  const root = o.sourceRoot ?? projectRoot;
  const cacheDir = o.cacheDir ?? cacheRoot();
  const sources = await expandSources(root, spec.sources);
  const missing = sources.filter((s) => !existsSync(s));
  if (missing.length > 0 || sources.length === 0) {
    throw new BuildError(`guest program ${name}: missing sources ${missing.map((m) => relative(root, m)).join(', ') || spec.sources.join(', ')}`, undefined, '');
  }
  const includes = spec.includes.map((d) => join(root, d));
  // musl has no kernel headers of its own: musl-gcc builds see the host's uapi headers through a link dir.
  const uapi = ARCHES[o.arch].guestCc === 'musl-gcc' ? await ensureUapiDir(cacheDir) : '';
  const argv = guestCompilerArgv(o.arch, includes, uapi, spec.cflags);
  const h = createHash('sha256').update(`${name}\n${argv.join(' ')}\n`);
  for (const f of [...sources, ...(await headersOf(includes))]) h.update(`${relative(root, f)}\n`).update(await readFile(f));
  const cached = join(cacheDir, 'guest-programs', `${o.arch}-${h.digest('hex').slice(0, 16)}`, name);
  if (!existsSync(cached)) {
    const tmp = `${cached}.tmp-${process.pid}`;
    await mkdir(join(cached, '..'), { recursive: true });
    const full = [...argv, '-o', tmp, ...sources];
    let r;
    try {
      r = await execa(full[0], full.slice(1), { reject: false, env: { LC_ALL: 'C' }, cwd: root });
    } catch (cause) {
      throw missingTool(full[0]!, { cause });
    }
    if ((r as { code?: string }).code === 'ENOENT') {
      throw missingTool(full[0]!);
    }
    const log = `$ ${full.join(' ')}\n${String(r.stdout)}\n${String(r.stderr)}`;
    if (r.exitCode !== 0) {
      await rm(tmp, { force: true });
      const first = firstCompilerError(String(r.stderr))?.replaceAll(`${root}/`, '');
      throw new BuildError(`guest program ${name} (${o.arch}) did not compile`, first, log, { hint: 'fix the first error; --verbose prints the whole compiler log' });
    }
    await rename(tmp, cached);
  }
  await mkdir(o.outDir, { recursive: true });
  const out = join(o.outDir, name);
  await copyFile(cached, out);
  await chmod(out, 0o755);
  return out;
}

/** Static nlclient, agent and (when listed) recv binaries for the guest arch, in outDir. */
export async function buildGuestPrograms(opts: GuestBuildOptions): Promise<{ nlclient: string; agent: string; recv?: string }> {
  const programs = opts.programs ?? GUEST_PROGRAMS;
  const nlclient = await buildGuestProgram('nlclient', programs.nlclient, opts);
  const agent = await buildGuestProgram('agent', programs.agent, opts);
  if (!programs.recv) return { nlclient, agent };
  return { nlclient, agent, recv: await buildGuestProgram('recv', programs.recv, opts) };
}


// Host tools the rig needs, as data: checks them and installs the missing Debian packages when allowed.
import { access, constants, readdir } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';
import { InfraError, MissingToolError, exitCodeOf, formatError } from '../core/errors.ts';
import { nullSink, type EventSink, type RigEvent } from '../core/events.ts';
import { envFlag } from '../core/env.ts';
import type { RigErrorOptions } from '../core/errors.ts';
import { ARCHES, ARCH_NAMES, isArch, type Arch } from './arch/index.ts';
import { isStaticElf, readHead } from './elf.ts';
import { cmd, gnuVersion, qemuVersion, type ToolRow } from './tool-row.ts';

/**
 * Why a tool is needed. A tool is required when any of its reasons applies:
 * core (every run), x86_64 / arm64 (an image of that arch), buildroots (6.12 and 7.x images build
 * inside a debootstrapped root), kernelbuild (an image of kind 'built': the rig compiles its kernel), coverage
 * (run --coverage: gcov reads the module's counters, lcov's genhtml writes the HTML), dev (npm ci's native
 * addon, the libFuzzer targets, the tests).
 */
export type Need = 'core' | Arch | 'buildroots' | 'kernelbuild' | 'coverage' | 'dev';

/** What the caller is about to do; decides which tools are required. */
export interface ToolNeeds {
  readonly arches: readonly Arch[];
  readonly buildroots: boolean;
  /** An image's kernel is built from source (kind 'built'). Default false. */
  readonly kernelBuilds?: boolean;
  /** run --coverage. Default false. */
  readonly coverage?: boolean;
  /** Also the development tools (native addon build, fuzzing, test helpers). Default false. */
  readonly dev?: boolean;
}

/** The fields of an image spec (kernels/spec.ts ImageSpec) that decide which host tools it needs. */
export interface ImageNeeds {
  readonly arch: Arch;
  readonly toolchain: { readonly kind: string };
  readonly kind?: string;
}

/** What a run of these images needs: their arches, and build roots if any image builds in one. */
export function needsForImages(images: readonly ImageNeeds[]): ToolNeeds {
  return {
    arches: [...new Set(images.map((image) => image.arch))],
    buildroots: images.some((image) => image.toolchain.kind === 'buildroot'),
    kernelBuilds: images.some((image) => image.kind === 'built'),
  };
}

/** Everything: both arches, build roots and development tools (CI, `doctor`). */
export const ALL_NEEDS: ToolNeeds = Object.freeze({ arches: ARCH_NAMES, buildroots: true, kernelBuilds: true, coverage: true, dev: true });

/**
 * What `npm test` needs: every image of images/ (both arches, build roots) and the development tools
 * (native addon, fuzzing, test helpers). npm's `pretest` ensures these (`--ensure test`).
 */
export const TEST_SUITE_NEEDS: ToolNeeds = ALL_NEEDS;

export type { ToolProbe, VersionSpec } from './tool-row.ts';

export interface HostTool extends ToolRow {
  readonly neededFor: readonly Need[];
}

/**
 * The table: one row per tool. A new host dependency is a new row (.ci/run installs every row's
 * package). Package names assume an amd64 Debian/Ubuntu host (arm64 guests are cross-built). The rows
 * an architecture needs live in its record (rig/platform/arch/<arch>.ts) and come first.
 */
export const HOST_TOOLS: readonly HostTool[] = Object.freeze([
  ...ARCH_NAMES.flatMap((arch) => ARCHES[arch].hostTools.map((row): HostTool => ({ ...row, neededFor: [arch] }))),
  { name: 'qemu-img', package: 'qemu-utils', neededFor: ['dev'], purpose: 'inspect disk images and snapshots by hand (the rig does not call it)', probe: cmd('qemu-img', qemuVersion) },
  { name: 'gcc-12', package: 'gcc-12', neededFor: ['core'], purpose: 'build modules (the 5.10 and 6.1 headers)', probe: cmd('gcc-12', gnuVersion) },
  { name: 'gcc', package: 'gcc', neededFor: ['core'], purpose: 'musl-gcc wraps x86_64-linux-gnu-gcc; the host target builds with gcc', probe: cmd('gcc', gnuVersion) },
  { name: 'make', package: 'make', neededFor: ['core'], purpose: 'kbuild', probe: cmd('make', { args: ['--version'], pattern: /GNU Make\s+(\S+)/ }) },
  { name: 'libelf', package: 'libelf1', neededFor: ['core'], purpose: "the headers' objtool links libelf.so.1", probe: { kind: 'file', paths: ['/usr/lib/*-linux-gnu/libelf.so.1', '/lib/*-linux-gnu/libelf.so.1', '/usr/lib64/libelf.so.1'] } },
  { name: 'pahole', package: 'dwarves', neededFor: ['dev'], purpose: 'module BTF; host builds skip it (no vmlinux), build roots have their own', probe: cmd('pahole', { args: ['--version'], pattern: /v?(\d[^\s]*)/ }) },
  { name: 'cpio', package: 'cpio', neededFor: ['dev'], purpose: 'integration tests pack initramfs by hand (the rig writes newc itself)', probe: cmd('cpio', { args: ['--version'], pattern: /cpio\)\s+(\S+)/ }) },
  { name: 'insmod', package: 'kmod', neededFor: ['core'], purpose: 'the host target loads the module', probe: cmd('insmod', { args: ['--version'], pattern: /kmod version\s+(\S+)/ }) },
  { name: 'dpkg-deb', package: 'dpkg', neededFor: ['core'], purpose: 'extract kernel packages', probe: cmd('dpkg-deb', { args: ['--version'], pattern: /version\s+(\d\S*)/ }) },
  { name: 'apt-get', package: 'apt', neededFor: ['core'], purpose: 'download kernel packages', probe: cmd('apt-get', { args: ['--version'], pattern: /^apt\s+(\S+)/m }) },
  { name: 'debian-archive-keyring', package: 'debian-archive-keyring', neededFor: ['core'], purpose: 'verify the Debian archive', probe: { kind: 'file', paths: ['/usr/share/keyrings/debian-archive-keyring.gpg'] } },
  { name: 'xz', package: 'xz-utils', neededFor: ['core'], purpose: 'decompress xz kernels (5.10, 6.1)', probe: cmd('xz', { args: ['--version'], pattern: /xz \(XZ Utils\)\s+(\S+)/ }) },
  { name: 'zstd', package: 'zstd', neededFor: ['core'], purpose: 'decompress zstd kernels (6.12, 7.x)', probe: cmd('zstd', { args: ['--version'], pattern: /v(\d[\d.]*)/ }) },
  { name: 'addr2line', package: 'binutils', neededFor: ['core'], purpose: 'symbolise module stack frames', probe: cmd('addr2line', gnuVersion) },
  { name: 'readelf', package: 'binutils', neededFor: ['core'], purpose: 'inspect kernels and modules', probe: cmd('readelf', gnuVersion) },
  { name: 'debootstrap', package: 'debootstrap', neededFor: ['buildroots'], purpose: 'trixie/sid build roots for 6.12 and 7.x', probe: cmd('debootstrap', { args: ['--version'], pattern: /debootstrap\s+(\S+)/ }) },
  { name: 'mmdebstrap', package: 'mmdebstrap', neededFor: ['buildroots'], purpose: 'faster build roots, and build roots without root (user namespaces)', probe: cmd('mmdebstrap', { args: ['--version'], pattern: /mmdebstrap\s+(\S+)/ }) },
  { name: 'flex', package: 'flex', neededFor: ['kernelbuild'], purpose: 'kconfig and dtc lexers of a kernel build', probe: cmd('flex', { args: ['--version'], pattern: /flex\s+(\S+)/ }) },
  { name: 'bison', package: 'bison', neededFor: ['kernelbuild'], purpose: 'kconfig parser of a kernel build', probe: cmd('bison', { args: ['--version'], pattern: /bison\D+(\d\S*)/ }) },
  { name: 'bc', package: 'bc', neededFor: ['kernelbuild'], purpose: 'kernel build (timeconst.h)', probe: cmd('bc', { args: ['--version'], pattern: /bc\s+(\S+)/ }) },
  { name: 'lz4', package: 'lz4', neededFor: ['kernelbuild'], purpose: 'compress built kernels (fast to decompress under TCG)', probe: cmd('lz4', { args: ['--version'], pattern: /v(\d[\d.]*)/ }) },
  { name: 'patch', package: 'patch', neededFor: ['kernelbuild'], purpose: "apply a built image's patches (images/*/*.patch)", probe: cmd('patch', gnuVersion) },
  { name: 'libelf headers', package: 'libelf-dev', neededFor: ['kernelbuild'], purpose: 'objtool of a kernel build', probe: { kind: 'file', paths: ['/usr/include/gelf.h'] } },
  { name: 'gcov-12', package: 'gcc-12', neededFor: ['coverage'], purpose: "--coverage: reads the module's counters with the notes of its gcc-12 build", probe: cmd('gcov-12', gnuVersion) },
  { name: 'genhtml', package: 'lcov', neededFor: ['coverage'], purpose: '--coverage: the HTML report from the lcov tracefile', probe: cmd('genhtml', { args: ['--version'], pattern: /version\s+(\S+)/ }) },
  { name: 'lcov', package: 'lcov', neededFor: ['dev'], purpose: "the coverage test checks the rig's tracefiles with lcov --summary", probe: cmd('lcov', { args: ['--version'], pattern: /version\s+(\S+)/ }) },
  { name: 'gdb', package: 'gdb', neededFor: ['dev'], purpose: 'attach to a guest (--gdb); the gdb test drives it in batch mode', probe: cmd('gdb', { args: ['--version'], pattern: /GNU gdb .*?(\d+\.\d+\S*)/ }) },
  { name: 'gdb-multiarch', package: 'gdb-multiarch', neededFor: ['dev'], purpose: 'attach to an arm64 guest (--gdb); the gdb test drives it in batch mode', probe: cmd('gdb-multiarch', { args: ['--version'], pattern: /GNU gdb .*?(\d+\.\d+\S*)/ }) },
  { name: 'libc headers', package: 'libc6-dev', neededFor: ['dev'], purpose: 'the native addon and fuzz targets (glibc)', probe: { kind: 'file', paths: ['/usr/include/stdio.h'] } },
  { name: 'g++', package: 'g++', neededFor: ['dev'], purpose: 'node-gyp builds the native addon', probe: cmd('g++', gnuVersion) },
  { name: 'python3', package: 'python3', neededFor: ['dev'], purpose: 'node-gyp', probe: cmd('python3', { args: ['--version'], pattern: /Python\s+(\S+)/ }) },
  { name: 'clang', package: 'clang', neededFor: ['dev'], purpose: 'libFuzzer targets (-fsanitize=fuzzer)', probe: cmd('clang', { args: ['--version'], pattern: /clang version\s+(\S+)/ }) },
  { name: 'libFuzzer runtime', package: 'libclang-rt-14-dev', neededFor: ['dev'], purpose: 'only a Recommends of clang on bookworm', probe: { kind: 'file', paths: ['/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a'] } },
  { name: 'git', package: 'git', neededFor: ['dev'], purpose: 'the example test makes a scratch git repository for the mailbox module, as its author would', probe: cmd('git', { args: ['--version'], pattern: /git version\s+(\S+)/ }) },
  { name: 'gpg', package: 'gpg', neededFor: ['dev'], purpose: "tests sign a captured archive's Release file with a throwaway key, so a real apt reads it (images update)", probe: cmd('gpg', { args: ['--version'], pattern: /^gpg \(GnuPG\) (\S+)/m }) },
  { name: 'gpgconf', package: 'gpgconf', neededFor: ['dev'], purpose: "stops the throwaway key's gpg-agent after the images update test", probe: cmd('gpgconf', { args: ['--version'], pattern: /^gpgconf \(GnuPG\) (\S+)/m }) },
  { name: 'xmllint', package: 'libxml2-utils', neededFor: ['dev'], purpose: 'tests validate the JUnit report against junit-10.xsd', probe: cmd('xmllint', { args: ['--version'], pattern: /using libxml version\s+(\S+)/ }) },
  { name: 'file', package: 'file', neededFor: ['dev'], purpose: 'tests inspect built binaries', probe: cmd('file', { args: ['--version'], pattern: /file-(\S+)/ }) },
  { name: 'pgrep', package: 'procps', neededFor: ['dev'], purpose: 'tests count the QEMU processes a run left behind', probe: cmd('pgrep', { args: ['--version'], pattern: /procps-ng\s+(\S+)/ }) },
] satisfies HostTool[]);

/** Result of checking one tool. */
export interface ToolCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly version?: string;
  readonly package: string;
  readonly neededFor: readonly Need[];
  /** What the rig uses it for (from the table). */
  readonly purpose?: string;
  readonly problem?: string;
}

// ---------- pure parts ----------

/** The reasons that apply to these needs. */
export function activeNeeds(needs: ToolNeeds): Set<Need> {
  const active = new Set<Need>(['core', ...needs.arches]);
  if (needs.buildroots) active.add('buildroots');
  if (needs.kernelBuilds) active.add('kernelbuild');
  if (needs.coverage) active.add('coverage');
  if (needs.dev) active.add('dev');
  return active;
}

/** Rows of the table required for these needs, in table order. */
export function requiredTools(needs: ToolNeeds, table: readonly HostTool[] = HOST_TOOLS): HostTool[] {
  const active = activeNeeds(needs);
  return table.filter((tool) => tool.neededFor.some((need) => active.has(need)));
}

/** Debian packages providing these tools, deduplicated, in table order. */
export function packagesOf(tools: readonly Pick<HostTool, 'package'>[]): string[] {
  return [...new Set(tools.map((tool) => tool.package))];
}

/** Packages of the failed checks, deduplicated, in check order. */
export function missingPackages(checks: readonly ToolCheck[]): string[] {
  return packagesOf(checks.filter((check) => !check.ok));
}

/** First capture group of the pattern in a tool's output, trimmed. */
export function parseVersion(output: string, pattern: RegExp): string | undefined {
  const match = pattern.exec(output);
  return match?.[1]?.trim() || undefined;
}

/** The commands that install packages: apt-get update, then install (sudo -n when not root). */
export function installCommands(packages: readonly string[], asRoot: boolean): string[][] {
  const prefix = asRoot ? ['env'] : ['sudo', '-n', 'env'];
  const env = ['DEBIAN_FRONTEND=noninteractive'];
  const apt = ['apt-get', '-o', 'DPkg::Lock::Timeout=300'];
  return [
    [...prefix, ...env, ...apt, 'update'],
    [...prefix, ...env, ...apt, 'install', '-y', '--no-install-recommends', ...packages],
  ];
}

/** The command a user runs by hand (the MissingToolError hint). */
export function manualInstallCommand(packages: readonly string[], asRoot = false): string {
  return `${asRoot ? '' : 'sudo '}apt-get install -y ${packages.join(' ')}`;
}

/** The table's rows for a tool, by row name or command ('qemu-system-arm' is found by 'qemu-system-aarch64'). */
export function toolRow(nameOrCommand: string): HostTool | undefined {
  return HOST_TOOLS.find((t) => t.name === nameOrCommand || (t.probe.kind === 'command' && t.probe.command === nameOrCommand));
}

/**
 * The error for tools of the table that are not there: its hint is the install command for their
 * packages, from the table (the one place package names live). A name outside the table is its own package.
 */
export function missingTool(names: string | readonly string[], options: RigErrorOptions & { readonly label?: string } = {}): MissingToolError {
  const list = typeof names === 'string' ? [names] : names;
  const packages = [...new Set(list.map((n) => toolRow(n)?.package ?? n))];
  const { label, ...rest } = options;
  return new MissingToolError(label ? [label] : list, manualInstallCommand(packages, process.getuid?.() === 0), rest);
}

/** Whether KTEST_RIG_NO_INSTALL forbids installing. */
export function installForbidden(env: NodeJS.ProcessEnv): boolean {
  return envFlag('KTEST_RIG_NO_INSTALL', env);
}

// ---------- probing the host ----------

export interface CommandResult {
  readonly exitCode: number | undefined;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a program without a shell; never throws for a non-zero exit (tests inject a fake). */
export type CommandRunner = (
  file: string,
  args: readonly string[],
  options?: { readonly timeoutMs?: number },
) => Promise<CommandResult>;

export const defaultRunner: CommandRunner = async (file, args, options = {}) => {
  const result = await execa(file, args, {
    reject: false,
    stdin: 'ignore',
    all: false,
    ...(options.timeoutMs ? { timeout: options.timeoutMs } : {}),
  });
  return { exitCode: result.exitCode, stdout: String(result.stdout ?? ''), stderr: String(result.stderr ?? '') };
};

export interface ProbeOptions {
  readonly env?: NodeJS.ProcessEnv;
  /**
   * Directory standing for `/` when looking up file probes and the sbin directories (default `/`).
   * With an empty directory and an empty PATH every tool resolves as missing: what a bare machine
   * would install, computed without removing anything from this one.
   */
  readonly root?: string;
  readonly runner?: CommandRunner;
  readonly tools?: readonly HostTool[];
}

/** Directories searched for a command: PATH, then the sbin directories a non-root PATH lacks (under root). */
export function searchDirs(env: NodeJS.ProcessEnv, root = '/'): string[] {
  const path = (env.PATH ?? '').split(delimiter).filter((dir) => dir.startsWith('/'));
  return [...new Set([...path, ...['/usr/local/sbin', '/usr/sbin', '/sbin'].map((dir) => join(root, dir))])];
}

/** Absolute path of an executable, or undefined. */
export async function findCommand(command: string, env: NodeJS.ProcessEnv = process.env, root = '/'): Promise<string | undefined> {
  if (command.includes('/')) return (await isExecutable(command)) ? command : undefined;
  for (const dir of searchDirs(env, root)) {
    const candidate = join(dir, command);
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Expands `*` path segments (no other glob syntax); returns existing paths. */
export async function expandPath(pattern: string): Promise<string[]> {
  const segments = pattern.split('/').filter(Boolean);
  let current = ['/'];
  for (const segment of segments) {
    const next: string[] = [];
    for (const base of current) {
      if (!segment.includes('*')) {
        next.push(join(base, segment));
        continue;
      }
      const re = new RegExp(`^${segment.split('*').map(escapeRegExp).join('.*')}$`);
      const entries = await readdir(base).catch(() => [] as string[]);
      next.push(...entries.filter((entry) => re.test(entry)).sort().map((entry) => join(base, entry)));
    }
    current = next;
  }
  const existing: string[] = [];
  for (const path of current) {
    if (await access(path).then(() => true, () => false)) existing.push(path);
  }
  return existing;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}

async function dpkgVersion(pkg: string, runner: CommandRunner): Promise<string | undefined> {
  // One line per installed architecture (libelf1:amd64, libelf1:arm64): the first is enough.
  const result = await runner('dpkg-query', ['-W', '-f=${Version}\n', pkg], { timeoutMs: 10_000 }).catch(() => undefined);
  const first = result?.exitCode === 0 ? result.stdout.trim().split('\n')[0]?.trim() : undefined;
  return first || undefined;
}

/** Checks one tool on this host. */
export async function probeTool(tool: HostTool, options: ProbeOptions = {}): Promise<ToolCheck> {
  const env = options.env ?? process.env;
  const runner = options.runner ?? defaultRunner;
  const root = options.root ?? '/';
  const base = { name: tool.name, package: tool.package, neededFor: tool.neededFor, purpose: tool.purpose };
  const probe = tool.probe;
  if (probe.kind === 'file') {
    for (const pattern of probe.paths) {
      if ((await expandPath(join(root, pattern))).length > 0) {
        const version = await dpkgVersion(tool.package, runner);
        return { ...base, ok: true, ...(version ? { version } : {}) };
      }
    }
    return { ...base, ok: false, problem: `not found: ${probe.paths.join(' or ')}` };
  }
  const path = await findCommand(probe.command, env, root);
  if (!path) return { ...base, ok: false, problem: `${probe.command} not on PATH` };
  if (probe.static) {
    const isStatic = isStaticElf(await readHead(path, 64 * 1024));
    if (isStatic !== true) {
      return { ...base, ok: false, problem: `${path} is ${isStatic === false ? 'dynamically linked' : 'not an ELF binary'}; need a static one` };
    }
  }
  let version: string | undefined;
  if (probe.version) {
    const result = await runner(path, probe.version.args, { timeoutMs: 10_000 }).catch(() => undefined);
    if (result) version = parseVersion(`${result.stdout}\n${result.stderr}`, probe.version.pattern);
  }
  version ??= await dpkgVersion(tool.package, runner);
  return { ...base, ok: true, ...(version ? { version } : {}) };
}

/** Checks every tool these needs require, in table order. */
export async function checkTools(needs: ToolNeeds, options: ProbeOptions = {}): Promise<ToolCheck[]> {
  return Promise.all(requiredTools(needs, options.tools).map((tool) => probeTool(tool, options)));
}

// ---------- installing ----------

export interface EnsureOptions extends ProbeOptions {
  readonly onEvent?: EventSink;
  /** Install missing packages when possible (default true; KTEST_RIG_NO_INSTALL=1 overrides). */
  readonly allowInstall?: boolean;
  /** Default: process.getuid() === 0. */
  readonly asRoot?: boolean;
}

/** How this process may install packages: as root, through passwordless sudo, or not at all. */
export async function installPrivilege(runner: CommandRunner = defaultRunner, asRoot = process.getuid?.() === 0): Promise<'root' | 'sudo' | 'none'> {
  if (asRoot) return 'root';
  const sudo = await runner('sudo', ['-n', 'true'], { timeoutMs: 10_000 }).catch(() => undefined);
  return sudo?.exitCode === 0 ? 'sudo' : 'none';
}

/**
 * Checks the tools; installs the missing packages with apt-get when root or passwordless sudo allow
 * it, else throws MissingToolError whose hint is the command to run. Returns the final checks.
 */
export async function ensureTools(needs: ToolNeeds, options: EnsureOptions = {}): Promise<ToolCheck[]> {
  const env = options.env ?? process.env;
  const runner = options.runner ?? defaultRunner;
  const onEvent = options.onEvent ?? nullSink;
  const asRoot = options.asRoot ?? process.getuid?.() === 0;
  const probeOptions = { ...options, env, runner };
  onEvent({ type: 'stage', stage: 'tools', message: 'checking host tools' });
  const checks = await checkTools(needs, probeOptions);
  const missing = missingPackages(checks);
  if (missing.length === 0) return checks;
  const missingNames = checks.filter((check) => !check.ok).map((check) => check.name);
  const refuse = (why: string): MissingToolError => {
    const error = new MissingToolError(missingNames, manualInstallCommand(missing, asRoot));
    error.message = `${error.message} (${why})`;
    return error;
  };
  if (options.allowInstall === false) throw refuse('installing is disabled');
  if (installForbidden(env)) throw refuse('KTEST_RIG_NO_INSTALL is set');
  const privilege = await installPrivilege(runner, asRoot);
  if (privilege === 'none') throw refuse('not root and no passwordless sudo');
  onEvent({ type: 'stage', stage: 'tools', message: `installing ${missing.join(' ')}` });
  const [update, install] = installCommands(missing, privilege === 'root') as [string[], string[]];
  const run = async (argv: string[]): Promise<{ ok: boolean; result: CommandResult; tail: string }> => {
    onEvent({ type: 'log', level: 'info', message: `$ ${argv.join(' ')}` });
    const [file, ...args] = argv as [string, ...string[]];
    const result = await runner(file, args, { timeoutMs: 15 * 60_000 });
    const tail = `${result.stdout}\n${result.stderr}`.trim().split('\n').slice(-5).join('\n');
    return { ok: result.exitCode === 0, result, tail };
  };
  // A broken third-party source fails `update`; the lists apt already has may still do.
  const updated = await run(update);
  if (!updated.ok) onEvent({ type: 'log', level: 'warn', message: `apt-get update failed, installing anyway: ${updated.tail}` });
  const installed = await run(install);
  if (!installed.ok) {
    throw new InfraError(`apt-get install failed (exit ${installed.result.exitCode ?? 'killed'}): ${installed.tail}`, {
      hint: `run: ${manualInstallCommand(missing, asRoot)}`,
      cause: installed.result,
    });
  }
  const after = await checkTools(needs, probeOptions);
  const still = after.filter((check) => !check.ok);
  if (still.length > 0) {
    throw new MissingToolError(
      still.map((check) => check.name),
      manualInstallCommand(missingPackages(after), asRoot),
      { cause: still.map((check) => check.problem) },
    );
  }
  onEvent({ type: 'log', level: 'info', message: `installed ${missing.join(' ')}` });
  return after;
}

// ---------- command line: `tsx rig/platform/host-tools.ts --packages all` (.ci/run), `--ensure test` (npm pretest) ----------

/** Parses `all`, `test` (the test suite's needs), or a comma list of needs (x86_64,arm64,buildroots,kernelbuild,coverage,dev). */
export function needsFromArg(arg: string | undefined): ToolNeeds {
  if (!arg || arg === 'all') return ALL_NEEDS;
  if (arg === 'test') return TEST_SUITE_NEEDS;
  const words = arg.split(',').filter(Boolean);
  const known = [...ARCH_NAMES, 'buildroots', 'kernelbuild', 'coverage', 'dev', 'core'];
  const unknown = words.filter((word) => !known.includes(word));
  if (unknown.length) throw new Error(`unknown need ${unknown.join(', ')}; valid: all, ${known.join(', ')}`);
  return {
    arches: words.filter(isArch),
    buildroots: words.includes('buildroots'),
    kernelBuilds: words.includes('kernelbuild'),
    coverage: words.includes('coverage'),
    dev: words.includes('dev'),
  };
}

async function main(argv: readonly string[]): Promise<number> {
  const [mode, arg] = argv;
  const needs = needsFromArg(arg);
  if (mode === '--packages') {
    process.stdout.write(`${packagesOf(requiredTools(needs)).join('\n')}\n`);
    return 0;
  }
  if (mode === '--ensure') {
    // Same rules as `npm run rig`: install as root or with passwordless sudo, else exit 3 with the command.
    const print = (e: RigEvent): void => {
      if (e.type === 'stage' || e.type === 'log') process.stderr.write(`ktest-rig: ${e.message}\n`);
    };
    try {
      await ensureTools(needs, { onEvent: print });
      return 0;
    } catch (error) {
      process.stderr.write(`${formatError(error)}\n`);
      return exitCodeOf(error);
    }
  }
  if (mode === '--check') {
    const checks = await checkTools(needs);
    const lines = checks.map((c) => `${c.ok ? 'ok     ' : 'MISSING'} ${c.name} ${c.version ?? c.problem ?? ''} (${c.package})`);
    process.stdout.write(`${lines.join('\n')}\n`);
    return checks.every((c) => c.ok) ? 0 : 1;
  }
  process.stderr.write('usage: tsx rig/platform/host-tools.ts --packages|--check|--ensure [all|test|x86_64,arm64,buildroots,kernelbuild,coverage,dev]\n');
  return 2;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 2;
    },
  );
}

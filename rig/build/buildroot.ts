// Build roots: a minimal Debian root per suite (made once, cached) to build modules for kernels the host cannot build for.
import { createHash } from 'node:crypto';
import { access, constants, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { delimiter, isAbsolute, join } from 'node:path';
import { execa } from 'execa';
import { defaultMirrors, KEYRING } from '../kernels/apt.ts';
import { InfraError } from '../core/errors.ts';
import { nullSink, type EventSink } from '../core/events.ts';
import { cacheRoot } from '../core/paths.ts';
import { envChoice, type EnvValue } from '../core/env.ts';
import { cacheEntry, checkEntry } from '../core/cache.ts';
import type { ToolchainSpec } from '../kernels/spec.ts';
import { missingTool } from '../platform/host-tools.ts';

/** Bump when the root's layout or base package list changes meaning, so old roots are not reused. */
const LAYOUT_VERSION = 1;
export const MARKER = 'buildroot.json';
/** Always in a build root: make, a libc for the host tools and pahole (6.12+ headers ship BTF). */
export const BASE_PACKAGES: readonly string[] = ['make', 'libc6-dev', 'dwarves'];
/** stderr line the setup script prints when mounting or chroot fails (not the command's own failure). */
export const SETUP_FAILED = 'ktest-rig-buildroot: setup failed';
const PATH_INSIDE = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Creating a root downloads ~100 MB and unpacks ~350 MB: allow for slow mirrors. */
export const CREATE_TIMEOUT_MS = 20 * 60_000;

export interface BuildRootOptions {
  readonly cacheDir?: string;
  readonly onEvent?: EventSink;
}

export interface RunInBuildRootOptions extends BuildRootOptions {
  /**
   * Host directories mounted at the SAME path inside the root (recursively). Bind everything the
   * command reaches: the extracted kernel tree (the headers link to ../../lib/linux-kbuild-*), and
   * the module build directory.
   */
  readonly binds: readonly string[];
  /** Working directory inside the root (default /). */
  readonly cwd?: string;
  /** Extra environment; the command otherwise sees only PATH, HOME=/tmp and LC_ALL=C.UTF-8. */
  readonly env?: Readonly<Record<string, string>>;
  /** Kill the command after this long (default: no limit). */
  readonly timeoutMs?: number;
}

export interface BuildRootResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode: number;
}

/** What the marker (written last) records; a root without a matching marker is rebuilt. */
export interface BuildRootMarker {
  readonly layout: number;
  readonly suite: string;
  readonly packages: readonly string[];
  readonly tool: string;
  readonly seconds: number;
  readonly bytes: number;
}

/** How this process can get root powers: it is root, `sudo -n` works, or unprivileged user namespaces. */
export type Privilege = 'root' | 'sudo' | 'userns';

/** Every package of a spec's root: base, the compiler the headers ask for, the spec's extras. Pure. */
export function buildRootPackages(spec: ToolchainSpec): string[] {
  return [...new Set([...BASE_PACKAGES, spec.cc, ...(spec.packages ?? [])])].sort();
}

function suiteOf(spec: ToolchainSpec): string {
  if (spec.kind !== 'buildroot' || !spec.suite) {
    throw new InfraError(`toolchain ${spec.kind}/${spec.cc} has no build root (kind must be 'buildroot' with a suite)`);
  }
  if (!/^[a-z][a-z0-9.-]*$/.test(spec.suite)) throw new InfraError(`bad build-root suite name: ${spec.suite}`);
  return spec.suite;
}

/** Cache directory name: <suite>-<hash of layout, suite and package list>. Pure. */
export function buildRootName(spec: ToolchainSpec): string {
  const suite = suiteOf(spec);
  const hash = createHash('sha256')
    .update(`${LAYOUT_VERSION}\n${suite}\n${buildRootPackages(spec).join('\n')}\n`)
    .digest('hex')
    .slice(0, 12);
  return `${suite}-${hash}`;
}

/** The directory holding a root (root/ inside it) and its marker. Pure. */
export function buildRootDir(spec: ToolchainSpec, cacheDir: string = cacheRoot()): string {
  return join(cacheDir, 'buildroots', buildRootName(spec));
}

/** Does a parsed marker describe this spec's root? Pure. */
export function markerMatches(marker: unknown, spec: ToolchainSpec): boolean {
  if (typeof marker !== 'object' || marker === null) return false;
  const m = marker as Partial<BuildRootMarker>;
  const want = buildRootPackages(spec);
  return (
    m.layout === LAYOUT_VERSION &&
    m.suite === spec.suite &&
    Array.isArray(m.packages) &&
    m.packages.length === want.length &&
    m.packages.every((p, i) => p === want[i])
  );
}

/** Files a usable root must have (a half-deleted or damaged root lacks some). Pure. */
export function requiredFiles(spec: ToolchainSpec): string[] {
  return ['usr/bin/make', `usr/bin/${spec.cc}`, 'usr/bin/pahole', 'usr/bin/env', 'bin/sh'];
}

/** Record key of a root's cache entry. Pure. */
export function buildRootKey(spec: ToolchainSpec): string {
  return `buildroot ${buildRootName(spec)}`;
}

/** The files of a root the record covers: the compiler, make, pahole, headers (hashing every file of 370 MB would be slow). Pure. */
export function recordedFile(spec: ToolchainSpec): (rel: string) => boolean {
  const required = new Set(requiredFiles(spec).map((r) => `root/${r}`));
  return (rel) => rel === MARKER || required.has(rel) || rel.startsWith('root/usr/lib/gcc/') || rel.startsWith('root/usr/include/');
}

async function markerAndFiles(spec: ToolchainSpec, dir: string): Promise<boolean> {
  let marker: unknown;
  try {
    marker = JSON.parse(await readFile(join(dir, MARKER), 'utf8'));
  } catch {
    return false;
  }
  if (!markerMatches(marker, spec)) return false;
  for (const rel of requiredFiles(spec)) {
    const ok = await access(join(dir, 'root', rel), constants.F_OK).then(
      () => true,
      () => false,
    );
    if (!ok) return false;
  }
  return true;
}

/** Validity check of a cached root: matching marker, the key files there, and its verification record holds. */
export async function buildRootIsValid(spec: ToolchainSpec, dir: string): Promise<boolean> {
  return (await markerAndFiles(spec, dir)) && (await checkEntry(dir, buildRootKey(spec))).ok;
}

async function onPath(command: string): Promise<boolean> {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    if (dir && (await access(join(dir, command), constants.X_OK).then(() => true, () => false))) return true;
  }
  return false;
}

let privilegeMemo: Promise<Privilege> | undefined;

/** Root, else passwordless sudo, else user namespaces (probed once per process). */
export function detectPrivilege(): Promise<Privilege> {
  privilegeMemo ??= (async (): Promise<Privilege> => {
    if (process.getuid?.() === 0) return 'root';
    const sudo = await execa('sudo', ['-n', 'true'], { reject: false }).catch(() => undefined);
    if (sudo?.exitCode === 0) return 'sudo';
    const userns = await execa('unshare', ['--map-root-user', '--mount', 'true'], { reject: false }).catch(() => undefined);
    if (userns?.exitCode === 0) return 'userns';
    throw new InfraError('build roots need root, passwordless sudo, or unprivileged user namespaces; none is available', {
      hint: 'run as root, or allow user namespaces (sysctl kernel.unprivileged_userns_clone=1)',
    });
  })();
  return privilegeMemo;
}

/** Host apt settings a build root's apt must share (mmdebstrap ignores the host's apt.conf.d). */
const INHERITED_APT = ['Acquire::Check-Valid-Until', 'Acquire::Check-Date', 'Acquire::http::Proxy', 'Acquire::https::Proxy'];

/**
 * `apt-config dump` lines worth passing on: a snapshot mirror needs Check-Valid-Until "false"
 * (sid's Release expires after a week), a proxy must be used everywhere. Pure.
 */
export function inheritedAptOptions(dump: string): string[] {
  const out: string[] = [];
  for (const line of dump.split('\n')) {
    const m = /^(\S+)\s+"(.*)";$/.exec(line.trim());
    if (m && INHERITED_APT.includes(m[1])) out.push(`${m[1]} "${m[2]}"`);
  }
  return out;
}

async function hostAptOptions(): Promise<string[]> {
  const r = await execa('apt-config', ['dump'], { reject: false }).catch(() => undefined);
  return r?.exitCode === 0 ? inheritedAptOptions(String(r.stdout)) : [];
}

/** The command that creates a root at `target` (argv). Pure. */
export function createCommand(
  tool: BootstrapTool,
  privilege: Privilege,
  suite: string,
  packages: readonly string[],
  target: string,
  mirror: string,
  aptOptions: readonly string[] = [],
): string[] {
  const sudo = privilege === 'sudo' ? ['sudo', '-n'] : [];
  if (tool === 'mmdebstrap') {
    // userns: mmdebstrap maps root to a subordinate uid; a tarball extracted by us gets our uid instead.
    const out = privilege === 'userns' ? `${target}.tar` : target;
    return [
      ...sudo,
      'mmdebstrap',
      '--variant=minbase',
      `--mode=${privilege === 'userns' ? 'unshare' : 'root'}`,
      `--include=${packages.join(',')}`,
      ...aptOptions.map((o) => `--aptopt=${o}`),
      '--quiet',
      suite,
      out,
      `deb [signed-by=${KEYRING}] ${mirror} ${suite} main`,
    ];
  }
  return [...sudo, 'debootstrap', '--variant=minbase', `--keyring=${KEYRING}`, `--include=${packages.join(',')}`, suite, target, mirror];
}

export type BootstrapTool = EnvValue<'KTEST_RIG_BOOTSTRAP'>;

/**
 * mmdebstrap when installed (faster: one apt run), else debootstrap; KTEST_RIG_BOOTSTRAP forces
 * one. Pure.
 */
export function pickTool(forced: BootstrapTool | undefined, available: Readonly<Record<BootstrapTool, boolean>>): BootstrapTool {
  if (forced) {
    if (!available[forced]) throw missingTool(forced);
    return forced;
  }
  if (available.mmdebstrap) return 'mmdebstrap';
  if (available.debootstrap) return 'debootstrap';
  throw missingTool('debootstrap');
}

/** Make (once) the root for `spec` and return its path (the directory to chroot into). */
export async function ensureBuildRoot(spec: ToolchainSpec, opts: BuildRootOptions = {}): Promise<string> {
  const dir = buildRootDir(spec, opts.cacheDir ?? cacheRoot());
  if (await buildRootIsValid(spec, dir)) return join(dir, 'root');
  const key = dir;
  let pending = inFlight.get(key);
  if (!pending) {
    pending = createBuildRoot(spec, dir, opts.onEvent ?? nullSink).finally(() => inFlight.delete(key));
    inFlight.set(key, pending);
  }
  return pending;
}

const inFlight = new Map<string, Promise<string>>();

async function removeTree(path: string, privilege: Privilege): Promise<void> {
  if (privilege === 'sudo') await execa('sudo', ['-n', 'rm', '-rf', '--one-file-system', path], { reject: false });
  await rm(path, { recursive: true, force: true });
}

async function duBytes(path: string): Promise<number> {
  const r = await execa('du', ['-sb', '--one-file-system', path], { reject: false });
  return Number(String(r.stdout).split(/\s/, 1)[0]) || 0;
}

async function createBuildRoot(spec: ToolchainSpec, dir: string, emit: EventSink): Promise<string> {
  const suite = suiteOf(spec);
  const packages = buildRootPackages(spec);
  const tool = pickTool(envChoice('KTEST_RIG_BOOTSTRAP'), { mmdebstrap: await onPath('mmdebstrap'), debootstrap: await onPath('debootstrap') });
  const privilege = await detectPrivilege();
  if (privilege === 'userns' && tool !== 'mmdebstrap') {
    throw missingTool('mmdebstrap', {
      cause: new Error('without root, a build root needs mmdebstrap --mode=unshare'),
    });
  }
  const started = Date.now();
  let marker: BuildRootMarker | undefined;
  await cacheEntry({
    dir,
    label: `the ${suite} build root`,
    key: buildRootKey(spec),
    remove: (p) => removeTree(p, privilege),
    select: recordedFile(spec),
    onEvent: emit,
    build: async (tmp) => {
      const root = join(tmp, 'root');
      emit({ type: 'stage', stage: 'buildroot', message: `creating a ${suite} build root with ${tool} (${packages.join(' ')}), once` });
      const argv = createCommand(tool, privilege, suite, packages, root, defaultMirrors().main, await hostAptOptions());
      const r = await execa(argv[0], argv.slice(1), { reject: false, all: true, timeout: CREATE_TIMEOUT_MS, env: { LC_ALL: 'C' } });
      if (r.exitCode !== 0) {
        const tail = String(r.all ?? '').split('\n').slice(-15).join('\n');
        throw new InfraError(`${tool} ${suite} failed (exit ${r.exitCode ?? r.signal}):\n${tail}`, {
          hint: 'check network access to deb.debian.org (or KTEST_RIG_DEBIAN_MIRROR) and free disk space',
        });
      }
      if (privilege === 'userns') {
        await mkdir(root, { recursive: true });
        const x = await execa('tar', ['-xf', `${root}.tar`, '-C', root, '--no-same-owner', '--exclude=./dev/*'], { reject: false, all: true });
        await rm(`${root}.tar`, { force: true });
        if (x.exitCode !== 0) throw new InfraError(`cannot unpack the ${suite} build root: ${String(x.all).slice(-500)}`);
      }
      // debootstrap leaves the downloaded .debs in the root (~140 MB); device nodes in /dev are never
      // used (the host's /dev is bound over it) and would break caches restored without root.
      const sudo = privilege === 'sudo' ? ['sudo', '-n'] : [];
      for (const clean of [
        [...sudo, 'find', join(root, 'var/cache/apt/archives'), '-name', '*.deb', '-delete'],
        [...sudo, 'find', join(root, 'dev'), '-mindepth', '1', '-delete'],
      ]) {
        await execa(clean[0], clean.slice(1), { reject: false });
      }
      marker = { layout: LAYOUT_VERSION, suite, packages, tool, seconds: Math.round((Date.now() - started) / 100) / 10, bytes: await duBytes(root) };
      await writeFile(join(tmp, MARKER), `${JSON.stringify(marker, null, 2)}\n`);
      if (!(await markerAndFiles(spec, tmp))) {
        throw new InfraError(`the new ${suite} build root lacks ${requiredFiles(spec).join(', ')}`, {
          hint: `check that the packages exist in ${suite}: ${packages.join(' ')}`,
        });
      }
    },
  });
  if (marker) emit({ type: 'log', level: 'info', message: `${suite} build root ready in ${marker.seconds} s, ${Math.round(marker.bytes / 1e6)} MB: ${dir}` });
  return join(dir, 'root');
}

/**
 * The shell script that mounts the binds, /dev and /proc inside the root, then runs the command
 * under chroot. It runs in fresh mount and pid namespaces, so every mount vanishes with it, even
 * when the command fails or is killed. Arguments: root nbinds bind... -- userspec env=value... argv...
 */
export const SETUP_SCRIPT = `
fail() { echo "${SETUP_FAILED}: $*" >&2; exit 125; }
root=$1; n=$2; shift 2
[ -d "$root/proc" ] && [ -d "$root/dev" ] || fail "no build root at $root"
while [ "$n" -gt 0 ]; do
  mkdir -p "$root$1" || fail "mkdir $root$1"
  mount --rbind "$1" "$root$1" || fail "bind $1"
  shift; n=$((n - 1))
done
mount --rbind /dev "$root/dev" || fail "bind /dev"
mount -t proc proc "$root/proc" || fail "mount /proc"
userspec=$2; shift 2
set -- chroot $userspec "$root" /usr/bin/env -i "$@"
chroot "$root" /bin/true || fail "chroot $root"
exec "$@"
`;

/** argv for running `argv` inside `root` with `privilege`. Pure. */
export function runCommand(
  root: string,
  argv: readonly string[],
  opts: { binds: readonly string[]; cwd?: string; env?: Readonly<Record<string, string>> },
  privilege: Privilege,
  ids: { uid: number; gid: number } = { uid: 0, gid: 0 },
): string[] {
  if (argv.length === 0) throw new InfraError('runInBuildRoot: empty command');
  for (const path of [...opts.binds, opts.cwd ?? '/']) {
    if (!isAbsolute(path)) throw new InfraError(`runInBuildRoot: ${path} is not an absolute path`);
  }
  const binds = [...new Set(opts.binds)].sort(); // parents before children
  const env = { PATH: PATH_INSIDE, HOME: '/tmp', LC_ALL: 'C.UTF-8', ...opts.env };
  // Under sudo the command runs as the caller, so build outputs stay the caller's files.
  const userspec = privilege === 'sudo' ? `--userspec=${ids.uid}:${ids.gid}` : '';
  const inner = [
    'sh',
    '-c',
    `cd "${(opts.cwd ?? '/').replace(/["\\$`]/g, '\\$&')}" && exec "$@"`,
    'sh',
    ...argv,
  ];
  const ns = ['unshare', '--mount', '--propagation', 'private', '--pid', '--fork', '--kill-child'];
  const prefix = privilege === 'sudo' ? ['sudo', '-n', ...ns] : privilege === 'userns' ? ['unshare', '--map-root-user', ...ns.slice(1)] : ns;
  return [
    ...prefix,
    'sh',
    '-c',
    SETUP_SCRIPT,
    'ktest-rig-buildroot',
    root,
    String(binds.length),
    ...binds,
    '--',
    userspec,
    ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
    ...inner,
  ];
}

/**
 * Run a command inside the build root of `spec` (made first if needed), with `binds` mounted at the
 * same paths. Returns the command's output and exit status; a failure to set up the root is an
 * InfraError.
 */
export async function runInBuildRoot(
  spec: ToolchainSpec,
  argv: readonly string[],
  opts: RunInBuildRootOptions,
): Promise<BuildRootResult> {
  const root = await ensureBuildRoot(spec, opts);
  const privilege = await detectPrivilege();
  const ids = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
  const cmd = runCommand(root, argv, opts, privilege, ids);
  const r = await execa(cmd[0], cmd.slice(1), {
    reject: false,
    timeout: opts.timeoutMs,
    env: { LC_ALL: 'C' },
    stripFinalNewline: false,
  });
  const stderr = String(r.stderr ?? '');
  const setupLine = stderr.split('\n').find((l) => l.startsWith(SETUP_FAILED));
  if (setupLine) {
    throw new InfraError(`cannot enter the ${spec.suite} build root: ${setupLine.slice(SETUP_FAILED.length + 2)}`, {
      cause: new Error(stderr),
      hint: `delete ${join(root, '..')} to rebuild it`,
    });
  }
  if (r.timedOut) {
    throw new InfraError(`command timed out after ${opts.timeoutMs} ms in the ${spec.suite} build root: ${argv.join(' ')}`);
  }
  return { stdout: String(r.stdout ?? ''), stderr, exitCode: r.exitCode ?? 128 + 9 };
}

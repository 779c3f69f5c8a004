// Builds the guest initramfs in pure TS: a newc cpio writer/reader and the busybox + init + agent layout.
import { ARCHES, hostArchOrUndefined } from '../platform/arch/index.ts';
import { elfHeader } from '../platform/elf.ts';
import { readFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join, posix } from 'node:path';
import { projectRoot } from '../core/paths.ts';
import { InfraError, UsageError } from '../core/errors.ts';

export type InitramfsEntry =
  | { readonly type: 'dir'; readonly path: string; readonly mode?: number }
  | { readonly type: 'file'; readonly path: string; readonly data: Buffer; readonly mode?: number }
  | { readonly type: 'symlink'; readonly path: string; readonly target: string }
  | { readonly type: 'char'; readonly path: string; readonly major: number; readonly minor: number; readonly mode?: number };

export interface InitramfsFile {
  /** Absolute path in the guest (/lib/modules/ktest/ktest.ko). */
  readonly path: string;
  /** Host path to copy, or the bytes themselves. */
  readonly source: string | Buffer;
  /** Permission bits (default 0o755 for the agent and init, 0o644 otherwise). */
  readonly mode?: number;
}

export interface InitramfsOptions {
  /** Host path of a static busybox for the guest's arch. */
  readonly busybox: string;
  /** Guest agent binary (built from guest/agent.c); placed at /bin/ktest-agent. */
  readonly agent?: string | Buffer;
  /** Init script; default guest/init of this checkout. */
  readonly init?: string | Buffer;
  /** Modules the init insmods in order before the agent (/etc/ktest/modules): absolute guest paths, or
   *  relative to /lib/modules/<release>/ like QemuSpec.guestModules. The caller adds the .ko files. */
  readonly guestModules?: readonly string[];
  /** Everything else: nlclient, the module under test, fixtures. Caller's files win over applets. */
  readonly files?: readonly InitramfsFile[];
  /** Create busybox applet symlinks (default true). */
  readonly symlinkApplets?: boolean;
}

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;
const NEWC_MAGIC = '070701';

/** Directories every guest gets (the init mounts onto some of them). */
export const BASE_DIRS: readonly string[] = [
  '/bin', '/sbin', '/usr', '/usr/bin', '/usr/sbin', '/dev', '/proc', '/sys', '/tmp', '/etc', '/etc/ktest',
  '/root', '/lib', '/lib/modules', '/mnt', '/run', '/var',
];

/** Applets linked into /bin when busybox cannot run on the host (foreign arch). */
export const FALLBACK_APPLETS: readonly string[] = [
  'sh', 'ash', 'cat', 'cp', 'dd', 'dmesg', 'echo', 'env', 'false', 'grep', 'head', 'hostname', 'insmod',
  'kill', 'ln', 'ls', 'lsmod', 'mkdir', 'mknod', 'modprobe', 'mount', 'mv', 'poweroff', 'printf', 'ps',
  'reboot', 'rm', 'rmdir', 'rmmod', 'sed', 'seq', 'sleep', 'sort', 'stat', 'sync', 'sysctl', 'tail', 'tee',
  'test', '[', '[[', 'timeout', 'touch', 'tr', 'true', 'umount', 'uname', 'usleep', 'wc', 'xargs', 'yes',
  'awk', 'cut', 'expr', 'find', 'id', 'md5sum', 'sha256sum', 'base64', 'od', 'hexdump', 'nproc', 'free',
  'top', 'uptime', 'watch', 'which', 'readlink', 'realpath', 'basename', 'dirname', 'chmod', 'chown', 'du',
  'df', 'pidof', 'pkill', 'pgrep', 'killall', 'ip', 'ifconfig', 'nc', 'diff', 'cmp', 'strings', 'vi',
];

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

function archiveName(path: string): string {
  const norm = posix.normalize(path).replace(/^\/+/, '');
  if (norm === '' || norm === '.' || norm.startsWith('../')) throw new UsageError(`bad initramfs path ${path}`);
  return norm;
}

function header(fields: { ino: number; mode: number; nlink: number; size: number; rmaj: number; rmin: number; nameSize: number }): string {
  const f = fields;
  return NEWC_MAGIC + [f.ino, f.mode, 0, 0, f.nlink, 0, f.size, 0, 0, f.rmaj, f.rmin, f.nameSize, 0].map(hex8).join('');
}

/** Encodes entries in order (parents must come before children) as an uncompressed newc archive. */
export function cpioNewc(entries: readonly InitramfsEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  const push = (name: string, mode: number, nlink: number, data: Buffer, rmaj = 0, rmin = 0): void => {
    const nameBytes = Buffer.from(`${name}\0`, 'utf8');
    const head = Buffer.from(
      header({ ino: name === 'TRAILER!!!' ? 0 : ino++, mode, nlink, size: data.length, rmaj, rmin, nameSize: nameBytes.length }),
      'ascii',
    );
    parts.push(head, nameBytes, Buffer.alloc(pad4(head.length + nameBytes.length)), data, Buffer.alloc(pad4(data.length)));
  };
  for (const e of entries) {
    const name = archiveName(e.path);
    switch (e.type) {
      case 'dir':
        push(name, S_IFDIR | (e.mode ?? 0o755), 2, Buffer.alloc(0));
        break;
      case 'file':
        push(name, S_IFREG | (e.mode ?? 0o644), 1, e.data);
        break;
      case 'symlink':
        push(name, S_IFLNK | 0o777, 1, Buffer.from(e.target, 'utf8'));
        break;
      case 'char':
        push(name, S_IFCHR | (e.mode ?? 0o600), 1, Buffer.alloc(0), e.major, e.minor);
        break;
    }
  }
  push('TRAILER!!!', 0, 1, Buffer.alloc(0));
  return Buffer.concat(parts);
}

/** Reads a newc archive back (for tests and debugging); stops at the trailer. */
export function parseNewc(archive: Buffer): InitramfsEntry[] {
  const out: InitramfsEntry[] = [];
  let off = 0;
  for (;;) {
    if (archive.toString('ascii', off, off + 6) !== NEWC_MAGIC) throw new InfraError(`bad cpio magic at ${off}`);
    const field = (i: number): number => parseInt(archive.toString('ascii', off + 6 + i * 8, off + 14 + i * 8), 16);
    const mode = field(1);
    const size = field(6);
    const nameSize = field(11);
    const nameStart = off + 110;
    const name = archive.toString('utf8', nameStart, nameStart + nameSize - 1);
    const dataStart = nameStart + nameSize + pad4(110 + nameSize);
    const data = archive.subarray(dataStart, dataStart + size);
    const [rmaj, rmin] = [field(9), field(10)];
    off = dataStart + size + pad4(size);
    if (name === 'TRAILER!!!') return out;
    const path = `/${name}`;
    const perm = mode & 0o7777;
    switch (mode & 0o170000) {
      case S_IFDIR: out.push({ type: 'dir', path, mode: perm }); break;
      case S_IFREG: out.push({ type: 'file', path, data: Buffer.from(data), mode: perm }); break;
      case S_IFLNK: out.push({ type: 'symlink', path, target: data.toString('utf8') }); break;
      case S_IFCHR: out.push({ type: 'char', path, major: rmaj, minor: rmin, mode: perm }); break;
      default: throw new InfraError(`unsupported cpio mode ${mode.toString(8)} for ${name}`);
    }
  }
}

/** ELF e_machine of the host's Node, to tell whether a busybox can run here. */
function hostMachine(): number | undefined {
  const arch = hostArchOrUndefined();
  return arch && ARCHES[arch].elfMachine;
}

/** Applet paths (bin/sh, usr/bin/awk, ...) of a busybox binary; the fixed list for a foreign arch. */
export async function busyboxApplets(busybox: string, elf: Buffer): Promise<string[]> {
  const machine = elfHeader(elf)?.machine ?? -1;
  if (machine !== hostMachine()) return FALLBACK_APPLETS.map((a) => `bin/${a}`);
  try {
    const { stdout } = await promisify(execFile)(busybox, ['--list-full']);
    return stdout.split('\n').filter((l) => l.length > 0 && !l.endsWith('/busybox') && l !== 'linuxrc');
  } catch (cause) {
    throw new InfraError(`cannot list the applets of ${busybox}`, { cause, hint: 'use a static busybox (busybox-static)' });
  }
}

async function bytesOf(source: string | Buffer, what: string): Promise<Buffer> {
  if (Buffer.isBuffer(source)) return source;
  try {
    return await readFile(source);
  } catch (cause) {
    throw new InfraError(`cannot read ${what} ${source}`, { cause });
  }
}

/** Adds every missing parent directory of path to dirs. */
function addParents(path: string, dirs: Set<string>): void {
  for (let d = posix.dirname(path); d !== '/' && !dirs.has(d); d = posix.dirname(d)) dirs.add(d);
}

/** The guest's initramfs: dirs, /dev/console, /init, busybox + applets, the agent, the caller's files. */
export async function buildInitramfs(opts: InitramfsOptions): Promise<Buffer> {
  const busybox = await bytesOf(opts.busybox, 'busybox');
  const files = new Map<string, { data: Buffer; mode: number }>();
  files.set('/init', { data: await bytesOf(opts.init ?? join(projectRoot, 'guest', 'init'), 'init script'), mode: 0o755 });
  files.set('/bin/busybox', { data: busybox, mode: 0o755 });
  if (opts.agent !== undefined) files.set('/bin/ktest-agent', { data: await bytesOf(opts.agent, 'agent'), mode: 0o755 });
  if (opts.guestModules?.length) {
    files.set('/etc/ktest/modules', { data: Buffer.from(`${opts.guestModules.join('\n')}\n`), mode: 0o644 });
  }
  for (const f of opts.files ?? []) {
    if (!f.path.startsWith('/')) throw new UsageError(`initramfs path must be absolute: ${f.path}`);
    files.set(posix.normalize(f.path), { data: await bytesOf(f.source, 'file'), mode: f.mode ?? 0o644 });
  }
  const links = new Map<string, string>();
  if (opts.symlinkApplets ?? true) {
    for (const applet of await busyboxApplets(opts.busybox, busybox)) {
      const path = `/${applet}`;
      if (!files.has(path)) links.set(path, '/bin/busybox');
    }
  }
  const dirs = new Set<string>(BASE_DIRS);
  for (const p of [...files.keys(), ...links.keys()]) addParents(p, dirs);
  const sortedDirs = [...dirs].sort((a, b) => a.split('/').length - b.split('/').length || a.localeCompare(b));
  const entries: InitramfsEntry[] = [
    ...sortedDirs.map((path): InitramfsEntry => ({ type: 'dir', path, mode: path === '/tmp' ? 0o1777 : 0o755 })),
    { type: 'char', path: '/dev/console', major: 5, minor: 1, mode: 0o600 },
    { type: 'char', path: '/dev/null', major: 1, minor: 3, mode: 0o666 },
    ...[...files].map(([path, f]): InitramfsEntry => ({ type: 'file', path, data: f.data, mode: f.mode })),
    ...[...links].sort().map(([path, target]): InitramfsEntry => ({ type: 'symlink', path, target })),
  ];
  return cpioNewc(entries);
}

// `doctor`: every host check in one table (tools, Node, KVM or TCG and why, cache dir and free space).
import { access, statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { probeAccel } from '../vm/kvm.ts';
import { isArch, type Arch } from '../platform/arch/index.ts';
import { cacheRoot } from '../core/paths.ts';
import type { Accel } from '../platform/arch/index.ts';
import {
  ALL_NEEDS,
  activeNeeds,
  checkTools,
  defaultRunner,
  installForbidden,
  installPrivilege,
  manualInstallCommand,
  type CommandRunner,
  type HostTool,
  type Need,
  type ToolCheck,
  type ToolNeeds,
} from '../platform/host-tools.ts';

export type DoctorStatus = 'ok' | 'missing' | 'warn' | 'info';

export interface DoctorRow {
  /** What was checked: a tool name, node, accel, cache, install. */
  readonly check: string;
  readonly status: DoctorStatus;
  readonly version?: string;
  /** Debian package that provides it (tools only). */
  readonly package?: string;
  /** Why, where, or what for. */
  readonly detail?: string;
}

/** rig/vm/kvm.ts's probe: which accelerator QEMU can use here, and why. */
export type AccelProbe = () => Promise<{ readonly accel: Accel; readonly reason: string }>;

export interface DoctorOptions {
  /** Which tools to check (default: all of them, for every arch, build roots and development). */
  readonly needs?: ToolNeeds;
  /**
   * Which of them must be there (default: DEFAULT_REQUIRED, the default x86_64 image). Others that
   * are absent are a warning ("optional"), not a failure.
   */
  readonly required?: ToolNeeds;
  readonly tools?: readonly HostTool[];
  readonly env?: NodeJS.ProcessEnv;
  readonly runner?: CommandRunner;
  /** Default: probeAccel from rig/vm/kvm.ts. */
  readonly probeAccel?: AccelProbe;
  /** Default: process.versions.node. */
  readonly nodeVersion?: string;
  /** Default: process.getuid() === 0. */
  readonly asRoot?: boolean;
}

/** What the default image (bookworm 6.1, x86_64, host toolchain) needs. */
export const DEFAULT_REQUIRED: ToolNeeds = Object.freeze({ arches: ['x86_64'] as const, buildroots: false });

/** Oldest Node the rig supports (package.json engines). */
export const MIN_NODE_MAJOR = 20;
/** Below this much free space in the cache's file system, doctor warns (kernels, build roots). */
export const MIN_FREE_BYTES = 2 * 1024 ** 3;

// ---------- pure rows ----------

const NEED_TEXT: Record<Exclude<Need, Arch>, string> = {
  core: 'all images',
  buildroots: '6.12/7.x build roots',
  kernelbuild: 'built kernels (bookworm-6.1-debug)',
  coverage: 'run --coverage',
  dev: 'development, CI',
};

function needText(need: Need): string {
  return isArch(need) ? `${need} images` : NEED_TEXT[need];
}

/** A tool's row; a missing tool is a failure when `required` needs it, else a warning. */
export function toolRow(check: ToolCheck, required: ToolNeeds = DEFAULT_REQUIRED): DoctorRow {
  const neededFor = check.neededFor.map((need) => needText(need)).join(', ');
  const what = check.purpose ? `${check.purpose} (${neededFor})` : neededFor;
  const active = activeNeeds(required);
  const mustHave = check.neededFor.some((need) => active.has(need));
  return {
    check: check.name,
    status: check.ok ? 'ok' : mustHave ? 'missing' : 'warn',
    ...(check.version ? { version: check.version } : {}),
    package: check.package,
    detail: check.ok ? what : `${mustHave ? '' : 'optional: '}${check.problem ?? 'missing'}; needed for ${neededFor}`,
  };
}

export function nodeRow(version: string): DoctorRow {
  const major = Number.parseInt(version.replace(/^v/, ''), 10);
  const ok = Number.isFinite(major) && major >= MIN_NODE_MAJOR;
  return { check: 'node', status: ok ? 'ok' : 'missing', version, detail: ok ? `>= ${MIN_NODE_MAJOR}` : `need Node >= ${MIN_NODE_MAJOR}` };
}

export function accelRow(result: { readonly accel: Accel; readonly reason: string } | Error): DoctorRow {
  if (result instanceof Error) return { check: 'accel', status: 'warn', detail: `could not probe KVM: ${result.message}` };
  return {
    check: 'accel',
    status: result.accel === 'kvm' ? 'ok' : 'warn',
    version: result.accel,
    detail: result.accel === 'kvm' ? result.reason : `TCG (slower): ${result.reason}`,
  };
}

export function cacheRow(path: string, freeBytes: number | undefined, exists: boolean): DoctorRow {
  const where = exists ? path : `${path} (will be created)`;
  if (freeBytes === undefined) return { check: 'cache', status: 'warn', detail: `${where}: free space unknown` };
  const low = freeBytes < MIN_FREE_BYTES;
  return {
    check: 'cache',
    status: low ? 'warn' : 'ok',
    detail: `${where}: ${formatBytes(freeBytes)} free${low ? `, want ${formatBytes(MIN_FREE_BYTES)}` : ''}`,
  };
}

export function installRow(privilege: 'root' | 'sudo' | 'none', forbidden: boolean): DoctorRow {
  if (forbidden) return { check: 'install', status: 'info', detail: 'KTEST_RIG_NO_INSTALL is set: missing packages are reported, not installed' };
  if (privilege === 'none') return { check: 'install', status: 'info', detail: 'not root, no passwordless sudo: install missing packages by hand' };
  return { check: 'install', status: 'ok', detail: `missing packages are installed with apt-get (${privilege === 'root' ? 'as root' : 'sudo -n'})` };
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** True when nothing is missing (warnings, such as TCG, do not count). */
export function doctorOk(rows: readonly DoctorRow[]): boolean {
  return rows.every((row) => row.status !== 'missing');
}

const STATUS_TEXT: Record<DoctorStatus, string> = { ok: 'ok', missing: 'MISSING', warn: 'warn', info: 'info' };

/**
 * Aligned columns (CHECK STATUS VERSION PACKAGE DETAIL), then the install commands for missing
 * packages and for absent optional ones.
 */
export function formatDoctorTable(rows: readonly DoctorRow[]): string {
  const header = ['CHECK', 'STATUS', 'VERSION', 'PACKAGE', 'DETAIL'];
  const cells = rows.map((row) => [row.check, STATUS_TEXT[row.status], row.version ?? '-', row.package ?? '-', row.detail ?? '']);
  const table = [header, ...cells];
  const widths = header.map((_, col) => Math.max(...table.map((line) => line[col]!.length)));
  const lines = table.map((line) => line.map((cell, col) => cell.padEnd(widths[col]!)).join('  ').trimEnd());
  const packages = (status: DoctorStatus) => [...new Set(rows.filter((row) => row.status === status && row.package).map((row) => row.package!))];
  const missing = packages('missing');
  const optional = packages('warn');
  if (missing.length > 0 || optional.length > 0) lines.push('');
  if (missing.length > 0) lines.push(`missing packages; install them with: ${manualInstallCommand(missing)}`);
  if (optional.length > 0) lines.push(`optional packages (other images, development): ${manualInstallCommand(optional)}`);
  return `${lines.join('\n')}\n`;
}

// ---------- probing ----------

async function freeSpace(path: string): Promise<{ free: number | undefined; exists: boolean }> {
  let dir = path;
  let exists = true;
  for (;;) {
    try {
      await access(dir);
      const stats = await statfs(dir);
      return { free: Number(stats.bavail) * Number(stats.bsize), exists };
    } catch {
      exists = false;
      const parent = dirname(dir);
      if (parent === dir) return { free: undefined, exists };
      dir = parent;
    }
  }
}

/** Runs every check; never throws for a failed check (it becomes a row). */
export async function doctor(options: DoctorOptions = {}): Promise<DoctorRow[]> {
  const env = options.env ?? process.env;
  const runner = options.runner ?? defaultRunner;
  const probe = options.probeAccel ?? (() => probeAccel({ env }));
  const asRoot = options.asRoot ?? process.getuid?.() === 0;
  const cache = cacheRoot(env);
  const [checks, accel, space, privilege] = await Promise.all([
    checkTools(options.needs ?? ALL_NEEDS, { env, runner, ...(options.tools ? { tools: options.tools } : {}) }),
    probe().catch((error: unknown) => (error instanceof Error ? error : new Error(String(error)))),
    freeSpace(cache),
    installPrivilege(runner, asRoot),
  ]);
  return [
    nodeRow(options.nodeVersion ?? process.versions.node),
    ...checks.map((check) => toolRow(check, options.required ?? DEFAULT_REQUIRED)),
    accelRow(accel),
    cacheRow(cache, space.free, space.exists),
    installRow(privilege, installForbidden(env)),
  ];
}

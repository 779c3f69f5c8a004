// Is KVM usable? Proven by running the arch record's tiny firmware (platform/arch/) under -accel kvm, not by /dev/kvm existing; cached per host boot.
import { constants } from 'node:fs';
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cacheRoot } from '../core/paths.ts';
import { envChoice } from '../core/env.ts';
import { QemuProcess } from './qemu.ts';
import { KVM_TIMEOUTS } from './timeouts.ts';
import type { Accel } from '../platform/arch/index.ts';
import { ARCHES, hostArchOrUndefined, type Arch, type ProbeRecipe } from '../platform/arch/index.ts';

export interface AccelVerdict {
  readonly accel: Accel;
  /** Why, in a few words ("kvm probe passed", "no /dev/kvm", "kvm probe timed out", ...). */
  readonly reason: string;
}

export interface ProbeOptions {
  /** Guest architecture; KVM needs the host's. Default: the host's. */
  readonly arch?: Arch;
  readonly env?: NodeJS.ProcessEnv;
  /** Where the verdict is cached (default cacheRoot()). */
  readonly cacheDir?: string;
  /** Ignore and do not write the cache. */
  readonly noCache?: boolean;
  readonly timeoutMs?: number;
  /** Device node to check (tests). */
  readonly kvmDevice?: string;
}

/** Bump when the probe changes: verdicts of an older probe are not trusted. */
export const PROBE_VERSION = 2;


/** KTEST_RIG_ACCEL=kvm|tcg, or undefined when unset; any other value is a UsageError. */
export function forcedAccel(env: NodeJS.ProcessEnv): Accel | undefined {
  return envChoice('KTEST_RIG_ACCEL', env);
}

/** Decide KVM or TCG for guests of `opts.arch`, with the reason. Throws only on a misspelt KTEST_RIG_ACCEL: any doubt means TCG. */
export async function probeAccel(opts: ProbeOptions = {}): Promise<AccelVerdict> {
  const env = opts.env ?? process.env;
  const forced = forcedAccel(env);
  if (forced) return { accel: forced, reason: `forced by KTEST_RIG_ACCEL=${forced}` };
  const host = hostArchOrUndefined();
  const arch = opts.arch ?? host;
  if (!host || arch !== host) return { accel: 'tcg', reason: `guest arch ${arch} is not the host's (${process.arch})` };
  const device = opts.kvmDevice ?? '/dev/kvm';
  if (!(await canAccess(device, constants.F_OK))) return { accel: 'tcg', reason: `no ${device}` };
  if (!(await canAccess(device, constants.R_OK | constants.W_OK))) {
    return { accel: 'tcg', reason: `no permission on ${device} (add the user to group kvm)` };
  }
  const cacheFile = join(opts.cacheDir ?? cacheRoot(env), `kvm-probe-v${PROBE_VERSION}-${arch}.json`);
  const bootId = await readBootId();
  if (!opts.noCache && bootId) {
    const cached = await readCache(cacheFile, bootId);
    if (cached) return cached;
  }
  const verdict = await runProbe(ARCHES[arch].kvmProbe, opts.timeoutMs ?? KVM_TIMEOUTS.kvmProbeMs);
  if (!opts.noCache && bootId) await writeCache(cacheFile, bootId, verdict);
  return verdict;
}

/** Boot the probe firmware under KVM; KVM works only if QEMU exits with the expected status in time. */
export async function runProbe(recipe: ProbeRecipe, timeoutMs: number): Promise<AccelVerdict> {
  const dir = await mkdtemp(join(tmpdir(), 'ktest-kvm-'));
  try {
    const firmware = join(dir, 'probe.bin');
    await writeFile(firmware, recipe.firmware());
    let qemu: QemuProcess;
    try {
      qemu = QemuProcess.start({ binary: recipe.binary, args: recipe.args(firmware) });
    } catch (error) {
      return { accel: 'tcg', reason: `cannot run the kvm probe: ${(error as Error).message}` };
    }
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    const outcome = await Promise.race([qemu.exited, timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      await qemu.kill(0);
      return { accel: 'tcg', reason: `kvm probe timed out after ${timeoutMs} ms` };
    }
    if (outcome.exitCode === recipe.expectedStatus) return { accel: 'kvm', reason: 'kvm probe passed' };
    const why = qemu.stderr().trim().split('\n').pop() || `exit ${outcome.exitCode ?? outcome.signal}`;
    return { accel: 'tcg', reason: `kvm probe failed: ${why}` };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function canAccess(path: string, mode: number): Promise<boolean> {
  try {
    await access(path, mode);
    return true;
  } catch {
    return false;
  }
}

async function readBootId(): Promise<string | undefined> {
  try {
    return (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
  } catch {
    return undefined;
  }
}

async function readCache(file: string, bootId: string): Promise<AccelVerdict | undefined> {
  try {
    const data = JSON.parse(await readFile(file, 'utf8'));
    if (data.bootId === bootId && (data.accel === 'kvm' || data.accel === 'tcg') && typeof data.reason === 'string') {
      return { accel: data.accel, reason: `${data.reason} (cached for this boot)` };
    }
  } catch {
    // no or bad cache: probe again
  }
  return undefined;
}

async function writeCache(file: string, bootId: string, verdict: AccelVerdict): Promise<void> {
  try {
    await mkdir(join(file, '..'), { recursive: true });
    await writeFile(file, `${JSON.stringify({ bootId, ...verdict })}\n`);
  } catch {
    // a read-only cache only costs a probe next time
  }
}

// Is KVM usable? Proven by running a tiny firmware under -accel kvm, not by /dev/kvm existing; cached per host boot.
import { constants } from 'node:fs';
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cacheRoot } from '../core/paths.ts';
import { envChoice } from '../core/env.ts';
import { QemuProcess } from '../vm/qemu.ts';
import { KVM_TIMEOUTS } from '../vm/timeouts.ts';
import type { Accel, Arch } from '../core/types.ts';

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

/** How the probe runs on each host architecture: firmware bytes, QEMU argv, the exit status that proves it ran. */
export interface ProbeRecipe {
  readonly binary: string;
  readonly args: (firmware: string) => string[];
  readonly firmware: () => Buffer;
  readonly expectedStatus: number;
}

/** Status QEMU exits with when the x86 firmware writes 0x42 to isa-debug-exit: (0x42 << 1) | 1. */
export const X86_PROBE_STATUS = (0x42 << 1) | 1;

/**
 * The x86 probe's code, loaded at 0xf0000 (GNU as, linked at 0, objcopy'd): from the reset vector it
 * goes real mode -> protected mode (lgdt, CR0.PE) -> long mode (identity-mapped 2 MiB page at
 * 0x1000..0x3000, CR4.PAE, EFER.LME, CR0.PG), like a kernel's entry path, then `mov al,0x42;
 * out 0xf4,al; hlt`. A plain out at the reset vector is not enough: on some nested KVMs (kvm-pvm)
 * real-mode code runs while any paging guest hangs, and so would SeaBIOS and the kernel.
 */
const X86_PROBE_CODE =
  'fa31c08ed866bbb0000f0089de66c1eb0481e300f08edb83e6ff660f01140f20c06683c8010f22c066ea30000f000800' +
  '66b818008ed88ec08ed0c7050010000003200000c7050020000003300000c7050030000083000000b8001000000f22d8' +
  '0f20e083c8200f22e0b9800000c00f320d000100000f300f20c00d000000800f22c0ea89000f001000b042e6f4f4ebfd' +
  '0000000000000000ffff0000009acf00ffff0000009aaf00ffff00000092cf001f0090000f00';
/** At 0xffff0 (the reset vector's low alias): ljmp 0xf000:0. */
const X86_RESET_JUMP = 'ea0000' + '00f0';

/** The 64 KiB x86 BIOS image of the probe. */
export function x86ProbeFirmware(): Buffer {
  const image = Buffer.alloc(64 * 1024);
  Buffer.from(X86_PROBE_CODE, 'hex').copy(image, 0);
  Buffer.from(X86_RESET_JUMP, 'hex').copy(image, image.length - 16);
  return image;
}

/**
 * arm64 flash image at address 0: PSCI SYSTEM_OFF (0x84000008) through hvc; KVM implements PSCI, so
 * QEMU powers off and exits 0. Without KVM's PSCI the hvc traps and nothing exits: timed out.
 */
export function arm64ProbeFirmware(): Buffer {
  const image = Buffer.alloc(64 * 1024);
  const code = [0xd2800100 /* movz x0,#0x8 */, 0xf2b08000 /* movk x0,#0x8400,lsl#16 */, 0xd4000002 /* hvc #0 */, 0x14000000 /* b . */];
  code.forEach((insn, i) => image.writeUInt32LE(insn, i * 4));
  return image;
}

export const PROBE_RECIPES: Readonly<Record<Arch, ProbeRecipe>> = Object.freeze({
  x86_64: {
    binary: 'qemu-system-x86_64',
    args: (fw: string) => [
      '-M', 'pc', '-accel', 'kvm', '-nodefaults', '-no-user-config', '-display', 'none', '-m', '16',
      '-bios', fw, '-device', 'isa-debug-exit,iobase=0xf4,iosize=1',
    ],
    firmware: x86ProbeFirmware,
    expectedStatus: X86_PROBE_STATUS,
  },
  arm64: {
    binary: 'qemu-system-aarch64',
    args: (fw: string) => [
      '-M', 'virt', '-accel', 'kvm', '-cpu', 'host', '-nodefaults', '-no-user-config', '-display', 'none', '-m', '64',
      '-bios', fw,
    ],
    firmware: arm64ProbeFirmware,
    expectedStatus: 0,
  },
});

/** Bump when the probe changes: verdicts of an older probe are not trusted. */
export const PROBE_VERSION = 2;

export function hostArch(arch: string = process.arch): Arch | undefined {
  return arch === 'x64' ? 'x86_64' : arch === 'arm64' ? 'arm64' : undefined;
}

/** KTEST_RIG_ACCEL=kvm|tcg, or undefined when unset; any other value is a UsageError. */
export function forcedAccel(env: NodeJS.ProcessEnv): Accel | undefined {
  return envChoice('KTEST_RIG_ACCEL', env);
}

/** Decide KVM or TCG for guests of `opts.arch`, with the reason. Throws only on a misspelt KTEST_RIG_ACCEL: any doubt means TCG. */
export async function probeAccel(opts: ProbeOptions = {}): Promise<AccelVerdict> {
  const env = opts.env ?? process.env;
  const forced = forcedAccel(env);
  if (forced) return { accel: forced, reason: `forced by KTEST_RIG_ACCEL=${forced}` };
  const host = hostArch();
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
  const verdict = await runProbe(PROBE_RECIPES[arch], opts.timeoutMs ?? KVM_TIMEOUTS.kvmProbeMs);
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

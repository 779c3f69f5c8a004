// One image's guest, ready to start: the artifacts built, the accelerator chosen, the guest's options (kernel
// command line, vCPUs, memory), and the ready-guest snapshot that run, exec and the benchmarks restore from.
import { Guest, type GuestOptions } from '../vm/guest.ts';
import { probeAccel } from '../vm/kvm.ts';
import { guestCmdline, LEAK_BASELINE_SCRIPT } from '../vm/guest-setup.ts';
import { ensureSnapshot, type CachedSnapshot } from '../vm/snapshot-cache.ts';
import { prepareArtifacts, type ArtifactOptions, type Artifacts } from '../build/artifacts.ts';
import { cacheRoot } from '../core/paths.ts';
import type { EventSink } from '../core/events.ts';
import type { Accel } from '../platform/arch/index.ts';
import type { ImageSpec } from '../kernels/spec.ts';
import { verifiedBoot } from './verified-boot.ts';

export interface GuestSettings {
  readonly image: ImageSpec;
  /** Memory-error detection in the guest (slub_debug, KFENCE, slab validation, the leak baseline). */
  readonly debug: boolean;
  /** Temporary directory for sockets and files of the guest. */
  readonly workDir: string;
  /** Guest vCPUs and memory (default: 1, the image's memoryMb); part of the snapshot key. */
  readonly cpus?: number;
  readonly memoryMb?: number;
}

/** The options of every guest of an image: its kernel and initramfs, QEMU settings, the rig's kernel command line. Pure. */
export function guestOptionsFor(o: GuestSettings, art: Artifacts, accel: Accel): GuestOptions {
  return {
    ...(o.cpus !== undefined && { cpus: o.cpus }),
    ...(o.memoryMb !== undefined && { memoryMb: o.memoryMb }),
    kernelPath: art.kernel.kernelPath,
    initrdPath: art.initrdPath,
    qemu: o.image.qemu,
    accel,
    appendExtra: guestCmdline(o.debug),
    workDir: o.workDir,
  };
}

export interface PreparedGuest {
  readonly art: Artifacts;
  readonly accel: Accel;
  /** Why this accelerator ('forced' when the caller chose it). */
  readonly reason: string;
  readonly options: GuestOptions;
}

/** Build what a guest of the image needs and choose its accelerator (the caller's, else the KVM probe's). */
export async function prepareGuest(o: ArtifactOptions & GuestSettings & { readonly accel?: Accel }): Promise<PreparedGuest> {
  const art = await prepareArtifacts(o);
  const { accel, reason } = o.accel ? { accel: o.accel, reason: 'forced' } : await probeAccel();
  return { art, accel, reason, options: guestOptionsFor(o, art, accel) };
}

/**
 * The ready-guest snapshot of these options from the cache (booted once, kept across runs and commands;
 * see rig/vm/snapshot-cache.ts). A boot that fails has the kernel tree checked first (verified-boot.ts).
 * With debugging on, the boot's own kmemleak objects are cleared before the save, so no scenario or
 * command inherits them.
 */
export function readySnapshot(o: { readonly image: ImageSpec; readonly debug: boolean; readonly cacheDir?: string; readonly onEvent: EventSink }, options: GuestOptions): Promise<CachedSnapshot> {
  return ensureSnapshot({
    image: o.image.id,
    options,
    cacheDir: o.cacheDir ?? cacheRoot(),
    onEvent: o.onEvent,
    boot: () => verifiedBoot(o, () => Guest.boot(options)),
    ...(o.debug && { prepare: async (g: Guest) => void (await g.exec(['sh', '-c', LEAK_BASELINE_SCRIPT], { timeoutMs: 60_000 })), prepareId: LEAK_BASELINE_SCRIPT }),
  });
}

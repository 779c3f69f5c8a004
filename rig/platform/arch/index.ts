// The architectures the rig knows: one record per file beside this one. A new architecture is a new file plus a line here.
import { InfraError, UsageError } from '../../core/errors.ts';
import { arm64 } from './arm64.ts';
import { x86_64 } from './x86_64.ts';
import type { ArchSpec } from './spec.ts';

export type { ArchSpec, ArchQemuDefaults, ProbeRecipe } from './spec.ts';

/** Every architecture record, by name. */
export const ARCHES = Object.freeze({ x86_64, arm64 } satisfies Record<string, ArchSpec>);

/** A guest architecture the rig supports ('x86_64' | 'arm64'): the keys of ARCHES. */
export type Arch = keyof typeof ARCHES;

/** How a guest CPU runs: KVM (a probe says it works, rig/vm/kvm.ts) or TCG emulation. */
export type Accel = 'kvm' | 'tcg';

export const ARCH_NAMES: readonly Arch[] = Object.freeze(Object.keys(ARCHES) as Arch[]);

export function isArch(name: string): name is Arch {
  return Object.hasOwn(ARCHES, name);
}

/** The record of `arch`. */
export function archSpec(arch: Arch): ArchSpec {
  return ARCHES[arch];
}

/** An arch by name (images/*.json, command line); an unknown name is a usage error listing the known ones. */
export function archNamed(name: string): ArchSpec {
  if (!isArch(name)) throw new UsageError(`unknown architecture '${name}'`, { hint: `use one of ${ARCH_NAMES.join(', ')} (rig/platform/arch/)` });
  return ARCHES[name];
}

/** The arch of this host, from Node's process.arch; undefined on a CPU the rig has no record for. The one mapping. */
export function hostArchOrUndefined(nodeArch: string = process.arch): Arch | undefined {
  return ARCH_NAMES.find((a) => ARCHES[a].nodeArch === nodeArch);
}

/** The arch of this host; an InfraError on a CPU the rig has no record for. */
export function hostArch(nodeArch: string = process.arch): Arch {
  const arch = hostArchOrUndefined(nodeArch);
  if (!arch) throw new InfraError(`unsupported host CPU ${nodeArch}`, { hint: `ktest-rig runs on ${ARCH_NAMES.join(' and ')} hosts` });
  return arch;
}

/** The arch whose binaries have ELF e_machine `machine`. */
export function archOfElfMachine(machine: number): Arch | undefined {
  return ARCH_NAMES.find((a) => ARCHES[a].elfMachine === machine);
}

/** Cross-compiler prefix for `arch` on this host ('' when native), e.g. aarch64-linux-gnu-. Pure. */
export function crossPrefix(arch: Arch, host: Arch = hostArch()): string {
  return arch === host ? '' : `${ARCHES[arch].triplet}-`;
}

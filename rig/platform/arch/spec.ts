// What one architecture record holds (kunit_tool's qemu_configs/<arch>.py is the model): every arch-specific fact.
import type { ToolRow } from '../tool-row.ts';

/** How to tell in a few seconds whether KVM works for guests of an arch: a tiny firmware that must exit QEMU. */
export interface ProbeRecipe {
  readonly binary: string;
  readonly args: (firmwarePath: string) => string[];
  readonly firmware: () => Buffer;
  /** QEMU's exit status when the firmware ran under KVM. */
  readonly expectedStatus: number;
}

/** QEMU settings every image of the arch shares (an image may override them in its JSON). */
export interface ArchQemuDefaults {
  readonly binary: string;
  readonly machine: string;
  /** CPU model under TCG (KVM uses -cpu host). */
  readonly cpu: string;
  /** Kernel console device in the guest. */
  readonly console: string;
  /** The agent's channel: a second UART, or a virtio console when the machine has one UART only. */
  readonly commandChannel: 'serial' | 'virtconsole';
  /** Guest device of the command channel, passed as ktest.port=. */
  readonly commandPort: string;
  /** Kernel modules (paths under lib/modules/<release>/) the init loads before the agent. */
  readonly guestModules?: readonly string[];
  /** The fast files channel (rig/vm/files.ts), as QemuSpec.filesChannel. */
  readonly filesChannel?: 'virtio-serial-pci' | 'virtio-serial';
}

export interface ArchSpec {
  /** The rig's name of the arch, as images/*.json write it. */
  readonly name: string;
  /** Node's process.arch on a host of this arch. */
  readonly nodeArch: string;
  /** `uname -m` in a guest. */
  readonly unameMachine: string;
  /** Debian architecture name (.deb arch, apt's APT::Architecture). */
  readonly debArch: string;
  /** ELF e_machine of its binaries. */
  readonly elfMachine: number;
  /** GNU triplet; with a dash, the cross-compiler and cross-binutils prefix. */
  readonly triplet: string;
  /** kbuild's ARCH= (passed when cross-building). */
  readonly kbuildArch: string;
  /**
   * What QEMU boots: 'pvh-vmlinux' (the bzImage's payload decompressed into an ELF with a PVH note,
   * 3 s faster under TCG), or 'image' (an uncompressed Image, booted as shipped).
   */
  readonly kernelImage: 'pvh-vmlinux' | 'image';
  readonly qemu: ArchQemuDefaults;
  readonly kvmProbe: ProbeRecipe;
  /** The compiler of the static guest programs (nlclient, agent), before its flags. */
  readonly guestCc: string;
  /** Binutils prefix of addr2line for its objects ('' for the host's own binutils). */
  readonly binutilsPrefix: string;
  /**
   * The host's gdb for guests of this arch (`gdb` debugs the host's own arch; another arch needs
   * gdb-multiarch) and gdb's name of the architecture (`set architecture`).
   */
  readonly gdb: { readonly command: string; readonly architecture: string };
  /** Host tools needed for guests of this arch (rows of the host-tools table). */
  readonly hostTools: readonly ToolRow[];
}

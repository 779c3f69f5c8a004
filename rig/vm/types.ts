// The guest's contracts: how QEMU runs an image (part of the image's data), and a command's result in the guest.

/** Per-arch/per-image QEMU settings, as data. */
export interface QemuSpec {
  readonly binary: string;
  readonly machine: string;
  readonly cpu: string;
  /** Kernel console device name in the guest (ttyS0, ttyAMA0). */
  readonly console: string;
  /** Extra kernel command-line parameters. */
  readonly append?: readonly string[];
  readonly memoryMb?: number;
  /**
   * How the agent's command channel reaches the guest: a second UART (x86_64: ttyS1) or a
   * virtio console (arm64 virt has one PL011 only: hvc0, needs the virtio_console module).
   */
  readonly commandChannel: 'serial' | 'virtconsole';
  /** Guest device name of the command channel (ttyS1, hvc0), passed as ktest.port=. */
  readonly commandPort: string;
  /**
   * The fast files channel (rig/vm/files.ts): a virtio-serial port named ktest.files on a
   * virtio-serial-pci controller the rig adds (x86_64), or on the image's own virtio-serial bus
   * (arm64 virt, which already has one for hvc0). Absent: files go over the command channel (slow).
   */
  readonly filesChannel?: 'virtio-serial-pci' | 'virtio-serial';
  /** Kernel modules (paths under lib/modules/<release>/) the init loads, in order, before the agent. */
  readonly guestModules?: readonly string[];
  /** Extra QEMU arguments the image needs. */
  readonly extraArgs?: readonly string[];
}

/** Result of running a command in the guest. */
export interface ExecResult {
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly stdout: Buffer;
  readonly stderr: Buffer;
  readonly timedOut: boolean;
  readonly durationMs: number;
}

export interface ExecOptions {
  /** Kill the command after this long (default 10 s; TCG-scaled by the guest layer). */
  readonly timeoutMs?: number;
  readonly stdin?: Buffer;
}

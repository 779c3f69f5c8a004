// QEMU's argv and the guest kernel command line, built by small pure functions from QemuSpec data.
import type { Accel } from '../platform/arch/index.ts';
import type { QemuSpec } from './types.ts';

/** Where the kernel console (first serial port) goes: QEMU's stdout, or a file. */
export type ConsoleTarget = { readonly kind: 'stdio' } | { readonly kind: 'file'; readonly path: string };

/** Default guest memory when neither the caller nor the image says (small: faster boot and snapshots). */
export const DEFAULT_MEMORY_MB = 256;

/**
 * Kernel parameters that make a TCG boot faster without changing what a module sees. Measured on
 * 6.1 (QEMU CPU time to a running /init, interleaved runs): cryptomgr.notests (no crypto self-tests
 * at boot) saves about 0.55 s of 2.4 s. No measurable gain (so left out): mitigations=off, nokaslr,
 * no_timer_check, lpj=/tsc_early_khz=, i8042.no*, acpi=off, pci=off, initcall_blacklist of the
 * next-slowest initcalls, -m 128. rodata=off would skip the 0.15 s W+X page-table check but weakens
 * what the guest catches.
 */
export const FAST_BOOT_APPEND: readonly string[] = Object.freeze(['cryptomgr.notests']);

export function accelArgs(accel: Accel): string[] {
  return ['-accel', accel];
}

/** CPU model: the host's CPU under KVM, the image's model under TCG. */
export function cpuArgs(qemu: QemuSpec, accel: Accel): string[] {
  return ['-cpu', accel === 'kvm' ? 'host' : qemu.cpu];
}

/** Guest vCPUs when the caller does not say (--cpus). */
export const DEFAULT_CPUS = 1;

/** Machine, memory, vCPUs, and no default devices: only what the rig adds exists. */
export function machineArgs(qemu: QemuSpec, memoryMb: number = qemu.memoryMb ?? DEFAULT_MEMORY_MB, cpus: number = DEFAULT_CPUS): string[] {
  if (!Number.isInteger(memoryMb) || memoryMb <= 0) throw new TypeError(`memoryMb must be a positive integer, got ${memoryMb}`);
  if (!Number.isInteger(cpus) || cpus <= 0) throw new TypeError(`cpus must be a positive integer, got ${cpus}`);
  return [
    '-M', qemu.machine,
    '-m', String(memoryMb),
    '-smp', String(cpus),
    '-nodefaults',
    '-no-user-config',
    '-display', 'none',
    '-no-reboot',
  ];
}

export function kernelArgs(kernelPath: string, initrdPath: string, cmdline: string): string[] {
  return ['-kernel', kernelPath, '-initrd', initrdPath, '-append', cmdline];
}

/** A chardev backend for the console: stdio (signal=off: ^C never reaches the guest) or a file. */
export function consoleChardev(console: ConsoleTarget): string {
  return console.kind === 'stdio' ? 'stdio,id=con,signal=off' : `file,id=con,path=${qemuOptValue(console.path)}`;
}

/**
 * The kernel console on the first UART, and the agent's command channel on a unix socket: a second
 * UART, or a virtio console (then a virtio-serial bus is added unless the image's extraArgs has one).
 */
export function serialArgs(console: ConsoleTarget, commandSocket: string, qemu: QemuSpec): string[] {
  const args = ['-chardev', consoleChardev(console), '-serial', 'chardev:con'];
  args.push('-chardev', `socket,id=cmd,path=${qemuOptValue(commandSocket)},server=on,wait=off`);
  if (qemu.commandChannel === 'serial') {
    args.push('-serial', 'chardev:cmd');
  } else {
    const hasBus = (qemu.extraArgs ?? []).some((arg) => arg.startsWith('virtio-serial'));
    if (!hasBus) args.push('-device', 'virtio-serial-device');
    args.push('-device', 'virtconsole,chardev=cmd');
  }
  return args;
}

/** Name of the files channel's virtio port (guest/recv.c looks it up in /sys/class/virtio-ports). */
export const FILES_PORT_NAME = 'ktest.files';
/**
 * Name of the results channel's virtio port: the agent opens it at boot (ktest.out= on the kernel
 * command line), holds it, and sends every frame to the host there; the host reads frames only there.
 */
export const RESULTS_PORT_NAME = 'ktest.out';

/**
 * The files channel, and the results channel beside it: virtio-serial ports on unix sockets. x86_64
 * gets its own virtio-serial-pci controller; images whose command channel is a virtio console reuse
 * that bus. None without filesChannel.
 */
export function filesArgs(qemu: QemuSpec, filesSocket: string | undefined, resultsSocket?: string): string[] {
  if (!qemu.filesChannel || filesSocket === undefined) return [];
  const bus = qemu.filesChannel === 'virtio-serial-pci' ? 'bus=kfiles.0,' : '';
  const args = ['-chardev', `socket,id=files,path=${qemuOptValue(filesSocket)},server=on,wait=off`];
  if (qemu.filesChannel === 'virtio-serial-pci') args.push('-device', 'virtio-serial-pci,id=kfiles');
  args.push('-device', `virtserialport,${bus}chardev=files,name=${FILES_PORT_NAME}`);
  if (resultsSocket !== undefined) {
    args.push('-chardev', `socket,id=results,path=${qemuOptValue(resultsSocket)},server=on,wait=off`, '-device', `virtserialport,${bus}chardev=results,name=${RESULTS_PORT_NAME}`);
  }
  return args;
}

/** QMP on a unix socket the rig connects to (QEMU listens, does not wait). */
export function qmpArgs(socket: string): string[] {
  return ['-qmp', `unix:${qemuOptValue(socket)},server=on,wait=off`];
}

/**
 * QEMU's gdb stub on a unix socket (never a TCP port: anyone on the host or network could attach): QEMU
 * listens, does not wait, and gdb attaches with `target remote PATH`. The stub is no device, so a guest
 * restored from a snapshot saved without it gets it too.
 */
export function gdbArgs(socket: string): string[] {
  return ['-chardev', `socket,id=gdb,path=${qemuOptValue(socket)},server=on,wait=off`, '-gdb', 'chardev:gdb'];
}

/** Start from a saved snapshot: QEMU reads the migration stream from `cat FILE` and stays stopped. */
export function snapshotArgs(incomingFile: string): string[] {
  return ['-incoming', `exec:cat ${shellQuote(incomingFile)}`];
}

/** The QMP `migrate` URI that saves a snapshot to a file (QEMU 7.2 has no file: URI). */
export function migrateToFileUri(file: string): string {
  return `exec:cat > ${shellQuote(file)}`;
}

export interface CmdlineOptions {
  readonly qemu: QemuSpec;
  /** printk console level: 5 shows warnings (WARN_ON, KASAN) but not the boot chatter. Default 5. */
  readonly loglevel?: number;
  /** Skip the boot-speed parameters (FAST_BOOT_APPEND). */
  readonly noFastBoot?: boolean;
  /** Debug knobs from the caller (kasan options, dyndbg=..., etc.), last so they win. */
  readonly extra?: readonly string[];
}

/**
 * The kernel command line: console from the image, the agent's port (and its results port, with a
 * virtio-serial bus), panic=-1 (with -no-reboot a
 * panic ends QEMU at once), quiet boot, the image's extras, then the caller's.
 */
export function kernelCmdline(opts: CmdlineOptions): string {
  const loglevel = opts.loglevel ?? 5;
  const params = [
    `console=${opts.qemu.console}`,
    `ktest.port=${opts.qemu.commandPort}`,
    ...(opts.qemu.filesChannel ? [`ktest.out=${RESULTS_PORT_NAME}`] : []),
    'panic=-1',
    'quiet',
    `loglevel=${loglevel}`,
    ...(opts.noFastBoot ? [] : FAST_BOOT_APPEND),
    ...(opts.qemu.append ?? []),
    ...(opts.extra ?? []),
  ];
  for (const p of params) {
    if (/[\s\0]/.test(p)) throw new TypeError(`kernel parameter must not contain whitespace: ${JSON.stringify(p)}`);
  }
  return params.join(' ');
}

export interface QemuArgvOptions {
  readonly qemu: QemuSpec;
  readonly accel: Accel;
  readonly kernelPath: string;
  readonly initrdPath: string;
  readonly cmdline: string;
  readonly commandSocket: string;
  readonly qmpSocket: string;
  /** The files channel's socket (images with filesChannel). */
  readonly filesSocket?: string;
  /** The results channel's socket (images with filesChannel): the agent's frames to the host. */
  readonly resultsSocket?: string;
  readonly console?: ConsoleTarget;
  readonly memoryMb?: number;
  readonly cpus?: number;
  /** Restore from this snapshot file instead of booting. */
  readonly incomingFile?: string;
  /** Serve QEMU's gdb stub on this unix socket. */
  readonly gdbSocket?: string;
}

/** The whole QEMU command. Boot and restore differ only in -incoming (and socket paths). */
export function qemuArgv(opts: QemuArgvOptions): { binary: string; args: string[] } {
  const args = [
    ...machineArgs(opts.qemu, opts.memoryMb, opts.cpus),
    ...accelArgs(opts.accel),
    ...cpuArgs(opts.qemu, opts.accel),
    ...kernelArgs(opts.kernelPath, opts.initrdPath, opts.cmdline),
    // Before the serial devices: a bus given here (virtio-serial-pci) must exist before its console.
    ...(opts.qemu.extraArgs ?? []),
    ...serialArgs(opts.console ?? { kind: 'stdio' }, opts.commandSocket, opts.qemu),
    ...filesArgs(opts.qemu, opts.filesSocket, opts.resultsSocket),
    ...qmpArgs(opts.qmpSocket),
    ...(opts.gdbSocket === undefined ? [] : gdbArgs(opts.gdbSocket)),
    ...(opts.incomingFile === undefined ? [] : snapshotArgs(opts.incomingFile)),
  ];
  return { binary: opts.qemu.binary, args };
}

/** QEMU option values escape a comma by doubling it. */
export function qemuOptValue(value: string): string {
  return value.replaceAll(',', ',,');
}

/** Quote for /bin/sh (QEMU's exec: migration runs `sh -c`). */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

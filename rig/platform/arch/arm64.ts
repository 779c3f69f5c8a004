// arm64 guests: everything arch-specific in one record (QEMU virt, kernel image, cross toolchain, KVM probe, host tools).
import { cmd, gnuVersion, qemuVersion } from '../tool-row.ts';
import type { ArchSpec } from './spec.ts';

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

export const arm64 = Object.freeze({
  name: 'arm64',
  nodeArch: 'arm64',
  unameMachine: 'aarch64',
  debArch: 'arm64',
  elfMachine: 183,
  triplet: 'aarch64-linux-gnu',
  kbuildArch: 'arm64',
  kernelImage: 'image',
  // virt has one PL011 (the console): the agent talks over a virtio console, whose drivers are modules.
  qemu: {
    binary: 'qemu-system-aarch64',
    machine: 'virt',
    cpu: 'cortex-a57',
    console: 'ttyAMA0',
    commandChannel: 'virtconsole',
    commandPort: 'hvc0',
    // the files port (rig/vm/files.ts) sits on the same virtio-serial bus as hvc0
    filesChannel: 'virtio-serial',
    guestModules: ['kernel/drivers/virtio/virtio_mmio.ko', 'kernel/drivers/char/virtio_console.ko'],
  },
  kvmProbe: {
    binary: 'qemu-system-aarch64',
    args: (fw: string) => [
      '-M', 'virt', '-accel', 'kvm', '-cpu', 'host', '-nodefaults', '-no-user-config', '-display', 'none', '-m', '64',
      '-bios', fw,
    ],
    firmware: arm64ProbeFirmware,
    expectedStatus: 0,
  },
  guestCc: 'aarch64-linux-gnu-gcc',
  binutilsPrefix: 'aarch64-linux-gnu-',
  // on an x86_64 host; on an arm64 host plain gdb would do, and gdb-multiarch does too
  gdb: { command: 'gdb-multiarch', architecture: 'aarch64' },
  hostTools: [
    { name: 'qemu-system-aarch64', package: 'qemu-system-arm', purpose: 'boot arm64 guests', probe: cmd('qemu-system-aarch64', qemuVersion) },
    { name: 'aarch64-linux-gnu-gcc', package: 'gcc-aarch64-linux-gnu', purpose: 'cross-build arm64 modules and the client', probe: cmd('aarch64-linux-gnu-gcc', gnuVersion) },
    { name: 'aarch64-linux-gnu-addr2line', package: 'binutils-aarch64-linux-gnu', purpose: 'symbolise arm64 module frames', probe: cmd('aarch64-linux-gnu-addr2line', gnuVersion) },
    { name: 'arm64 libc (static)', package: 'libc6-dev-arm64-cross', purpose: 'link the static arm64 client', probe: { kind: 'file', paths: ['/usr/aarch64-linux-gnu/lib/libc.a'] } },
  ],
} as const satisfies ArchSpec);

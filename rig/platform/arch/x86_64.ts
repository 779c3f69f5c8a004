// x86_64 guests: everything arch-specific in one record (QEMU, kernel image, toolchain, KVM probe, host tools).
import { cmd, qemuVersion } from '../tool-row.ts';
import type { ArchSpec } from './spec.ts';

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

export const x86_64 = Object.freeze({
  name: 'x86_64',
  nodeArch: 'x64',
  unameMachine: 'x86_64',
  debArch: 'amd64',
  elfMachine: 62,
  triplet: 'x86_64-linux-gnu',
  kbuildArch: 'x86',
  kernelImage: 'pvh-vmlinux',
  // filesChannel: rig/vm/files.ts; 5.10 and 6.1 load the virtio-pci modules it needs (their images' guestModules).
  qemu: { binary: 'qemu-system-x86_64', machine: 'pc', cpu: 'max', console: 'ttyS0', commandChannel: 'serial', commandPort: 'ttyS1', filesChannel: 'virtio-serial-pci' },
  kvmProbe: {
    binary: 'qemu-system-x86_64',
    args: (fw: string) => [
      '-M', 'pc', '-accel', 'kvm', '-nodefaults', '-no-user-config', '-display', 'none', '-m', '16',
      '-bios', fw, '-device', 'isa-debug-exit,iobase=0xf4,iosize=1',
    ],
    firmware: x86ProbeFirmware,
    expectedStatus: X86_PROBE_STATUS,
  },
  guestCc: 'musl-gcc',
  binutilsPrefix: '',
  gdb: { command: 'gdb', architecture: 'i386:x86-64' },
  hostTools: [
    { name: 'qemu-system-x86_64', package: 'qemu-system-x86', purpose: 'boot x86_64 guests', probe: cmd('qemu-system-x86_64', qemuVersion) },
    { name: 'musl-gcc', package: 'musl-tools', purpose: 'build the static guest client', probe: cmd('musl-gcc') },
    { name: 'linux uapi headers', package: 'linux-libc-dev', purpose: 'netlink headers for the static client', probe: { kind: 'file', paths: ['/usr/include/linux/netlink.h'] } },
    { name: 'busybox', package: 'busybox-static', purpose: 'the initramfs shell (must be static)', probe: cmd('busybox', { args: ['--help'], pattern: /BusyBox\s+v(\S+)/ }, { static: true }) },
  ],
} as const satisfies ArchSpec);

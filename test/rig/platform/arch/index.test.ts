// Unit tests for the architecture records: the one host mapping, the registry, and that each record is complete.
import t from 'tap';
import { ARCHES, ARCH_NAMES, archNamed, archOfElfMachine, crossPrefix, hostArch, hostArchOrUndefined, isArch } from '../../../../rig/platform/arch/index.ts';
import { x86ProbeFirmware } from '../../../../rig/platform/arch/x86_64.ts';
import { arm64ProbeFirmware } from '../../../../rig/platform/arch/arm64.ts';
import { InfraError, UsageError } from '../../../../rig/core/errors.ts';

t.test('one host mapping', async (t) => {
  t.equal(hostArch('x64'), 'x86_64');
  t.equal(hostArch('arm64'), 'arm64');
  t.throws(() => hostArch('riscv64'), InfraError);
  t.equal(hostArchOrUndefined('ia32'), undefined);
  t.equal(crossPrefix('arm64', 'x86_64'), 'aarch64-linux-gnu-');
  t.equal(crossPrefix('x86_64', 'x86_64'), '');
  t.equal(crossPrefix('x86_64', 'arm64'), 'x86_64-linux-gnu-');
});

t.test('registry: names are keys, lookups by name and e_machine', async (t) => {
  t.strictSame([...ARCH_NAMES], ['x86_64', 'arm64']);
  for (const a of ARCH_NAMES) {
    t.equal(ARCHES[a].name, a, `${a}: the record's name is its key`);
    t.equal(archOfElfMachine(ARCHES[a].elfMachine), a);
    t.ok(isArch(a));
  }
  t.notOk(isArch('toString'), 'no inherited names');
  t.throws(() => archNamed('riscv64'), { name: 'UsageError', message: /unknown architecture 'riscv64'/ });
  t.throws(() => archNamed('riscv64'), UsageError);
  t.equal(ARCHES.x86_64.debArch, 'amd64');
  t.equal(ARCHES.arm64.debArch, 'arm64');
  t.equal(ARCHES.arm64.unameMachine, 'aarch64');
});

t.test('each record is complete and its facts agree with each other', async (t) => {
  for (const a of ARCH_NAMES) {
    const r = ARCHES[a];
    t.equal(r.kvmProbe.binary, r.qemu.binary, `${a}: the probe runs the arch's QEMU`);
    t.ok(r.hostTools.some((row) => row.probe.kind === 'command' && row.probe.command === r.qemu.binary), `${a}: its QEMU is a host-tools row`);
    t.ok(r.kvmProbe.args('/fw').includes('kvm'), `${a}: the probe asks for KVM`);
    t.equal(r.kvmProbe.firmware().length, 64 * 1024);
  }
});

t.test('x86 firmware: 64 KiB, far jump at the reset vector, long-mode code then out 0xf4', async (t) => {
  const fw = x86ProbeFirmware();
  t.equal(fw.length, 64 * 1024);
  t.same([...fw.subarray(0xfff0, 0xfff5)], [0xea, 0x00, 0x00, 0x00, 0xf0], 'ljmp f000:0000');
  t.equal(fw[0], 0xfa, 'starts with cli');
  t.ok(fw.includes(Buffer.from([0x0f, 0x01, 0x14])), 'lgdt [si]');
  t.ok(fw.includes(Buffer.from([0x0f, 0x30])), 'wrmsr (EFER.LME)');
  t.ok(fw.includes(Buffer.from([0xb0, 0x42, 0xe6, 0xf4])), 'mov al,0x42; out 0xf4,al');
  t.ok(fw.includes(Buffer.from('ffff0000009aaf00', 'hex')), 'a 64-bit code segment in the GDT');
});

t.test('arm64 firmware: PSCI SYSTEM_OFF through hvc', async (t) => {
  const fw = arm64ProbeFirmware();
  t.equal(fw.readUInt32LE(0), 0xd2800100);
  t.equal(fw.readUInt32LE(8), 0xd4000002);
  t.equal(ARCHES.arm64.kvmProbe.expectedStatus, 0);
  t.ok(ARCHES.arm64.kvmProbe.args('/f').includes('host'));
  t.equal(ARCHES.x86_64.kvmProbe.expectedStatus, 0x85);
  t.ok(ARCHES.x86_64.kvmProbe.args('/f').includes('isa-debug-exit,iobase=0xf4,iosize=1'));
});

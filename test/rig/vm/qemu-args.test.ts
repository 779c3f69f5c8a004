import t from 'tap';
import {
  accelArgs,
  cpuArgs,
  filesArgs,
  FILES_PORT_NAME,
  gdbArgs,
  RESULTS_PORT_NAME,
  kernelArgs,
  kernelCmdline,
  machineArgs,
  migrateToFileUri,
  qemuArgv,
  qmpArgs,
  serialArgs,
  shellQuote,
  snapshotArgs,
  FAST_BOOT_APPEND,
} from '../../../rig/vm/qemu-args.ts';
import type { QemuSpec } from '../../../rig/vm/types.ts';

const x86: QemuSpec = {
  binary: 'qemu-system-x86_64',
  machine: 'pc',
  cpu: 'max',
  console: 'ttyS0',
  append: ['foo=1'],
  memoryMb: 192,
  commandChannel: 'serial',
  commandPort: 'ttyS1',
};
const arm: QemuSpec = {
  binary: 'qemu-system-aarch64',
  machine: 'virt',
  cpu: 'cortex-a57',
  console: 'ttyAMA0',
  commandChannel: 'virtconsole',
  commandPort: 'hvc0',
};

/** The value following `flag` in argv (first occurrence). */
function after(args: readonly string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i < 0 ? undefined : args[i + 1];
}

t.test('accelArgs and cpuArgs', async (t) => {
  t.same(accelArgs('kvm'), ['-accel', 'kvm']);
  t.same(accelArgs('tcg'), ['-accel', 'tcg']);
  t.same(cpuArgs(x86, 'tcg'), ['-cpu', 'max']);
  t.same(cpuArgs(arm, 'tcg'), ['-cpu', 'cortex-a57']);
  t.same(cpuArgs(x86, 'kvm'), ['-cpu', 'host']);
});

t.test('machineArgs: machine, memory from caller, image or default, no default devices', async (t) => {
  const args = machineArgs(x86);
  t.equal(after(args, '-M'), 'pc');
  t.equal(after(args, '-m'), '192');
  t.equal(after(machineArgs(arm), '-m'), '256');
  t.equal(after(machineArgs(x86, 128), '-m'), '128');
  for (const flag of ['-nodefaults', '-no-user-config', '-no-reboot']) t.ok(args.includes(flag), flag);
  t.equal(after(args, '-display'), 'none');
  t.throws(() => machineArgs(x86, 0), TypeError);
  t.throws(() => machineArgs(x86, 1.5), TypeError);
});

t.test('kernelArgs', async (t) => {
  t.same(kernelArgs('/k', '/i', 'a b'), ['-kernel', '/k', '-initrd', '/i', '-append', 'a b']);
});

t.test('serialArgs: console first, command channel second UART on x86', async (t) => {
  const args = serialArgs({ kind: 'stdio' }, '/tmp/x/cmd.sock', x86);
  const serials = args.flatMap((a, i) => (a === '-serial' ? [args[i + 1]] : []));
  t.same(serials, ['chardev:con', 'chardev:cmd'], 'ttyS0 = console, ttyS1 = command port');
  t.ok(args.includes('stdio,id=con,signal=off'));
  t.ok(args.includes('socket,id=cmd,path=/tmp/x/cmd.sock,server=on,wait=off'));
  t.notOk(args.some((a) => a.startsWith('virtconsole')));
});

t.test('serialArgs: virtio console on arm64, bus added unless the image has one', async (t) => {
  const args = serialArgs({ kind: 'file', path: '/l/con,1.log' }, '/s', arm);
  t.same(args.filter((a, i) => args[i - 1] === '-serial'), ['chardev:con'], 'one UART: the console');
  t.ok(args.includes('file,id=con,path=/l/con,,1.log'), 'commas in paths are doubled');
  t.ok(args.includes('virtio-serial-device'));
  t.ok(args.includes('virtconsole,chardev=cmd'));
  const own = serialArgs({ kind: 'stdio' }, '/s', { ...arm, extraArgs: ['-device', 'virtio-serial-pci'] });
  t.notOk(own.includes('virtio-serial-device'), 'the image brought its own bus');
});

t.test('qmpArgs, snapshotArgs and the migrate URI quote paths', async (t) => {
  t.same(qmpArgs('/a/q.sock'), ['-qmp', 'unix:/a/q.sock,server=on,wait=off']);
  t.same(snapshotArgs('/a/b c.snap'), ['-incoming', "exec:cat '/a/b c.snap'"]);
  t.equal(migrateToFileUri("/it's"), `exec:cat > '/it'\\''s'`);
  t.equal(shellQuote(''), "''");
});

t.test('kernelCmdline: console, port, panic, quiet, extras in order', async (t) => {
  const line = kernelCmdline({ qemu: x86, extra: ['dyndbg=+p'] });
  const params = line.split(' ');
  t.equal(params[0], 'console=ttyS0');
  t.ok(params.includes('ktest.port=ttyS1'));
  t.ok(params.includes('panic=-1'));
  t.ok(params.includes('quiet'));
  t.ok(params.includes('loglevel=5'));
  for (const p of FAST_BOOT_APPEND) t.ok(params.includes(p), p);
  t.ok(params.indexOf('foo=1') < params.indexOf('dyndbg=+p'), 'caller extras come after the image append');
  t.equal(params.at(-1), 'dyndbg=+p');
  const arml = kernelCmdline({ qemu: arm, loglevel: 7, noFastBoot: true });
  t.match(arml, /^console=ttyAMA0 ktest\.port=hvc0 /);
  t.ok(arml.includes('loglevel=7'));
  t.notOk(arml.includes(FAST_BOOT_APPEND[0]!));
  t.throws(() => kernelCmdline({ qemu: x86, extra: ['a b'] }), TypeError);
});

t.test('qemuArgv: boot and restore differ only in -incoming and socket paths', async (t) => {
  const base = {
    qemu: x86,
    accel: 'tcg' as const,
    kernelPath: '/k/vmlinux',
    initrdPath: '/k/initrd',
    cmdline: 'console=ttyS0',
  };
  const boot = qemuArgv({ ...base, commandSocket: '/a/cmd.sock', qmpSocket: '/a/qmp.sock' });
  const restore = qemuArgv({ ...base, commandSocket: '/b/cmd.sock', qmpSocket: '/b/qmp.sock', incomingFile: '/s/snap' });
  t.equal(boot.binary, 'qemu-system-x86_64');
  t.notOk(boot.args.includes('-incoming'));
  t.same(restore.args.slice(-2), ['-incoming', "exec:cat '/s/snap'"]);
  const normalise = (args: string[]) => args.map((a) => a.replace(/\/[ab]\//, '/X/'));
  t.same(normalise(restore.args.slice(0, -2)), normalise(boot.args));
  const arm2 = { ...arm, extraArgs: ['-device', 'virtio-serial-pci'] };
  const withBus = qemuArgv({ ...base, qemu: arm2, commandSocket: '/c', qmpSocket: '/q' }).args;
  t.ok(withBus.indexOf('virtio-serial-pci') >= 0, 'the image extras are passed');
  t.ok(withBus.indexOf('virtio-serial-pci') < withBus.indexOf('virtconsole,chardev=cmd'), 'a bus from the image comes before its console');
  t.notOk(withBus.includes('virtio-serial-device'));
});

t.test('filesArgs: a virtio-serial port named ktest.files, on its own PCI controller or the image bus', async (t) => {
  t.same(filesArgs(x86, '/s/files.sock'), [], 'no filesChannel: nothing');
  t.same(filesArgs({ ...x86, filesChannel: 'virtio-serial-pci' }, undefined), [], 'no socket: nothing');
  t.same(filesArgs({ ...x86, filesChannel: 'virtio-serial-pci' }, '/s,x/files.sock'), [
    '-chardev', 'socket,id=files,path=/s,,x/files.sock,server=on,wait=off',
    '-device', 'virtio-serial-pci,id=kfiles',
    '-device', `virtserialport,bus=kfiles.0,chardev=files,name=${FILES_PORT_NAME}`,
  ]);
  t.same(filesArgs({ ...arm, filesChannel: 'virtio-serial' }, '/s/files.sock').slice(2), ['-device', 'virtserialport,chardev=files,name=ktest.files']);
  const argv = qemuArgv({ qemu: { ...arm, filesChannel: 'virtio-serial' }, accel: 'tcg', kernelPath: '/k', initrdPath: '/i', cmdline: 'c', commandSocket: '/c', qmpSocket: '/q', filesSocket: '/f' }).args;
  t.ok(argv.indexOf('virtconsole,chardev=cmd') < argv.indexOf('virtserialport,chardev=files,name=ktest.files'), 'the port comes after the bus the console brings');
});

t.test('gdbArgs: the gdb stub on a unix socket only, added to the argv when asked', (t) => {
  t.strictSame(gdbArgs('/d/gdb,x.sock'), ['-chardev', 'socket,id=gdb,path=/d/gdb,,x.sock,server=on,wait=off', '-gdb', 'chardev:gdb']);
  const base = { qemu: x86, accel: 'tcg' as const, kernelPath: '/k', initrdPath: '/i', cmdline: 'c', commandSocket: '/a/cmd.sock', qmpSocket: '/a/qmp.sock' };
  t.notOk(qemuArgv(base).args.includes('-gdb'), 'no stub by default');
  const args = qemuArgv({ ...base, gdbSocket: '/a/gdb.sock', incomingFile: '/s' }).args;
  t.equal(args[args.indexOf('-gdb') + 1], 'chardev:gdb');
  t.notOk(args.some((a) => /tcp:|:1234/.test(a)), 'never a TCP port');
  t.ok(args.includes('-incoming'), 'with a restore too');
  t.end();
});

t.test('the results channel: a virtio-serial port named ktest.out beside the files port, named on the kernel command line', async (t) => {
  t.same(filesArgs({ ...x86, filesChannel: 'virtio-serial-pci' }, '/s/files.sock', '/s/out.sock').slice(6), [
    '-chardev', 'socket,id=results,path=/s/out.sock,server=on,wait=off',
    '-device', `virtserialport,bus=kfiles.0,chardev=results,name=${RESULTS_PORT_NAME}`,
  ]);
  t.same(filesArgs({ ...arm, filesChannel: 'virtio-serial' }, '/s/files.sock', '/s/out.sock').slice(-2), ['-device', 'virtserialport,chardev=results,name=ktest.out']);
  t.same(filesArgs(x86, '/s/files.sock', '/s/out.sock'), [], 'no virtio-serial bus: no results port');
  t.match(kernelCmdline({ qemu: { ...x86, filesChannel: 'virtio-serial-pci' } }), /^console=ttyS0 ktest\.port=ttyS1 ktest\.out=ktest\.out /);
  t.notMatch(kernelCmdline({ qemu: x86 }), /ktest\.out=/, 'without one, the agent answers on its command port');
  const argv = qemuArgv({ qemu: { ...x86, filesChannel: 'virtio-serial-pci' }, accel: 'tcg', kernelPath: '/k', initrdPath: '/i', cmdline: 'c', commandSocket: '/c', qmpSocket: '/q', filesSocket: '/f', resultsSocket: '/o' }).args;
  t.ok(argv.includes('socket,id=results,path=/o,server=on,wait=off'));
});

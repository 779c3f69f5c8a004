import t from 'tap';
import { recvArgv, shipFiles, GUEST_RECV } from '../../../rig/vm/files.ts';
import { stripArgv } from '../../../rig/build/strip.ts';
import type { Guest } from '../../../rig/vm/guest.ts';

t.test('recvArgv: port name, then size, octal mode and path per file, in order', async (t) => {
  t.same(recvArgv([{ path: '/lib/modules/ktest/a.ko', size: 12432, mode: 0o644 }, { path: '/bin/prog', size: 0, mode: 0o755 }]), [
    GUEST_RECV, 'ktest.files', '12432', '644', '/lib/modules/ktest/a.ko', '0', '755', '/bin/prog',
  ]);
});

t.test('shipFiles: relative or unnormalised paths are usage errors before anything is sent', async (t) => {
  const guest = { hasFilesChannel: true } as unknown as Guest;
  await t.rejects(shipFiles(guest, [{ path: 'rel.ko', source: Buffer.from('x') }]), { name: 'UsageError' });
  await t.rejects(shipFiles(guest, [{ path: '/a/../b', source: Buffer.from('x') }]), { name: 'UsageError' });
  await t.resolves(shipFiles(guest, []), 'nothing to ship: no guest work');
});

t.test('stripArgv: strip --strip-debug, cross-prefixed for a foreign arch', async (t) => {
  t.same(stripArgv('x86_64', '/b/k.ko', '/o/k.ko'), ['strip', '--strip-debug', '-o', '/o/k.ko', '/b/k.ko']);
  t.same(stripArgv('arm64', '/b/k.ko', '/o/k.ko')[0], 'aarch64-linux-gnu-strip');
});

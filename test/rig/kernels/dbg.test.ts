// The -dbg package of a stock image: its name and where it keeps the vmlinux (the download is the gdb test's).
import t from 'tap';
import { dbgPackageName, dbgVmlinuxPath } from '../../../rig/kernels/dbg.ts';
import { loadImages } from '../../../rig/kernels/images.ts';
import type { DebianImageSpec } from '../../../rig/kernels/spec.ts';

t.test('dbgPackageName and dbgVmlinuxPath follow the image release', (t) => {
  const image = loadImages().find((i) => i.id === 'bookworm-6.1') as DebianImageSpec;
  t.equal(dbgPackageName(image), `linux-image-${image.release}-dbg`);
  t.equal(dbgVmlinuxPath(image), `./usr/lib/debug/boot/vmlinux-${image.release}`);
  t.end();
});

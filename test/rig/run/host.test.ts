import t from 'tap';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostRefusal } from '../../../rig/run/host.ts';
import { isLoadedOnHost } from '../../../rig/scenario/backends/host.ts';

const facts = { uid: 0, release: '6.1.0-50-amd64', headersDir: '/usr/src/linux-headers-6.1.0-50-amd64', loaded: ['e1000', 'ext4'] };

t.test('the host target refuses unless root, with headers, and with no module of that name loaded', async (t) => {
  t.equal(hostRefusal(facts, 'ktest'), undefined);
  t.match(hostRefusal({ ...facts, uid: 1000 }, 'ktest'), /needs root/);
  t.match(hostRefusal({ ...facts, headersDir: undefined }, 'ktest'), /no headers for the running kernel 6\.1\.0-50-amd64: install linux-headers-6\.1\.0-50-amd64/);
  t.match(hostRefusal({ ...facts, loaded: ['ktest'] }, 'ktest'), /a module named ktest is already loaded on this host: rmmod ktest first/);
  t.match(hostRefusal({ ...facts, uid: 1000, headersDir: undefined }, 'ktest'), /root/, 'root is checked first');
});

t.test('isLoadedOnHost reads /proc/modules by first field', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ktest-proc-'));
  const file = join(dir, 'modules');
  await writeFile(file, 'ktest_extra 16384 0 - Live 0x0 (OE)\nktest 16384 0 - Live 0x0 (OE)\n');
  t.equal(await isLoadedOnHost('ktest', file), true);
  t.equal(await isLoadedOnHost('ktes', file), false);
  t.equal(await isLoadedOnHost('ktest', join(dir, 'missing')), false);
});

t.test('before the build, only root and headers are checked', async (t) => {
  t.equal(hostRefusal({ ...facts, loaded: ['ktest'] }), undefined);
  t.match(hostRefusal({ ...facts, uid: 1000 }), /needs root/);
});

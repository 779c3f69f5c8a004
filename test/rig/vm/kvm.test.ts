import t from 'tap';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forcedAccel, probeAccel, PROBE_VERSION } from '../../../rig/vm/kvm.ts';
import { hostArch, hostArchOrUndefined } from '../../../rig/platform/arch/index.ts';

t.test('forcedAccel', async (t) => {
  t.equal(hostArchOrUndefined('ia32'), undefined);
  t.equal(forcedAccel({ KTEST_RIG_ACCEL: 'tcg' }), 'tcg');
  t.equal(forcedAccel({ KTEST_RIG_ACCEL: 'kvm' }), 'kvm');
  t.throws(() => forcedAccel({ KTEST_RIG_ACCEL: 'hax' }), { name: 'UsageError', message: /KTEST_RIG_ACCEL=hax is not one of: kvm, tcg/ });
  t.equal(forcedAccel({}), undefined);
});

t.test('probeAccel: forced, foreign arch, no device, no permission', async (t) => {
  t.same(await probeAccel({ env: { KTEST_RIG_ACCEL: 'tcg' } }), { accel: 'tcg', reason: 'forced by KTEST_RIG_ACCEL=tcg' });
  t.equal((await probeAccel({ env: { KTEST_RIG_ACCEL: 'kvm' } })).accel, 'kvm');
  const foreign = hostArch() === 'arm64' ? 'x86_64' : 'arm64';
  const v = await probeAccel({ env: {}, arch: foreign });
  t.equal(v.accel, 'tcg');
  t.match(v.reason, /not the host/);
  t.same(await probeAccel({ env: {}, kvmDevice: '/nonexistent/kvm' }), { accel: 'tcg', reason: 'no /nonexistent/kvm' });
  if (process.getuid?.() !== 0) {
    const v2 = await probeAccel({ env: {}, kvmDevice: '/etc/shadow' });
    t.match(v2.reason, /no permission/);
  }
});

t.test('probeAccel trusts a verdict cached for this boot only', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'kvm-cache-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const arch = hostArch();
  if (!arch) {
    t.pass('unknown host arch: nothing to cache');
    return;
  }
  // any readable+writable node stands in for /dev/kvm; the verdict comes from the cache, no QEMU runs
  const device = join(dir, 'kvm');
  await writeFile(device, '');
  const bootId = (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
  const cache = join(dir, `kvm-probe-v${PROBE_VERSION}-${arch}.json`);
  await writeFile(cache, JSON.stringify({ bootId, accel: 'kvm', reason: 'kvm probe passed' }));
  t.same(await probeAccel({ env: {}, cacheDir: dir, kvmDevice: device }), { accel: 'kvm', reason: 'kvm probe passed (cached for this boot)' });
  await writeFile(cache, JSON.stringify({ bootId, accel: 'tcg', reason: 'kvm probe timed out after 2000 ms' }));
  t.equal((await probeAccel({ env: {}, cacheDir: dir, kvmDevice: device })).accel, 'tcg');
  // another boot's verdict is ignored: the probe runs (with an impossible timeout it cannot pass)
  await writeFile(cache, JSON.stringify({ bootId: 'another-boot', accel: 'kvm', reason: 'kvm probe passed' }));
  const fresh = await probeAccel({ env: {}, cacheDir: dir, kvmDevice: device, timeoutMs: 1 });
  t.equal(fresh.accel, 'tcg', fresh.reason);
  t.notMatch(fresh.reason, /cached/);
  const written = JSON.parse(await readFile(cache, 'utf8'));
  t.equal(written.bootId, bootId, 'the new verdict is cached for this boot');
});

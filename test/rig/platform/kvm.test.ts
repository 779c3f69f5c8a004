import t from 'tap';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  arm64ProbeFirmware,
  forcedAccel,
  hostArch,
  probeAccel,
  PROBE_RECIPES,
  PROBE_VERSION,
  x86ProbeFirmware,
} from '../../../rig/platform/kvm.ts';

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
  t.equal(PROBE_RECIPES.arm64.expectedStatus, 0);
  t.ok(PROBE_RECIPES.arm64.args('/f').includes('host'));
  t.equal(PROBE_RECIPES.x86_64.expectedStatus, 0x85);
  t.ok(PROBE_RECIPES.x86_64.args('/f').includes('isa-debug-exit,iobase=0xf4,iosize=1'));
});

t.test('hostArch and forcedAccel', async (t) => {
  t.equal(hostArch('x64'), 'x86_64');
  t.equal(hostArch('arm64'), 'arm64');
  t.equal(hostArch('ia32'), undefined);
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

// Tests doctor's rows, the table formatter, and a full doctor() run with injected probes.
import t from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  MIN_FREE_BYTES,
  accelRow,
  cacheRow,
  doctor,
  doctorOk,
  formatBytes,
  formatDoctorTable,
  installRow,
  nodeRow,
  toolRow,
  type DoctorRow,
} from '../../../rig/cli/doctor.ts';
import type { CommandRunner, HostTool } from '../../../rig/platform/host-tools.ts';

t.test('node row', async (t) => {
  t.equal(nodeRow('20.20.2').status, 'ok');
  t.equal(nodeRow('v22.1.0').status, 'ok');
  t.equal(nodeRow('18.19.0').status, 'missing');
  t.equal(nodeRow('garbage').status, 'missing');
});

t.test('tool row', async (t) => {
  const ok = toolRow({ name: 'cpio', ok: true, version: '2.13', package: 'cpio', neededFor: ['core'], purpose: 'pack the initramfs' });
  t.same(ok, { check: 'cpio', status: 'ok', version: '2.13', package: 'cpio', detail: 'pack the initramfs (all images)' });
  const arm = { name: 'qemu-system-aarch64', ok: false, package: 'qemu-system-arm', neededFor: ['arm64' as const], problem: 'qemu-system-aarch64 not on PATH' };
  const optional = toolRow(arm);
  t.equal(optional.status, 'warn', 'arm64 tools are optional by default');
  t.equal(optional.version, undefined);
  t.match(optional.detail, /^optional: .*not on PATH; needed for arm64 images/);
  const missing = toolRow(arm, { arches: ['arm64'], buildroots: false });
  t.equal(missing.status, 'missing', 'required when arm64 is required');
  t.notMatch(missing.detail, /optional/);
  t.equal(toolRow({ name: 'cpio', ok: false, package: 'cpio', neededFor: ['core'] }).status, 'missing', 'core tools are always required');
});

t.test('accel row says why', async (t) => {
  t.same(accelRow({ accel: 'kvm', reason: '/dev/kvm usable' }), { check: 'accel', status: 'ok', version: 'kvm', detail: '/dev/kvm usable' });
  const tcg = accelRow({ accel: 'tcg', reason: 'KVM_CREATE_VM failed: EACCES' });
  t.equal(tcg.status, 'warn', 'TCG works, but slower: a warning, not a failure');
  t.match(tcg.detail, /EACCES/);
  const failed = accelRow(new Error('boom'));
  t.equal(failed.status, 'warn');
  t.match(failed.detail, /boom/);
});

t.test('cache row and sizes', async (t) => {
  t.equal(formatBytes(512), '512 B');
  t.equal(formatBytes(1536), '1.5 KiB');
  t.equal(formatBytes(3 * 1024 ** 3), '3.0 GiB');
  t.equal(cacheRow('/c', MIN_FREE_BYTES * 4, true).status, 'ok');
  const low = cacheRow('/c', 1024 ** 2, true);
  t.equal(low.status, 'warn');
  t.match(low.detail, /1\.0 MiB free, want 2\.0 GiB/);
  t.match(cacheRow('/c', MIN_FREE_BYTES * 4, false).detail, /will be created/);
  t.equal(cacheRow('/c', undefined, false).status, 'warn');
});

t.test('install row', async (t) => {
  t.equal(installRow('root', false).status, 'ok');
  t.match(installRow('sudo', false).detail, /sudo -n/);
  t.equal(installRow('none', false).status, 'info');
  t.match(installRow('root', true).detail, /KTEST_RIG_NO_INSTALL/);
});

t.test('formatDoctorTable aligns columns', async (t) => {
  const rows: DoctorRow[] = [
    { check: 'node', status: 'ok', version: '20.20.2', detail: '>= 20' },
    { check: 'qemu-system-x86_64', status: 'ok', version: '7.2.22', package: 'qemu-system-x86', detail: 'boot' },
    { check: 'musl-gcc', status: 'missing', package: 'musl-tools', detail: 'not on PATH' },
    { check: 'accel', status: 'warn', version: 'tcg' },
    { check: 'clang', status: 'warn', package: 'clang' },
  ];
  const text = formatDoctorTable(rows);
  const lines = text.trimEnd().split('\n');
  t.match(lines[0], /^CHECK\s+STATUS\s+VERSION\s+PACKAGE\s+DETAIL$/);
  const table = lines.slice(0, 6);
  for (const header of ['STATUS', 'VERSION', 'PACKAGE']) {
    const col = lines[0]!.indexOf(header);
    for (const line of table.slice(1)) {
      t.equal(line[col - 1], ' ', `${header}: a space before the column`);
      t.not(line[col], ' ', `${header}: every row has a value where the column starts`);
    }
  }
  t.match(lines[3], /^musl-gcc\s+MISSING\s+-\s+musl-tools\s+not on PATH$/);
  t.notOk(lines.some((line) => line !== line.trimEnd()), 'no trailing spaces');
  t.same(lines.slice(-2), [
    'missing packages; install them with: sudo apt-get install -y musl-tools',
    'optional packages (other images, development): sudo apt-get install -y clang',
  ]);
  t.notMatch(formatDoctorTable(rows.filter((row) => row.status !== 'missing')), /missing packages/);
  t.notMatch(formatDoctorTable(rows.slice(0, 2)), /packages/, 'no install line when all is there');
  t.ok(text.endsWith('\n'));
});

t.test('doctorOk ignores warnings', async (t) => {
  t.ok(doctorOk([{ check: 'accel', status: 'warn' }, { check: 'node', status: 'ok' }]));
  t.notOk(doctorOk([{ check: 'cpio', status: 'missing' }]));
});

t.test('doctor() gathers every check', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'doctor-test-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'present'), '');
  const tools: HostTool[] = [
    { name: 'here', package: 'here-pkg', neededFor: ['core'], purpose: 'test', probe: { kind: 'file', paths: [join(dir, 'present')] } },
    { name: 'gone', package: 'gone-pkg', neededFor: ['arm64'], purpose: 'test', probe: { kind: 'file', paths: [join(dir, 'absent')] } },
  ];
  const runner: CommandRunner = async () => ({ exitCode: 1, stdout: '', stderr: '' }); // no sudo, no dpkg
  const cache = join(dir, 'cache', 'ktest-rig');
  const rows = await doctor({
    tools,
    runner,
    env: { KTEST_RIG_CACHE: cache },
    nodeVersion: '20.1.0',
    asRoot: false,
    probeAccel: async () => ({ accel: 'tcg', reason: 'no vmx/svm in /proc/cpuinfo' }),
  });
  t.same(rows.map((row) => [row.check, row.status]), [
    ['node', 'ok'],
    ['here', 'ok'],
    ['gone', 'warn'],
    ['accel', 'warn'],
    ['cache', 'ok'],
    ['install', 'info'],
  ]);
  t.match(rows.find((row) => row.check === 'accel')?.detail, /no vmx\/svm/);
  t.match(rows.find((row) => row.check === 'cache')?.detail, new RegExp(`^${cache} \\(will be created\\): .* free`));
  t.ok(doctorOk(rows), 'an absent arm64 tool is optional');
  const strict = await doctor({ tools, runner, env: { KTEST_RIG_CACHE: cache }, required: { arches: ['arm64'], buildroots: false }, probeAccel: async () => ({ accel: 'kvm', reason: 'probe passed' }) });
  t.equal(strict.find((row) => row.check === 'gone')?.status, 'missing');
  t.notOk(doctorOk(strict));

  const failing = await doctor({ tools: [tools[0]!], runner, env: { KTEST_RIG_CACHE: dir }, asRoot: true, probeAccel: async () => { throw new Error('no qemu'); } });
  t.match(failing.find((row) => row.check === 'accel'), { status: 'warn', detail: /could not probe KVM: no qemu/ });
  t.match(failing.find((row) => row.check === 'cache')?.detail, new RegExp(`^${dir}: `), 'an existing cache dir');
  t.equal(failing.find((row) => row.check === 'install')?.status, 'ok', 'root installs');
  t.ok(doctorOk(failing));
});

// Tests for the newc writer/reader and the initramfs layout, checked against our parser and GNU cpio.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, lstatSync, readlinkSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpioNewc, parseNewc, buildInitramfs, busyboxApplets, FALLBACK_APPLETS, type InitramfsEntry } from '../../../rig/build/initramfs.ts';
import { UsageError, InfraError } from '../../../rig/core/errors.ts';

const hasCpio = spawnSync('cpio', ['--version']).status === 0;
const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => spawnSync(p, ['true']).status === 0);

const sample: InitramfsEntry[] = [
  { type: 'dir', path: '/bin', mode: 0o755 },
  { type: 'dir', path: '/tmp', mode: 0o1777 },
  { type: 'file', path: '/bin/odd-size', data: Buffer.from('12345'), mode: 0o755 },
  { type: 'file', path: '/empty', data: Buffer.alloc(0), mode: 0o600 },
  { type: 'file', path: '/bin/n', data: Buffer.from([0, 255, 10, 13]), mode: 0o644 },
  { type: 'symlink', path: '/bin/sh', target: '/bin/busybox' },
  { type: 'char', path: '/console', major: 5, minor: 1, mode: 0o600 },
];

t.test('cpioNewc round-trips through parseNewc with 4-byte alignment and a trailer', async (t) => {
  const archive = cpioNewc(sample);
  t.equal(archive.length % 4, 0);
  t.same(parseNewc(archive), sample);
  t.ok(archive.includes('TRAILER!!!'));
  t.equal(archive.toString('ascii', 0, 6), '070701');
  // names are stored without the leading slash
  t.ok(archive.includes('bin/odd-size\0'));
  t.notOk(archive.includes('/bin/odd-size\0'));
});

t.test('cpioNewc rejects paths that escape the root', async (t) => {
  t.throws(() => cpioNewc([{ type: 'dir', path: 'a/../../etc' }]), UsageError);
  t.same(parseNewc(cpioNewc([{ type: 'dir', path: '/../etc' }])), [{ type: 'dir', path: '/etc', mode: 0o755 }]);
  t.throws(() => cpioNewc([{ type: 'dir', path: '/' }]), UsageError);
});

t.test('parseNewc rejects garbage', async (t) => {
  t.throws(() => parseNewc(Buffer.from('not a cpio archive at all, sorry')), InfraError);
});

t.test('GNU cpio reads our archive', { skip: !hasCpio && 'cpio not installed' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ktest-cpio-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const listing = spawnSync('cpio', ['-it', '--quiet'], { input: cpioNewc(sample) });
  t.equal(listing.status, 0, listing.stderr.toString());
  t.same(listing.stdout.toString().trim().split('\n'), ['bin', 'tmp', 'bin/odd-size', 'empty', 'bin/n', 'bin/sh', 'console']);
  const files = sample.filter((e) => e.type !== 'char');
  const extract = spawnSync('cpio', ['-idm', '--quiet', '--no-absolute-filenames'], { input: cpioNewc(files), cwd: dir });
  t.equal(extract.status, 0, extract.stderr.toString());
  t.same(readFileSync(join(dir, 'bin/n')), Buffer.from([0, 255, 10, 13]));
  t.equal(readFileSync(join(dir, 'bin/odd-size'), 'utf8'), '12345');
  t.equal(lstatSync(join(dir, 'bin/odd-size')).mode & 0o777, 0o755);
  t.equal(readlinkSync(join(dir, 'bin/sh')), '/bin/busybox');
});

t.test('buildInitramfs lays out init, busybox, applets, agent, modules list and caller files', { skip: !busybox && 'no busybox' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ktest-initramfs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const agent = join(dir, 'agent');
  writeFileSync(agent, 'fake agent');
  const archive = await buildInitramfs({
    busybox: busybox!,
    agent,
    guestModules: ['/lib/modules/x/a.ko', '/lib/modules/x/b.ko'],
    files: [
      { path: '/lib/modules/ktest/ktest.ko', source: Buffer.from('ko') },
      { path: '/bin/cat', source: Buffer.from('my cat'), mode: 0o755 },
    ],
  });
  const entries = parseNewc(archive);
  const byPath = new Map(entries.map((e) => [e.path, e]));
  t.match(byPath.get('/init'), { type: 'file', mode: 0o755, data: readFileSync(new URL('../../../guest/init', import.meta.url)) });
  t.match(byPath.get('/bin/busybox'), { type: 'file', mode: 0o755, data: readFileSync(busybox!) });
  t.match(byPath.get('/bin/ktest-agent'), { type: 'file', mode: 0o755, data: Buffer.from('fake agent') });
  t.match(byPath.get('/etc/ktest/modules'), { data: Buffer.from('/lib/modules/x/a.ko\n/lib/modules/x/b.ko\n') });
  t.match(byPath.get('/lib/modules/ktest/ktest.ko'), { type: 'file', mode: 0o644, data: Buffer.from('ko') });
  t.match(byPath.get('/bin/cat'), { type: 'file', data: Buffer.from('my cat') }, "the caller's file wins over the applet");
  t.match(byPath.get('/bin/sh'), { type: 'symlink', target: '/bin/busybox' });
  t.match(byPath.get('/dev/console'), { type: 'char', major: 5, minor: 1 });
  for (const d of ['/proc', '/sys', '/dev', '/tmp', '/lib/modules/ktest']) t.match(byPath.get(d), { type: 'dir' }, d);
  // every entry's parent directory comes before it
  const seen = new Set<string>(['/']);
  const orphans: string[] = [];
  for (const e of entries) {
    if (!seen.has(e.path.slice(0, e.path.lastIndexOf('/')) || '/')) orphans.push(e.path);
    if (e.type === 'dir') seen.add(e.path);
  }
  t.same(orphans, [], 'every parent directory comes before its entries');
  // all applets the host busybox lists are linked
  const listed = spawnSync(busybox!, ['--list']).stdout.toString().trim().split('\n');
  const linked = new Set(entries.filter((e) => e.type === 'symlink').map((e) => e.path.split('/').pop()));
  t.same(listed.filter((a) => !['cat', 'linuxrc', 'busybox'].includes(a) && !linked.has(a)), [], 'no applet missing');
});

t.test('buildInitramfs without applets, and a missing file is an InfraError', { skip: !busybox && 'no busybox' }, async (t) => {
  const entries = parseNewc(await buildInitramfs({ busybox: busybox!, symlinkApplets: false }));
  t.equal(entries.filter((e) => e.type === 'symlink').length, 0);
  t.notOk(entries.some((e) => e.path === '/bin/ktest-agent'));
  await t.rejects(buildInitramfs({ busybox: '/nonexistent/busybox' }), InfraError);
  await t.rejects(buildInitramfs({ busybox: busybox!, files: [{ path: 'relative', source: Buffer.alloc(0) }] }), UsageError);
});

t.test('a foreign-arch busybox gets the fixed applet list', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ktest-bb-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const elf = Buffer.alloc(64);
  elf.write('\x7fELF', 0, 'latin1');
  elf.writeUInt16LE(process.arch === 'arm64' ? 62 : 183, 18);
  const path = join(dir, 'busybox');
  writeFileSync(path, elf);
  const applets = await busyboxApplets(path, elf);
  t.same(applets, FALLBACK_APPLETS.map((a) => `bin/${a}`));
  t.ok(applets.includes('bin/sh') && applets.includes('bin/insmod'));
  if (busybox) {
    copyFileSync(busybox, join(dir, 'native'));
    const native = await busyboxApplets(busybox, readFileSync(busybox));
    t.ok(native.includes('bin/sh'));
    t.ok(native.length > FALLBACK_APPLETS.length / 2);
  }
});

t.test('the same inputs give the same bytes (cacheable)', { skip: !busybox && 'no busybox' }, async (t) => {
  const opts = { busybox: busybox!, files: [{ path: '/a/b/c', source: Buffer.from('x') }] };
  const one = await buildInitramfs(opts);
  const two = await buildInitramfs(opts);
  t.ok(one.equals(two));
  t.notOk(one.equals(await buildInitramfs({ ...opts, files: [{ path: '/a/b/c', source: Buffer.from('y') }] })));
});

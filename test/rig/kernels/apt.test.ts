// Private apt configuration text, Packages/madison parsing on captured output, Debian version order.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { aptOptions, compareDebVersions, networkHint, parseMadison, parsePackagesRecords, pocketsOf, sourcesList, KEYRING } from '../../../rig/kernels/apt.ts';

const fixtures = join(import.meta.dirname, '..', '..', 'fixtures', 'images');
const mirrors = { main: 'http://m/debian', security: 'http://m/debian-security' };

t.test('sources list: suite, -updates from the main mirror, -security from the security mirror', async (t) => {
  const lines = sourcesList('bookworm', 'amd64', mirrors).trim().split('\n');
  t.same(lines, [
    `deb [signed-by=${KEYRING} arch=amd64] http://m/debian bookworm main`,
    `deb [signed-by=${KEYRING} arch=amd64] http://m/debian bookworm-updates main`,
    `deb [signed-by=${KEYRING} arch=amd64] http://m/debian-security bookworm-security main`,
  ]);
  t.same(sourcesList('sid', 'arm64', mirrors).trim().split('\n'), [`deb [signed-by=${KEYRING} arch=arm64] http://m/debian sid main`]);
  t.same(pocketsOf('trixie'), ['trixie', 'trixie-updates', 'trixie-security']);
  t.same(pocketsOf('bookworm-backports'), ['bookworm-backports']);
});

t.test('apt options point every state and config dir into the private dir', async (t) => {
  const opts = aptOptions('/c/apt/bookworm-amd64', 'amd64', true);
  const map = new Map<string, string>();
  for (let i = 0; i < opts.length; i += 2) {
    t.equal(opts[i], '-o');
    const [k, v] = opts[i + 1].split('=');
    map.set(k, v);
  }
  for (const k of ['Dir::Etc::SourceList', 'Dir::Etc::SourceParts', 'Dir::State::Lists', 'Dir::State::Status', 'Dir::Cache', 'Dir::Etc::PreferencesParts']) {
    t.match(map.get(k), /^\/c\/apt\/bookworm-amd64\//, k);
  }
  t.equal(map.get('APT::Architecture'), 'amd64');
  t.equal(map.get('APT::Sandbox::User'), 'root');
  const user = aptOptions('/c', 'arm64', false);
  t.notOk(user.some((o) => o.startsWith('APT::Sandbox::User')), 'non-root does not ask for a sandbox user');
  t.ok(user.includes('APT::Architecture=arm64'));
});

t.test('Packages records from captured apt-cache show output', async (t) => {
  const recs = parsePackagesRecords(readFileSync(join(fixtures, 'apt-cache-show.txt'), 'utf8'));
  t.ok(recs.length >= 2);
  const headers = recs.find((r) => r.package === 'linux-headers-6.1.0-50-amd64');
  t.ok(headers);
  t.equal(headers!.version, '6.1.176-1');
  t.equal(headers!.architecture, 'amd64');
  t.match(headers!.filename, /^pool\/main\/l\/linux\/linux-headers-6\.1\.0-50-amd64_6\.1\.176-1_amd64\.deb$/);
  t.match(headers!.sha256, /^[0-9a-f]{64}$/);
  t.ok(headers!.size > 1000);
  t.match(headers!.depends, /linux-headers-6\.1\.0-50-common \(= 6\.1\.176-1\)/);
  for (const r of recs) t.match(r.sha256, /^[0-9a-f]{64}$/, `${r.package} ${r.version} has a sha256`);
  const multi = parsePackagesRecords('Package: a\nVersion: 1\nDescription: x\n more\n .\n end\n\nPackage: b\nVersion: 2\nSize: 5\n');
  t.same(multi.map((r) => [r.package, r.version, r.size]), [['a', '1', 0], ['b', '2', 5]]);
  t.equal(multi[0].fields.Description, 'x\nmore\n.\nend');
});

t.test('madison rows name the pocket', async (t) => {
  const rows = parseMadison(readFileSync(join(fixtures, 'apt-cache-madison.txt'), 'utf8'));
  t.ok(rows.length >= 4);
  t.ok(rows.some((r) => r.name === 'linux-kbuild-6.1' && r.pocket === 'bookworm' && r.version === '6.1.176-1'));
  t.ok(rows.some((r) => r.pocket === 'bookworm-security'));
  t.same(parseMadison('garbage\n'), []);
});

t.test('Debian version order matches dpkg', async (t) => {
  const ascending = ['0', '1.0~rc1', '1.0', '1.0-1~bpo12+1', '1.0-1', '1.0a', '1.0+b1', '1.0.1', '5.10.223-1', '5.10.262-1', '6.1.19-1', '6.1.176-1', '6.1.192-3', '1:0.9'];
  for (let i = 0; i + 1 < ascending.length; i++) {
    t.ok(compareDebVersions(ascending[i], ascending[i + 1]) < 0, `${ascending[i]} < ${ascending[i + 1]}`);
    t.ok(compareDebVersions(ascending[i + 1], ascending[i]) > 0, `${ascending[i + 1]} > ${ascending[i]}`);
  }
  t.equal(compareDebVersions('1.0-1', '1.0-1'), 0);
  t.equal(compareDebVersions('1.00', '1.0'), 0);
  // Cross-check against dpkg itself (present on every Debian host the rig supports).
  for (const a of ascending) {
    for (const b of ['1.0a', '6.1.176-1', '1.0~rc1', '2.0~~']) {
      const lt = spawnSync('dpkg', ['--compare-versions', a, 'lt', b]).status === 0;
      t.equal(compareDebVersions(a, b) < 0, lt, `${a} lt ${b} as dpkg says`);
    }
  }
});

t.test('the offline hint names the mirror in use', async (t) => {
  t.equal(networkHint({}), 'check network access to deb.debian.org (or set KTEST_RIG_DEBIAN_MIRROR)');
  t.equal(networkHint({ KTEST_RIG_DEBIAN_MIRROR: 'http://mirror.example/debian' }), 'check network access to http://mirror.example/debian (KTEST_RIG_DEBIAN_MIRROR)');
});

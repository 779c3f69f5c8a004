// `images update`'s resolver against a captured archive: the Packages indexes Debian served for bookworm,
// bookworm-updates and bookworm-security (test/fixtures/images/archive/README.md), behind a local HTTP
// server, read by a real apt that checks a Release file signed with a throwaway key.
import type { DebianImageSpec } from '../../../rig/kernels/spec.ts';
import t, { type Test } from 'tap';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { parsePackagesRecords } from '../../../rig/kernels/apt.ts';
import { loadImages } from '../../../rig/kernels/images.ts';
import { resolveLatest } from '../../../rig/cli/images.ts';

const archive = join(import.meta.dirname, '..', '..', 'fixtures', 'images', 'archive');

/** Release text for one pocket holding one uncompressed Packages index. */
function release(pocket: string, packages: Buffer): string {
  const sha = createHash('sha256').update(packages).digest('hex');
  const date = new Date().toUTCString().replace('GMT', 'UTC');
  return [
    'Origin: Debian',
    'Label: Debian',
    `Suite: ${pocket}`,
    `Codename: ${pocket}`,
    `Date: ${date}`,
    'Architectures: amd64',
    'Components: main',
    'SHA256:',
    ` ${sha} ${packages.length} main/binary-amd64/Packages`,
    '',
  ].join('\n');
}

/** A served archive: /debian (bookworm, bookworm-updates) and /debian-security, InRelease signed by `keyring`'s key. */
async function serveArchive(t: Test, overrides: Record<string, string> = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'ktest-archive-'));
  const gnupg = join(dir, 'g');
  mkdirSync(gnupg, { mode: 0o700 });
  const gpg = (...args: string[]) => execFileSync('gpg', ['--batch', '--quiet', '--homedir', gnupg, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(async () => {
    try {
      execFileSync('gpgconf', ['--homedir', gnupg, '--kill', 'all'], { stdio: 'ignore' });
    } catch {}
    await rm(dir, { recursive: true, force: true });
  });
  gpg('--passphrase', '', '--quick-gen-key', 'ktest-rig test archive <test@invalid>', 'ed25519', 'sign', 'never');
  const keyring = join(dir, 'keyring.gpg');
  await writeFile(keyring, gpg('--export'));
  const files = new Map<string, Buffer>();
  for (const [root, pocket] of [['debian', 'bookworm'], ['debian', 'bookworm-updates'], ['debian-security', 'bookworm-security']]) {
    const packages = Buffer.from(overrides[pocket] ?? (await readFile(join(archive, `${pocket}-amd64.Packages`), 'utf8')));
    const rel = join(dir, `${pocket}.Release`);
    await writeFile(rel, release(pocket, packages));
    gpg('--local-user', 'test@invalid', '--clearsign', '--output', `${rel}.signed`, rel);
    files.set(`/${root}/dists/${pocket}/main/binary-amd64/Packages`, packages);
    files.set(`/${root}/dists/${pocket}/InRelease`, await readFile(`${rel}.signed`));
  }
  const served: string[] = [];
  const server = createServer((req, res) => {
    served.push(req.url ?? '');
    const body = files.get(req.url ?? '');
    res.writeHead(body ? 200 : 404).end(body);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  t.teardown(() => new Promise<void>((ok) => server.close(() => ok())));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { source: { mirrors: { main: `${base}/debian`, security: `${base}/debian-security` }, keyring }, served, cacheDir: dir };
}

const bookworm = loadImages().find((i) => i.id === 'bookworm-6.1') as DebianImageSpec;
const security = parsePackagesRecords(await readFile(join(archive, 'bookworm-security-amd64.Packages'), 'utf8'));
const archived = (name: string, version: string) => security.find((r) => r.package === name && r.version === version)!;

t.test('a newer build in bookworm-security is pinned, from the security mirror, and says so', async (t) => {
  const { source, served, cacheDir } = await serveArchive(t);
  const next = (await resolveLatest(bookworm, cacheDir, source)) as DebianImageSpec;
  t.equal(next.release, '6.1.0-57-amd64', 'the newest 6.1 kernel of the suite (the pin in images/ is 6.1.0-50 from bookworm), not the 6.12 series beside it');
  t.match(next.packages.image, { name: 'linux-image-6.1.0-57-amd64', version: '6.1.192-3', pocket: 'bookworm-security', sha256: archived('linux-image-6.1.0-57-amd64', '6.1.192-3').sha256 });
  t.match(next.packages.headers, { name: 'linux-headers-6.1.0-57-amd64', version: '6.1.192-3', pocket: 'bookworm-security' });
  t.match(next.packages.headersCommon, { name: 'linux-headers-6.1.0-57-common', arch: 'all', pocket: 'bookworm-security' });
  t.match(next.packages.kbuild, { name: 'linux-kbuild-6.1', version: '6.1.192-3', pocket: 'bookworm-security' });
  t.match(next.packages.image.filename, /^pool\/updates\/main\//);
  t.ok(served.includes('/debian-security/dists/bookworm-security/InRelease'), 'the security pocket came from the security mirror');
  t.ok(served.includes('/debian/dists/bookworm-updates/InRelease'), 'and -updates was read too');
});

t.test('with nothing newer outside main, the pin stays in bookworm and names that pocket', async (t) => {
  const { source, cacheDir } = await serveArchive(t, { 'bookworm-security': '' });
  const next = (await resolveLatest(bookworm, cacheDir, source)) as DebianImageSpec;
  t.equal(next.release, '6.1.0-50-amd64');
  t.match(next.packages.image, { version: '6.1.176-1', pocket: 'bookworm', sha256: bookworm.packages.image.sha256 });
  t.match(next.packages.kbuild, { name: 'linux-kbuild-6.1', version: '6.1.176-1', pocket: 'bookworm' });
});

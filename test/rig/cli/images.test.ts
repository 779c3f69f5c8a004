// images list/update logic: release parsing, pocket preference, flavour matching, Depends parsing, pin rewriting.
import type { BuiltImageSpec, DebianImageSpec } from '../../../rig/kernels/spec.ts';
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseMadison, parsePackagesRecords } from '../../../rig/kernels/apt.ts';
import { DEFAULT_IMAGE_ID, imagesDir, loadImages, parseImage } from '../../../rig/kernels/images.ts';
import { dependency, imagesList, parseRelease, pickRow, pinOf, renderImage, sameFlavour, upstreamVersion, withPins, withSourcePin } from '../../../rig/cli/images.ts';

const fixtures = join(import.meta.dirname, '..', '..', 'fixtures', 'images');

t.test('parseRelease', async (t) => {
  t.same(parseRelease('6.1.0-50-amd64'), { version: '6.1.0-50', major: 6, minor: 1, flavour: 'amd64' });
  t.same(parseRelease('5.10.0-32-cloud-amd64'), { version: '5.10.0-32', major: 5, minor: 10, flavour: 'cloud-amd64' });
  t.same(parseRelease('6.12.48+deb13-amd64'), { version: '6.12.48+deb13', major: 6, minor: 12, flavour: 'amd64' });
  t.same(parseRelease('6.1.0-50-arm64'), { version: '6.1.0-50', major: 6, minor: 1, flavour: 'arm64' });
  t.equal(parseRelease('amd64'), undefined);
});

t.test('sameFlavour keeps only the image flavour and series (major.minor; major in a rolling suite)', async (t) => {
  const names = [
    'linux-image-6.1.0-49-amd64',
    'linux-image-6.1.0-50-amd64',
    'linux-image-6.1.0-50-cloud-amd64',
    'linux-image-6.1.0-50-rt-amd64',
    'linux-image-6.1.0-50-amd64-dbg',
    'linux-image-6.1.0-50-amd64-unsigned',
    'linux-image-amd64',
    'linux-image-5.10.0-32-amd64',
    'linux-headers-6.1.0-50-amd64',
    'linux-image-6.12.117+deb12-amd64',
    'linux-image-6.12-amd64',
  ];
  t.same(sameFlavour(names, '6.1.0-50-amd64'), ['linux-image-6.1.0-49-amd64', 'linux-image-6.1.0-50-amd64']);
  t.same(sameFlavour(names, '6.1.0-50-cloud-amd64'), ['linux-image-6.1.0-50-cloud-amd64']);
  t.same(sameFlavour(['linux-image-6.12.48+deb13-amd64', 'linux-image-6.12.57+deb13-amd64'], '6.12.48+deb13-amd64').length, 2);
  t.same(sameFlavour(names, '6.1.0-50-amd64', true), ['linux-image-6.1.0-49-amd64', 'linux-image-6.1.0-50-amd64', 'linux-image-6.12.117+deb12-amd64'], 'a rolling suite: any 6.x, still no meta package');
  t.same(sameFlavour(['linux-image-7.1.3+deb14-amd64', 'linux-image-7.2.13+deb14-amd64', 'linux-image-7-amd64'], '7.2.13+deb14-amd64', true), ['linux-image-7.1.3+deb14-amd64', 'linux-image-7.2.13+deb14-amd64']);
});

t.test('pickRow: the newest version in any default pocket of the suite; on a tie the preferred pocket', async (t) => {
  const rows = parseMadison(readFileSync(join(fixtures, 'apt-cache-madison.txt'), 'utf8'));
  const images = rows.filter((r) => r.name.startsWith('linux-image-'));
  t.match(pickRow(images, 'bookworm'), { name: 'linux-image-6.1.0-57-amd64', pocket: 'bookworm-security' }, 'a newer -security build beats main');
  t.match(pickRow(images.filter((r) => r.pocket === 'bookworm'), 'bookworm'), { name: 'linux-image-6.1.0-50-amd64', version: '6.1.176-1', pocket: 'bookworm' }, 'newest in main');
  const row = (name: string, version: string, pocket: string) => ({ name, version, pocket });
  t.match(pickRow([row('a', '6.1.9-1', 'bookworm'), row('b', '6.1.10-1', 'bookworm'), row('c', '6.1.8-1', 'bookworm-updates')], 'bookworm'), { name: 'b' }, 'Debian version order, not string order');
  t.match(pickRow([row('u', '1', 'bookworm-updates'), row('s', '2', 'bookworm-security')], 'bookworm'), { name: 's' }, 'newer in -security');
  t.match(pickRow([row('s', '2', 'bookworm-security'), row('u', '2', 'bookworm-updates'), row('m', '2', 'bookworm')], 'bookworm'), { name: 'm', pocket: 'bookworm' }, 'same version: main, then -updates, then -security');
  t.match(pickRow([row('s', '2', 'bookworm-security'), row('u', '2', 'bookworm-updates')], 'bookworm'), { pocket: 'bookworm-updates' });
  t.equal(pickRow([row('x', '1', 'trixie')], 'bookworm'), undefined, 'other suites ignored');
  t.match(pickRow([row('x', '1', 'bookworm'), row('y', '9', 'trixie-security')], 'bookworm'), { name: 'x' }, 'another suite\'s newer row ignored');
  t.match(pickRow([row('x', '1', 'sid'), row('y', '2', 'sid')], 'sid'), { name: 'y' });
});

t.test('dependency finds the -common headers and linux-kbuild in a Depends field', async (t) => {
  const [headers] = parsePackagesRecords(readFileSync(join(fixtures, 'apt-cache-show.txt'), 'utf8')).filter((r) => r.package.startsWith('linux-headers-'));
  t.same(dependency(headers.depends, /^linux-headers-.*-common(-rt)?$/), { name: 'linux-headers-6.1.0-50-common', version: '6.1.176-1' });
  t.same(dependency(headers.depends, /^linux-kbuild-/), { name: 'linux-kbuild-6.1', version: '6.1.176-1' });
  t.same(dependency('a | linux-kbuild-7.0 (>= 7.0-1), b', /^linux-kbuild-/), undefined, 'only first alternatives');
  t.same(dependency('linux-kbuild-6.12.48+deb13, gcc-14', /^linux-kbuild-/), { name: 'linux-kbuild-6.12.48+deb13', version: undefined });
  t.same(pinOf(headers), { name: headers.package, version: headers.version, arch: 'amd64', sha256: headers.sha256, filename: headers.filename });
});

t.test('renderImage: stable key order and a trailing newline; committed files are in that form', async (t) => {
  for (const image of loadImages()) {
    const file = join(imagesDir, `${image.id}.json`);
    t.equal(renderImage(image), readFileSync(file, 'utf8'), `${image.id}.json round-trips`);
  }
  const def = loadImages().find((i) => i.id === DEFAULT_IMAGE_ID)! as DebianImageSpec;
  const shuffled = JSON.parse(JSON.stringify({ qemu: def.qemu, packages: { kbuild: def.packages.kbuild, image: def.packages.image, headersCommon: def.packages.headersCommon, headers: def.packages.headers }, toolchain: def.toolchain, release: def.release, suite: def.suite, arch: def.arch, description: def.description, id: def.id }));
  const text = renderImage(shuffled);
  t.ok(text.endsWith('}\n'));
  t.same(Object.keys(JSON.parse(text)), ['id', 'description', 'arch', 'suite', 'release', 'packages', 'toolchain', 'qemu']);
  t.notOk('binary' in JSON.parse(text).qemu, 'what the arch record says is not repeated in the file');
  t.same(Object.keys(JSON.parse(text).packages), ['image', 'headers', 'headersCommon', 'kbuild']);
  t.same(Object.keys(JSON.parse(text).packages.kbuild), ['name', 'version', 'arch', 'sha256', 'filename']);
});

t.test('withPins rewrites release and pins, keeps the rest', async (t) => {
  const def = loadImages().find((i) => i.id === DEFAULT_IMAGE_ID)! as DebianImageSpec;
  const pin = (name: string) => ({ name, version: '6.1.999-1', arch: 'amd64', sha256: 'a'.repeat(64), filename: `pool/${name}.deb` });
  const next = withPins(def, '6.1.0-99-amd64', { image: pin('linux-image-6.1.0-99-amd64'), headers: pin('linux-headers-6.1.0-99-amd64'), headersCommon: pin('c'), kbuild: pin('k') });
  const reparsed = parseImage(`images/${DEFAULT_IMAGE_ID}.json`, renderImage(next)) as DebianImageSpec;
  t.equal(reparsed.release, '6.1.0-99-amd64');
  t.equal(reparsed.packages.image.version, '6.1.999-1');
  t.same(reparsed.qemu, def.qemu);
  t.same(reparsed.toolchain, def.toolchain);
  t.equal(def.release, readFileSync(join(imagesDir, `${DEFAULT_IMAGE_ID}.json`), 'utf8').match(/"release": "([^"]+)"/)![1], 'the input is not mutated');
});

t.test('imagesList', async (t) => {
  const list = imagesList();
  t.equal(list.filter((i) => i.isDefault).length, 1);
  t.match(list.find((i) => i.id === DEFAULT_IMAGE_ID), { arch: 'x86_64', suite: 'bookworm', release: /^6\.1\./ });
});

t.test('a pin that records its pocket: validated, rendered after filename, listed', async (t) => {
  const spec = loadImages().find((i) => i.id === DEFAULT_IMAGE_ID) as DebianImageSpec;
  const next = withPins(spec, spec.release, { ...spec.packages, image: { ...spec.packages.image, pocket: 'bookworm-security' } });
  const text = renderImage(next);
  t.match(text, /"filename": "[^"]+",\n\s+"pocket": "bookworm-security"\n/);
  const dir = mkdtempSync(join(tmpdir(), 'ktest-images-pocket-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, `${spec.id}.json`), text);
  t.match(imagesList({ imagesDir: dir }), [{ id: spec.id, pocket: 'bookworm-security' }]);
  t.throws(() => parseImage('x.json', text.replace('"bookworm-security"', '""')), /packages\.image\.pocket/);
});

t.test('a built image re-pins its source package; the release follows the upstream version; the file round-trips', async (t) => {
  t.equal(upstreamVersion('6.1.176-1'), '6.1.176');
  t.equal(upstreamVersion('6.1.192-3'), '6.1.192');
  const debug = loadImages().find((i) => i.id === 'bookworm-6.1-debug') as BuiltImageSpec;
  const pin = { name: 'linux-source-6.1', version: '6.1.192-3', arch: 'all', sha256: 'b'.repeat(64), filename: 'pool/main/l/linux/linux-source-6.1_6.1.192-3_all.deb' };
  const next = withSourcePin(debug, pin);
  t.equal(next.release, '6.1.192-ktest-debug');
  t.same(next.packages, { source: pin });
  t.same(next.build, debug.build, 'fragments and patches kept');
  const reparsed = parseImage('images/bookworm-6.1-debug.json', renderImage(next)) as BuiltImageSpec;
  t.equal(reparsed.kind, 'built');
  t.equal(reparsed.packages.source.version, '6.1.192-3');
  t.same(Object.keys(JSON.parse(renderImage(debug))), ['id', 'description', 'kind', 'arch', 'suite', 'release', 'packages', 'build', 'toolchain', 'qemu']);
  const row = imagesList().find((r) => r.id === 'bookworm-6.1-debug');
  t.equal(row?.version, debug.packages.source.version, 'images list shows the source version');
});

t.test('formatSnapshotList: total against the bound, how to clear, one line per snapshot with its machine', async (t) => {
  const { formatSnapshotList } = await import('../../../rig/cli/images.ts');
  const now = new Date('2026-12-02T08:00:00Z');
  const record = { inputs: { argv: ['qemu', '-m', '256', '-smp', '2', '-append', 'console=ttyS0 slub_debug=FZPU'] } } as never;
  const text = formatSnapshotList(
    [{ name: 'bookworm-6.1-abc', image: 'bookworm-6.1', key: 'abcdef0123456789abcdef01', bytes: 80 * 1048576, lastUsed: new Date('2026-12-02T07:50:00Z'), record }],
    '/c/snapshots',
    1024 * 1048576,
    now,
  );
  t.match(text, 'snapshots in /c/snapshots: 1, 80 MB of 1024 MB');
  t.match(text, 'rig images clear');
  t.match(text, /bookworm-6\.1\s+abcdef012345\s+80 MB\s+-smp 2 -m 256 debug\s+used 10 min ago/);
  t.match(formatSnapshotList([], '/c/snapshots', 1048576, now), 'snapshots in /c/snapshots: 0, 0 MB of 1 MB');
});

// Image files: validation errors name the file and field; resolve ids, lists and `all`.
import t from 'tap';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../../../rig/core/errors.ts';
import { DEFAULT_IMAGE_ID, imagesDir, loadImages, parseImage, parseKernels, resolveImages, validateImage } from '../../../rig/kernels/images.ts';
import { ARCHES } from '../../../rig/platform/arch/index.ts';

const goodText = readFileSync(join(imagesDir, `${DEFAULT_IMAGE_ID}.json`), 'utf8');
const good = (): Record<string, any> => JSON.parse(goodText);

t.test('every committed image validates, and the default is among them', async (t) => {
  const all = loadImages();
  t.ok(all.length >= 2);
  t.ok(all.some((i) => i.id === DEFAULT_IMAGE_ID));
  t.ok(all.some((i) => i.id === 'bullseye-5.10'));
  for (const i of all) for (const pin of Object.values(i.packages)) t.equal(pin.sha256.length, 64, `${i.id} pins ${pin.name} by sha256`);
});

t.test('a missing or wrong field is a UsageError naming the file and the field', async (t) => {
  const cases: Array<[string, (o: Record<string, any>) => void]> = [
    ['release', (o) => delete o.release],
    ['packages.headers', (o) => delete o.packages.headers],
    ['packages.kbuild.sha256', (o) => (o.packages.kbuild.sha256 = 'abc')],
    ['packages.image.version', (o) => (o.packages.image.version = 7)],
    ['arch', (o) => (o.arch = 'riscv')],
    ['toolchain.kind', (o) => (o.toolchain.kind = 'magic')],
    ['toolchain.suite', (o) => (o.toolchain.kind = 'buildroot')],
    ['qemu.commandChannel', (o) => (o.qemu.commandChannel = 'usb')],
    ['qemu.append', (o) => (o.qemu.append = 'panic=-1')],
    ['qemu.memoryMb', (o) => (o.qemu.memoryMb = 12)],
    ['qemu.console', (o) => (o.qemu.console = '')],
    ['qemu.filesChannel', (o) => (o.qemu.filesChannel = 'usb')],
    ['qemu', (o) => (o.qemu = 'pc')],
  ];
  for (const [field, mutate] of cases) {
    const o = good();
    mutate(o);
    const err = t.throws(() => validateImage('images/x.json', o), UsageError, field) as unknown as UsageError;
    t.match(err.message, 'images/x.json', `${field}: names the file`);
    t.match(err.message, `"${field}"`, `${field}: names the field`);
    t.equal(err.exitCode, 2);
  }
  t.doesNotThrow(() => validateImage('images/x.json', good()));
});

t.test('QEMU settings: the arch record, then the image\'s overrides', async (t) => {
  const o = good();
  delete o.qemu;
  const plain = validateImage('images/x.json', o);
  t.equal(plain.qemu.binary, ARCHES.x86_64.qemu.binary, 'no qemu section: all from the arch record');
  t.equal(plain.qemu.commandPort, 'ttyS1');
  const arm = good();
  arm.arch = 'arm64';
  arm.qemu = { cpu: 'max' };
  const spec = validateImage('images/x.json', arm);
  t.equal(spec.qemu.cpu, 'max', 'an override wins');
  t.equal(spec.qemu.machine, 'virt', 'the rest from the arm64 record');
  t.same(spec.qemu.guestModules, ARCHES.arm64.qemu.guestModules);
});

t.test('malformed JSON and an id that does not match the file name', async (t) => {
  t.throws(() => parseImage('images/bookworm-6.1.json', '{ "id": '), { name: 'UsageError', message: /bookworm-6\.1\.json: malformed JSON/ });
  t.throws(() => parseImage('images/other.json', goodText), { message: /field "id"/ });
  t.equal(parseImage(`images/${DEFAULT_IMAGE_ID}.json`, goodText).id, DEFAULT_IMAGE_ID);
});

t.test('loadImages reads a directory and fails on a bad file in it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'images-'));
  writeFileSync(join(dir, `${DEFAULT_IMAGE_ID}.json`), goodText);
  t.same(loadImages(dir).map((i) => i.id), [DEFAULT_IMAGE_ID]);
  const o = good();
  o.id = 'broken';
  o.qemu.console = 7;
  writeFileSync(join(dir, 'broken.json'), JSON.stringify(o));
  t.throws(() => loadImages(dir), { message: /broken\.json: field "qemu\.console"/ });
});

t.test('resolveImages: one id, a comma list, all, and unknown ids', async (t) => {
  const all = loadImages();
  t.same(resolveImages('bookworm-6.1', all).map((i) => i.id), ['bookworm-6.1']);
  t.same(resolveImages(undefined, all).map((i) => i.id), [DEFAULT_IMAGE_ID]);
  t.same(resolveImages('bullseye-5.10, bookworm-6.1,bullseye-5.10', all).map((i) => i.id), ['bullseye-5.10', 'bookworm-6.1']);
  t.same(resolveImages('all', all).map((i) => i.id), all.filter((i) => i.kind !== 'built').map((i) => i.id), 'all: the Debian-kernel images');
  t.notOk(resolveImages('all', all).some((i) => i.id === 'bookworm-6.1-debug'), 'all leaves out the image the rig would compile for 15 minutes');
  t.same(resolveImages('bookworm-6.1-debug', all).map((i) => i.id), ['bookworm-6.1-debug'], 'a built image by name');
  const err = t.throws(() => resolveImages('bookworm-6.1,nope-9', all), UsageError) as unknown as UsageError;
  t.match(err.message, /unknown image "nope-9"/);
  for (const i of all) t.match(err.message, i.id, 'lists the valid ids');
  t.throws(() => resolveImages(' , ', all), UsageError);
});

t.test('parseKernels: ids (repeated, comma-separated, duplicates dropped), all alone, or the default', async (t) => {
  t.strictSame(parseKernels(undefined), { kind: 'default' });
  t.strictSame(parseKernels(['a', 'a,b']), { kind: 'ids', ids: ['a', 'b'] });
  t.strictSame(parseKernels(['all']), { kind: 'all' });
  for (const [bad, why] of [[['all,a'], /all cannot be combined/], [['a,,b'], /empty id/], [['a/b'], /not an image id/]] as const) {
    t.throws(() => parseKernels(bad), { constructor: UsageError, message: why, hint: /images/ }, bad.join(' '));
  }
});

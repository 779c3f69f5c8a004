// The default image end to end on the real archive: fetch into the cache, build kmod/, a broken module, and the guest programs.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync, mkdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildGuestPrograms, buildModule } from '../../rig/build/module.ts';
import { elfSectionNames } from '../../rig/platform/elf.ts';
import { BuildError, ExitCode, PinGoneError } from '../../rig/core/errors.ts';
import { prepareKernel } from '../../rig/kernels/fetch.ts';
import { debPath } from '../../rig/kernels/debs.ts';
import { DEFAULT_IMAGE_ID, loadImages, resolveImages } from '../../rig/kernels/images.ts';
import { imagesUpdate, renderImage } from '../../rig/cli/images.ts';
import { checkVmlinux } from '../../rig/kernels/vmlinux.ts';
import { cacheRoot, projectRoot } from '../../rig/core/paths.ts';
import type { DebianImageSpec } from '../../rig/kernels/spec.ts';

// A first run downloads about 90 MB of kernel packages; later runs use the cache ($KTEST_RIG_CACHE in CI).
t.setTimeout(15 * 60_000);

const image = resolveImages(DEFAULT_IMAGE_ID)[0] as DebianImageSpec;
const work = mkdtempSync(join(tmpdir(), 'ktest-build-'));

t.test('default image: prepare, then build against it', async (t) => {
  const kernel = await prepareKernel(image, { cacheDir: cacheRoot() });
  t.equal(await checkVmlinux(kernel.kernelPath), undefined, 'vmlinux is a PVH-bootable ELF');
  t.ok(statSync(kernel.vmlinuzPath).size > 1_000_000, 'the original bzImage is kept');
  t.match(readFileSync(join(kernel.headersDir, 'Makefile'), 'utf8'), `include ${cacheRoot()}`, 'headers Makefile points into the cache');
  t.ok(existsSync(join(kernel.modulesDir!, 'modules.order')));

  const started = Date.now();
  const again = await prepareKernel(image, {
    cacheDir: cacheRoot(),
    download: async (pin) => {
      throw new Error(`second run tried to download ${pin.name}`);
    },
  });
  t.same(again, kernel, 'second run: same paths, no download');
  t.ok(Date.now() - started < 2000, 'second run is a cheap check');

  const mods = await buildModule({ kernel, sourceDir: join(projectRoot, 'kmod'), outDir: join(work, 'kmod') });
  const ktest = mods.find((m) => m.name === 'ktest');
  t.ok(ktest, 'ktest.ko built');
  t.ok(elfSectionNames(readFileSync(ktest!.koPath)).includes('.debug_info'), 'with debug info');
  t.equal(execFileSync('modinfo', ['-F', 'vermagic', ktest!.koPath], { encoding: 'utf8' }).split(' ')[0], image.release, 'vermagic names the image kernel');

  const broken = existsSync(join(projectRoot, 'test/fixtures/kmods/broken-compile'))
    ? join(projectRoot, 'test/fixtures/kmods/broken-compile')
    : brokenModule(join(work, 'broken-src'));
  const err = (await t.rejects(buildModule({ kernel, sourceDir: broken, outDir: join(work, 'broken') }), BuildError)) as unknown as BuildError;
  t.equal(err.exitCode, ExitCode.build, 'exit 4');
  t.match(err.firstError, /^\S+\.c:\d+:\d+: (fatal )?error: /, 'the first compiler error line');
  t.match(err.firstError, broken, 'named by the source path, not the build copy');
  t.match(err.log, /make/, 'full log kept');
});

t.test('guest programs: static x86_64 binaries', async (t) => {
  const out = await buildGuestPrograms({ arch: 'x86_64', outDir: join(work, 'guest') });
  for (const path of [out.nlclient, out.agent]) {
    const elf = readFileSync(path);
    t.equal(elf.readUInt32BE(0), 0x7f454c46, `${path} is an ELF`);
    t.notMatch(execFileSync('file', ['-b', path], { encoding: 'utf8' }), /dynamically linked/, `${path} is static`);
    t.ok(elf.length < 500_000, `${path} is small (musl)`);
  }
});

t.test('a pin that left the archive is a PinGoneError pointing at images update', async (t) => {
  const gone = { ...image, packages: { ...image.packages, kbuild: { ...image.packages.kbuild, version: '6.1.1-1', sha256: '0'.repeat(64) } } };
  const err = await t.rejects(prepareKernel(gone, { cacheDir: cacheRoot() }), PinGoneError);
  t.match((err as unknown as PinGoneError).message, /linux-kbuild-6\.1 6\.1\.1-1 is no longer in the Debian archive/);
  t.match((err as unknown as PinGoneError).hint, 'npm run rig -- images update');
});

t.test('images update re-pins a stale image file from the archive', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ktest-images-'));
  const stale = { ...image, packages: { ...image.packages, image: { ...image.packages.image, version: '6.1.0-0', sha256: '0'.repeat(64) } } };
  writeFileSync(join(dir, `${image.id}.json`), renderImage(stale));
  const [result] = await imagesUpdate(image.id, { imagesDir: dir, cacheDir: cacheRoot() });
  t.equal(result.changed, true);
  t.equal(result.from.version, '6.1.0-0');
  const [updated] = loadImages(dir) as DebianImageSpec[];
  t.equal(updated.packages.image.name, `linux-image-${updated.release}`);
  t.match(updated.release, /^6\.1\.0-\d+-amd64$/, 'same flavour and series');
  t.equal(updated.packages.headers.version, updated.packages.image.version);
  for (const pin of Object.values(updated.packages)) t.ok(existsSync(debPath(pin, cacheRoot())), `${pin.name} downloaded and verified`);
  const [again] = await imagesUpdate(image.id, { imagesDir: dir, cacheDir: cacheRoot() });
  t.equal(again.changed, false, 'a second update changes nothing');
});

function brokenModule(dir: string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'Kbuild'), 'obj-m := broken.o\n');
  writeFileSync(join(dir, 'broken.c'), '#include <linux/module.h>\nstatic int __init b_init(void) { return nope; }\nmodule_init(b_init);\nMODULE_LICENSE("GPL");\n');
  return dir;
}

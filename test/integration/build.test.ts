// The default image end to end on the real archive: fetch into the cache, build kmod/, a broken module, and the guest programs.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync, mkdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildGuestPrograms, buildModule, elfSectionNames } from '../../rig/build.ts';
import { BuildError, ExitCode } from '../../rig/errors.ts';
import { prepareKernel } from '../../rig/fetch.ts';
import { DEFAULT_IMAGE_ID, resolveImages } from '../../rig/images.ts';
import { checkVmlinux } from '../../rig/kernel-image.ts';
import { cacheRoot, projectRoot } from '../../rig/paths.ts';

// A first run downloads about 90 MB of kernel packages; later runs use the cache ($KTEST_RIG_CACHE in CI).
t.setTimeout(15 * 60_000);

const [image] = resolveImages(DEFAULT_IMAGE_ID);
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

function brokenModule(dir: string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'Kbuild'), 'obj-m := broken.o\n');
  writeFileSync(join(dir, 'broken.c'), '#include <linux/module.h>\nstatic int __init b_init(void) { return nope; }\nmodule_init(b_init);\nMODULE_LICENSE("GPL");\n');
  return dir;
}

// Integration: for every non-default image, fetch the kernel, build kmod/ with the image's toolchain, build the guest programs, get busybox.
import t from 'tap';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyboxFor } from '../../rig/build/busybox.ts';
import { elfInfo } from '../../rig/platform/elf.ts';
import { ARCHES } from '../../rig/platform/arch/index.ts';
import { buildRootDir, buildRootIsValid } from '../../rig/build/buildroot.ts';
import { buildGuestPrograms, buildModule } from '../../rig/build/module.ts';
import { prepareKernel } from '../../rig/kernels/fetch.ts';
import { DEFAULT_IMAGE_ID, loadImages } from '../../rig/kernels/images.ts';
import { cacheRoot, projectRoot } from '../../rig/core/paths.ts';
import type { RunEvent } from '../../rig/report/results.ts';

// Cold: ~150 MB of .debs per image and a ~350 MB build root per suite (40-80 s each). Warm: seconds.
t.setTimeout(30 * 60_000);

const only = process.env.KTEST_RIG_MATRIX_IMAGES?.split(',');
// Built images (the debug kernel) have their own test: test/integration/debug-kernel.test.ts.
const images = loadImages().filter((i) => i.id !== DEFAULT_IMAGE_ID && i.kind !== 'built' && (!only || only.includes(i.id)));
const cacheDir = cacheRoot();

for (const image of images) {
  t.test(`${image.id}: kernel, module and guest programs`, async (t) => {
    const events: RunEvent[] = [];
    const onEvent = (e: RunEvent) => events.push(e);
    const work = await mkdtemp(join(tmpdir(), `ktest-matrix-${image.id}-`));
    t.teardown(() => rm(work, { recursive: true, force: true }));

    let started = Date.now();
    const kernel = await prepareKernel(image, { cacheDir, onEvent });
    t.comment(`${image.id}: kernel ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const head = await readFile(kernel.kernelPath).then((b) => b.subarray(0, 4096));
    if (image.arch === 'x86_64') t.equal(elfInfo(head)?.machine, ARCHES.x86_64.elfMachine, 'decompressed x86_64 vmlinux');
    else t.equal(head.toString('latin1', 56, 60), 'ARM\x64', 'arm64 Image magic');

    started = Date.now();
    const modules = await buildModule({ kernel, sourceDir: join(projectRoot, 'kmod'), outDir: join(work, 'kmod'), onEvent });
    const seconds = (Date.now() - started) / 1000;
    const created = events.find((e) => e.type === 'log' && e.message.includes('build root ready'));
    if (created && created.type === 'log') t.comment(created.message);
    t.comment(`${image.id}: module build ${seconds.toFixed(1)} s${created ? ' (including the build root)' : ''}`);
    if (image.toolchain.kind === 'buildroot') t.ok(await buildRootIsValid(image.toolchain, buildRootDir(image.toolchain, cacheDir)), 'a valid build root is cached');
    t.same(modules.map((m) => m.name), ['ktest']);
    const ko = await readFile(modules[0].koPath);
    t.equal(elfInfo(ko)?.machine, ARCHES[image.arch].elfMachine, `ktest.ko is a ${image.arch} object`);
    const vermagic = /vermagic=(\S+)/.exec(ko.toString('latin1'))?.[1];
    t.equal(vermagic, image.release, 'vermagic names the image kernel');

    const programs = await buildGuestPrograms({ arch: image.arch, outDir: join(work, 'guest'), cacheDir });
    for (const [name, path] of Object.entries(programs)) {
      const info = elfInfo(await readFile(path));
      t.equal(info?.machine, ARCHES[image.arch].elfMachine, `${name} is for ${image.arch}`);
      t.equal(info?.dynamic, false, `${name} is static`);
    }
    const busybox = await busyboxFor(image.arch, { cacheDir, onEvent });
    const bb = elfInfo(await readFile(busybox));
    t.equal(bb?.machine, ARCHES[image.arch].elfMachine, `busybox is for ${image.arch}`);
    t.equal(bb?.dynamic, false, 'busybox is static');
  });
}

// Module coverage (--coverage), the build side: which kernels can count a module's lines (CONFIG_GCOV_KERNEL),
// the kbuild switch that profiles the module, and the gcov tool that reads its counters.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../core/errors.ts';
import { imagesDir as defaultImagesDir, loadImages } from '../kernels/images.ts';
import { isBuiltImage, type ImageSpec, type ToolchainSpec } from '../kernels/spec.ts';
import { parseDotConfig, parseFragment } from './kernel.ts';

/** The kernel option that exports a profiled module's counters under /sys/kernel/debug/gcov. */
export const GCOV_OPTION = 'CONFIG_GCOV_KERNEL';

/** kbuild's switch: every object of the M= directory compiled with -fprofile-arcs -ftest-coverage. */
export const GCOV_MAKE_ARG = 'GCOV_PROFILE=y';

/** Where the kernel shows a profiled object's counters: this root, then the object's build directory as it was compiled. */
export const GUEST_GCOV_ROOT = '/sys/kernel/debug/gcov';

/** The kernel's configuration file in a prepared tree: the headers' .config (Debian) or the build's out/.config. Pure. */
export function kernelConfigPath(headersDir: string): string {
  return join(headersDir, '.config');
}

/** Whether a kernel configuration has gcov support. Pure. */
export function configHasGcov(configText: string): boolean {
  return parseDotConfig(configText).get(GCOV_OPTION) === 'y';
}

/** Ids of the images whose configuration fragments turn gcov on (the rig builds those kernels itself). */
export async function gcovImages(images: readonly ImageSpec[] = loadImages(), dir = defaultImagesDir): Promise<string[]> {
  const out: string[] = [];
  for (const image of images) {
    if (!isBuiltImage(image)) continue;
    const asked = new Map<string, string>();
    for (const f of image.build.fragments) for (const o of parseFragment(await readFile(join(dir, f), 'utf8'))) asked.set(o.name, o.value);
    if (asked.get(GCOV_OPTION) === 'y') out.push(image.id);
  }
  return out;
}

/** The refusal for an image whose kernel cannot count: one line naming the images that can. Pure. */
export function noGcovError(imageId: string, withGcov: readonly string[]): UsageError {
  const names = withGcov.join(', ');
  return new UsageError(`--coverage: the kernel of ${imageId} has no gcov support (${GCOV_OPTION} is not set)${withGcov.length ? `; ${names} has it` : ''}`, {
    hint: withGcov.length ? `npm run rig -- --kernel ${withGcov[0]} --coverage` : `build a kernel with ${GCOV_OPTION}=y (a built image, images/*.json with "kind": "built")`,
  });
}

/** Refuses (exit 2) a kernel whose configuration lacks gcov support. */
export async function requireGcov(kernel: { readonly image: ImageSpec; readonly headersDir: string }): Promise<void> {
  const text = await readFile(kernelConfigPath(kernel.headersDir), 'utf8').catch(() => '');
  if (!configHasGcov(text)) throw noGcovError(kernel.image.id, await gcovImages());
}

/** The gcov that reads what the image's compiler wrote (gcc-12 -> gcov-12, aarch64-linux-gnu-gcc-12 -> aarch64-linux-gnu-gcov-12). Pure. */
export function gcovTool(toolchain: Pick<ToolchainSpec, 'cc' | 'crossCompile'>): string {
  return `${toolchain.crossCompile ?? ''}${toolchain.cc.replace(/gcc/, 'gcov')}`;
}

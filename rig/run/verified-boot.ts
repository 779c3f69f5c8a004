// Before a guest that never answered is blamed on the kernel, the full check of the image's cache entry: a damaged tree is made again and the boot retried once.
import { join, resolve } from 'node:path';
import { GuestError } from '../core/errors.ts';
import type { EventSink } from '../core/events.ts';
import { cacheRoot } from '../core/paths.ts';
import type { ImageSpec } from '../kernels/spec.ts';
import { checkTree, kernelDirName, prepareKernel } from '../kernels/fetch.ts';

export interface VerifiedBootOptions {
  readonly image: ImageSpec;
  readonly cacheDir?: string;
  readonly onEvent: EventSink;
}

/**
 * Run `boot`; when it fails as a guest failure (no answer, panic during boot), hash every file of the
 * image's kernel tree against its record. A damaged tree is named, made again from verified packages,
 * and the boot is tried once more; an intact tree lets the guest failure stand.
 */
export async function verifiedBoot<T>(o: VerifiedBootOptions, boot: () => Promise<T>): Promise<T> {
  try {
    return await boot();
  } catch (error) {
    if (!(error instanceof GuestError)) throw error;
    const cacheDir = resolve(o.cacheDir ?? cacheRoot());
    const dir = join(cacheDir, 'kernels', kernelDirName(o.image));
    const state = await checkTree(dir, 'full');
    if (state.ok) throw error;
    o.onEvent({ type: 'log', level: 'warn', message: `cache: the guest did not start (${error.message}) and the kernel tree of ${o.image.id} is damaged (${state.problem}): not the kernel's fault; making it again and booting once more` });
    await prepareKernel(o.image, { cacheDir, onEvent: o.onEvent, check: 'full' });
    return boot();
  }
}

// Workflow glue: prints `matrix=<json>` (images from images/*.json, optionally sharded) for $GITHUB_OUTPUT.
import { pathToFileURL } from 'node:url';
import { formatError } from '../../rig/core/errors.ts';
import { loadImages, resolveImages } from '../../rig/kernels/images.ts';
import { githubMatrix } from '../../rig/run/plan.ts';
import type { ImageSpec } from '../../rig/kernels/spec.ts';

/** The $GITHUB_OUTPUT line for `kernels` (an id, a comma list, or all) split into `shards` jobs each. */
export function matrixOutput(kernels: string, shards: string, all: readonly ImageSpec[] = loadImages()): string {
  const n = shards.trim() === '' ? 1 : Number(shards);
  const images = resolveImages(kernels.trim() === '' ? 'all' : kernels, all);
  return `matrix=${JSON.stringify(githubMatrix(images, n))}`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    process.stdout.write(`${matrixOutput(process.argv[2] ?? 'all', process.argv[3] ?? '1')}\n`);
  } catch (error) {
    process.stderr.write(`${formatError(error)}\n`);
    process.exitCode = 2;
  }
}

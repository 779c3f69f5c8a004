// A whole run: the selected scenarios on each selected image, images in parallel up to --jobs.
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { mkdir, rm } from 'node:fs/promises';
import { runImage, type ImageRunOptions } from './image.ts';
import { pool } from '../core/pool.ts';
import type { Scenario } from '../scenario/api.ts';
import type { ImageSpec, RunSummary } from '../core/types.ts';

/** What runImage takes, for every image of the plan; workDir is the run's (each image gets a subdirectory). */
export interface RigRunOptions extends Omit<ImageRunOptions, 'image' | 'scenarios' | 'lanes'> {
  /** Each image with the scenarios it runs (after --only and --shard). */
  readonly plan: readonly { readonly image: ImageSpec; readonly scenarios: readonly Scenario[] }[];
  /** Guests at once, all images together (default: one per core). */
  readonly jobs?: number;
}

/** Default parallelism: one guest per core (each TCG guest keeps a core busy). */
export function defaultJobs(): number {
  return Math.max(1, availableParallelism());
}

/**
 * How `jobs` guests are shared: images in parallel first, then the spare guests as lanes inside each
 * image (scenarios of one image in guests of their own, all restored from the same snapshot). Pure.
 */
export function splitJobs(jobs: number, images: number): { images: number; lanes: number } {
  const parallelImages = Math.max(1, Math.min(jobs, images));
  return { images: parallelImages, lanes: Math.max(1, Math.floor(jobs / parallelImages)) };
}

export async function runRig(o: RigRunOptions): Promise<RunSummary[]> {
  const split = splitJobs(o.jobs ?? defaultJobs(), o.plan.length);
  return pool(o.plan, split.images, async ({ image, scenarios }) => {
    const workDir = join(o.workDir, image.id);
    await mkdir(workDir, { recursive: true });
    try {
      return await runImage({ ...o, image, scenarios, workDir, lanes: split.lanes });
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  });
}

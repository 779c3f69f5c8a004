// A whole run: the selected scenarios on each selected image, images in parallel up to --jobs.
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { mkdir, rm } from 'node:fs/promises';
import { runImage, type ImageRunOptions } from './image.ts';
import { pool } from '../core/pool.ts';
import { BuildError, RigError, exitCodeOf } from '../core/errors.ts';
import type { Scenario } from '../scenario/api.ts';
import type { ImageSpec } from '../kernels/spec.ts';
import type { RunSummary } from '../report/results.ts';

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
    } catch (error) {
      // One image's failure (its module did not build, its kernel did not download) is that image's
      // result: the other images go on and every report still gets written.
      const summary = imageErrorSummary(image, error);
      if (error instanceof BuildError) o.onEvent({ type: 'log', level: 'debug', message: `[${image.id}] build log:\n${error.log}` });
      o.onEvent({ type: 'run-end', summary });
      return summary;
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  });
}

/** The result of an image that could not run: no scenarios, and the error that stopped it. Pure. */
export function imageErrorSummary(image: ImageSpec, error: unknown): RunSummary {
  const e = error instanceof Error ? error : new Error(String(error));
  return {
    image: image.id,
    kernel: image.release,
    arch: image.arch,
    accel: 'none',
    scenarios: [],
    passed: 0,
    failed: 0,
    error: {
      name: e.name,
      message: e.message,
      exitCode: exitCodeOf(error),
      ...(error instanceof RigError && error.hint ? { hint: error.hint } : {}),
    },
  };
}

// A whole run: the selected scenarios on each selected image, images in parallel up to --jobs.
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { mkdir, rm } from 'node:fs/promises';
import { runImage } from './engine.ts';
import { pool } from './pool.ts';
import type { Scenario } from './scenario-api.ts';
import type { EventSink } from './events.ts';
import type { Accel, ImageSpec, RunSummary } from './types.ts';

export interface RigRunOptions {
  /** Each image with the scenarios it runs (after --only and --shard). */
  readonly plan: readonly { readonly image: ImageSpec; readonly scenarios: readonly Scenario[] }[];
  readonly kmodDir: string;
  readonly jobs?: number;
  readonly snapshot: boolean;
  readonly debug: boolean;
  readonly workDir: string;
  readonly logsDir?: string;
  readonly cacheDir?: string;
  readonly accel?: Accel;
  readonly onEvent: EventSink;
}

/** Default parallelism: one guest per core (each TCG guest keeps a core busy). */
export function defaultJobs(): number {
  return Math.max(1, availableParallelism());
}

export async function runRig(o: RigRunOptions): Promise<RunSummary[]> {
  const jobs = Math.max(1, Math.min(o.jobs ?? defaultJobs(), o.plan.length));
  return pool(o.plan, jobs, async ({ image, scenarios }) => {
    const workDir = join(o.workDir, image.id);
    await mkdir(workDir, { recursive: true });
    try {
      return await runImage({ ...o, image, scenarios, workDir });
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  });
}

// The kernel x scenario matrix: stable work items, deterministic shards, the GitHub matrix (its job summary: report/github.ts).
import { UsageError } from '../core/errors.ts';
import type { Arch } from '../platform/arch/index.ts';
import type { ImageSpec } from '../kernels/spec.ts';

/** One scenario on one image: the unit that shards are made of. */
export interface WorkItem {
  readonly image: string;
  readonly arch: Arch;
  readonly scenario: string;
}

const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Every (image, scenario) pair in a stable order: images by id, scenarios by name, whatever order
 * the caller found them in (directory listings differ between machines).
 */
export function workItems(images: readonly ImageSpec[], scenarioNames: readonly string[]): WorkItem[] {
  const ids = new Set<string>();
  for (const image of images) {
    if (ids.has(image.id)) throw new UsageError(`image ${image.id} is listed twice`);
    ids.add(image.id);
  }
  const scenarios = [...new Set(scenarioNames)].sort(byText);
  return [...images]
    .sort((a, b) => byText(a.id, b.id))
    .flatMap((image) => scenarios.map((scenario) => ({ image: image.id, arch: image.arch, scenario })));
}

/**
 * Shard `index` of `count` (1-based, as in `--shard I/N`): items are dealt round-robin, so every
 * shard gets a share of every image and the shards together hold each item exactly once.
 */
export function shard<T>(items: readonly T[], index: number, count: number): T[] {
  if (!Number.isInteger(count) || count < 1) throw new UsageError(`shard count must be a positive integer, got ${count}`);
  if (!Number.isInteger(index) || index < 1 || index > count) {
    throw new UsageError(`shard index must be between 1 and ${count}, got ${index}`);
  }
  return items.filter((_, k) => k % count === index - 1);
}

/** One entry of the workflow matrix: what a matrix job needs to pick its runner and kernel. */
export interface GithubMatrixEntry {
  readonly image: string;
  readonly arch: Arch;
  readonly suite: string;
  readonly release: string;
  /** `I/N` for `--shard`, when the scenarios of an image are split over several jobs. */
  readonly shard?: string;
}

/**
 * The `strategy.matrix` JSON for a workflow, built from images/ (never copied into YAML by hand):
 * one entry per image, or per image and shard when `shards` > 1.
 */
export function githubMatrix(images: readonly ImageSpec[], shards = 1): { include: GithubMatrixEntry[] } {
  if (!Number.isInteger(shards) || shards < 1) throw new UsageError(`shards must be a positive integer, got ${shards}`);
  return {
    include: [...images]
      .sort((a, b) => byText(a.id, b.id))
      .flatMap((image) => {
        const entry = { image: image.id, arch: image.arch, suite: image.suite, release: image.release };
        if (shards === 1) return [entry];
        return Array.from({ length: shards }, (_, k) => ({ ...entry, shard: `${k + 1}/${shards}` }));
      }),
  };
}

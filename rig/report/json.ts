// JSON report. One image: {image, kernel, arch, accel, scenarios, passed, failed}; several: {runs: [...], passed, failed}.
import type { RunSummary, ScenarioFailure, ScenarioStatus } from '../core/types.ts';
import { writeFileAtomic } from './write.ts';

export interface JsonScenario {
  readonly name: string;
  readonly status: ScenarioStatus;
  readonly durationMs: number;
  readonly failure?: ScenarioFailure;
}

export interface JsonRun {
  readonly image: string;
  readonly kernel: string;
  readonly arch: string;
  readonly accel: string;
  readonly scenarios: readonly JsonScenario[];
  readonly passed: number;
  readonly failed: number;
}

/** Several images: each run as for one image, and the totals. */
export interface JsonRuns {
  readonly runs: readonly JsonRun[];
  readonly passed: number;
  readonly failed: number;
}

export function jsonRun(s: RunSummary): JsonRun {
  return {
    image: s.image,
    kernel: s.kernel,
    arch: s.arch,
    accel: s.accel,
    scenarios: s.scenarios.map((r) => ({ name: r.name, status: r.status, durationMs: r.durationMs, ...(r.failure && { failure: r.failure }) })),
    passed: s.passed,
    failed: s.failed,
  };
}

/** The JSON document: a single run object for one image, {runs, passed, failed} for several (or none). */
export function jsonReport(runs: readonly RunSummary[]): JsonRun | JsonRuns {
  if (runs.length === 1) return jsonRun(runs[0]);
  return { runs: runs.map(jsonRun), passed: runs.reduce((n, r) => n + r.passed, 0), failed: runs.reduce((n, r) => n + r.failed, 0) };
}

export function formatJson(runs: readonly RunSummary[]): string {
  return `${JSON.stringify(jsonReport(runs), null, 2)}\n`;
}

/** Writes the JSON report atomically (temp file + rename). */
export async function writeJsonReport(path: string, runs: readonly RunSummary[]): Promise<void> {
  await writeFileAtomic(path, formatJson(runs));
}

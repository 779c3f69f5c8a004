// JSON report: one shape whatever the number of images, versioned ({schemaVersion, tool, startedAt,
// runs: [...], totals}); README's "Reports" section describes every field. Pure + atomic write.
import { writeFileSync, renameSync } from 'node:fs';
import type { ImageError, RunSummary, ScenarioResult } from './results.ts';
import { writeFileAtomic } from './write.ts';
import type { CoverageReport } from './coverage.ts';

/** Bumped when a field changes meaning or goes away (adding a field keeps the version). */
export const JSON_SCHEMA_VERSION = 2;

/** A scenario in the JSON report: its result without the image (the run it sits in names that). */
export type JsonScenario = Omit<ScenarioResult, 'image'>;

export interface JsonRun {
  readonly image: string;
  readonly kernel: string;
  readonly arch: string;
  /** kvm or tcg for guests, host for --target host, none when the image did not get as far as a guest. */
  readonly accel: string;
  readonly scenarios: readonly JsonScenario[];
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
  /** The image could not run (build, download, QEMU...): its scenarios are absent. */
  readonly error?: ImageError;
  /** --coverage: where the tracefiles and HTML are, per-file and total line/function/branch counts, and each scenario's. */
  readonly coverage?: CoverageReport;
}

export interface JsonReport {
  readonly schemaVersion: typeof JSON_SCHEMA_VERSION;
  readonly tool: { readonly name: 'ktest-rig'; readonly version: string };
  /** ISO 8601 times of the run. */
  readonly startedAt: string;
  readonly finishedAt: string;
  /** The run was stopped (SIGINT, SIGTERM) before every image ended: `runs` holds the ones that did. */
  readonly interrupted: boolean;
  readonly runs: readonly JsonRun[];
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
  /** Images that could not run. */
  readonly errors: number;
}

/** What a report says about the run besides its results. */
export interface ReportMeta {
  readonly version: string;
  readonly startedAt: Date;
  readonly finishedAt?: Date;
  readonly interrupted?: boolean;
}

export function jsonRun(s: RunSummary): JsonRun {
  return {
    image: s.image,
    kernel: s.kernel,
    arch: s.arch,
    accel: s.accel,
    scenarios: s.scenarios.map((r) => ({ name: r.name, status: r.status, durationMs: r.durationMs, ...(r.failure && { failure: r.failure }), ...(r.allowed?.length && { allowed: r.allowed }), ...(r.faultInjection && { faultInjection: r.faultInjection }) })),
    passed: s.passed,
    failed: s.failed,
    skipped: s.scenarios.filter((r) => r.status === 'skip').length,
    ...(s.error && { error: s.error }),
    ...(s.coverage && { coverage: s.coverage }),
  };
}

export function jsonReport(runs: readonly RunSummary[], meta: ReportMeta): JsonReport {
  const all = runs.map(jsonRun);
  return {
    schemaVersion: JSON_SCHEMA_VERSION,
    tool: { name: 'ktest-rig', version: meta.version },
    startedAt: meta.startedAt.toISOString(),
    finishedAt: (meta.finishedAt ?? new Date()).toISOString(),
    interrupted: meta.interrupted ?? false,
    runs: all,
    passed: all.reduce((n, r) => n + r.passed, 0),
    failed: all.reduce((n, r) => n + r.failed, 0),
    skipped: all.reduce((n, r) => n + r.skipped, 0),
    errors: all.filter((r) => r.error).length,
  };
}

export function formatJson(runs: readonly RunSummary[], meta: ReportMeta): string {
  return `${JSON.stringify(jsonReport(runs, meta), null, 2)}\n`;
}

/** Writes the JSON report atomically (temp file + rename). */
export async function writeJsonReport(path: string, runs: readonly RunSummary[], meta: ReportMeta): Promise<void> {
  await writeFileAtomic(path, formatJson(runs, meta));
}

/** The same, synchronously: for the last moment of an interrupted run (a signal handler cannot await). */
export function writeJsonReportSync(path: string, runs: readonly RunSummary[], meta: ReportMeta): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, formatJson(runs, meta));
  renameSync(tmp, path);
}

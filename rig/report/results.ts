// What a run produces, per scenario and per image: the results every report format (TAP, JSON, JUnit, tables)
// writes, and the run's events that carry them (the stages' own events are core/events.ts).
import type { Accel, Arch } from '../platform/arch/index.ts';
import type { KernelReport } from '../detect/kernel-report.ts';
import type { AllowedReportMatch } from '../detect/allowed.ts';
import type { RigEvent } from '../core/events.ts';
import type { CoverageReport } from './coverage.ts';

export type ScenarioStatus = 'pass' | 'fail' | 'skip';

export interface ScenarioFailure {
  readonly message: string;
  /** What failed: an assertion, a kernel report, a hang, the guest died, an infrastructure problem. */
  readonly kind: 'assertion' | 'kernel' | 'hang' | 'panic' | 'error';
  readonly reports?: readonly KernelReport[];
  readonly consoleTail?: string;
  /** Assertion failures: the value found and the value wanted (inspected, short), when the assertion has them. */
  readonly found?: string;
  readonly wanted?: string;
  /** Assertion failures: where in the scenario file the assertion was made ("scenarios/x.ts:12:7"). */
  readonly at?: string;
  /** The failure bundle written for it (rig replay BUNDLE). */
  readonly bundle?: string;
}

export interface ScenarioResult {
  readonly image: string;
  readonly name: string;
  readonly status: ScenarioStatus;
  readonly durationMs: number;
  readonly failure?: ScenarioFailure;
  /** Kernel reports during the scenario that the project file allows. */
  readonly allowed?: readonly AllowedReportMatch[];
}

export interface RunSummary {
  readonly image: string;
  readonly kernel: string;
  readonly arch: Arch;
  /** How the kernel ran: kvm or tcg in a guest, 'host' for --target host. */
  readonly accel: Accel | 'host' | 'none';
  readonly scenarios: readonly ScenarioResult[];
  readonly passed: number;
  readonly failed: number;
  /**
   * Set when the image could not run to the end (its module did not build, its kernel did not
   * download, ...): the run goes on with the other images and reports this as the image's result.
   */
  readonly error?: ImageError;
  /** --coverage: the module's coverage over this image's scenarios (tracefiles, HTML, per-file counts). */
  readonly coverage?: CoverageReport;
}

/** Why an image did not run: the typed error's class, message, hint and exit code. */
export interface ImageError {
  readonly name: string;
  readonly message: string;
  readonly hint?: string;
  readonly exitCode: number;
}

/** What a run emits besides the stages' events, in order; reporters (report/progress.ts) turn them into text. */
export type RunEvent =
  | RigEvent
  | { readonly type: 'run-start'; readonly image: string; readonly total: number }
  | { readonly type: 'scenario-start'; readonly image: string; readonly name: string; readonly index: number; readonly total: number }
  | { readonly type: 'scenario-end'; readonly result: ScenarioResult; readonly index: number; readonly total: number }
  | { readonly type: 'run-end'; readonly summary: RunSummary };

/** Where a run's events go. A RunEventSink is an EventSink too: the stages take it as one. */
export type RunEventSink = (event: RunEvent) => void;

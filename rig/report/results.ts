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
  /** Fault injection (--fault-inject): the failed allocation after which the kernel reported. */
  readonly injected?: InjectedSite;
}

/** One fault point failed on purpose: the client call (0-based) and its Nth fault point, and where it struck. */
export interface InjectedSite {
  readonly call: number;
  readonly nth: number;
  /** The fault attribute that failed (failslab, fail_page_alloc), when the kernel said. */
  readonly attr?: string;
  /** The module's function and source line of the failed allocation, when it was the module's. */
  readonly function?: string;
  readonly at?: string;
}

/** What a fault-injection sweep did for one scenario. */
export interface FaultInjectionSummary {
  /** Fault points the scenario's client calls met (the counting run). */
  readonly points: number;
  /** Runs with one of them failed (at most `bound`), and how many of those reached their point. */
  readonly injected: number;
  readonly reached: number;
  /** Injections after which the kernel reported, hung or died. */
  readonly failed: number;
  readonly bound: number;
}

export interface ScenarioResult {
  readonly image: string;
  readonly name: string;
  readonly status: ScenarioStatus;
  readonly durationMs: number;
  readonly failure?: ScenarioFailure;
  /** Kernel reports during the scenario that the project file allows. */
  readonly allowed?: readonly AllowedReportMatch[];
  /** --fault-inject: what the sweep covered. */
  readonly faultInjection?: FaultInjectionSummary;
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

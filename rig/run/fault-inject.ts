// The fault-injection sweep (--fault-inject): run a scenario once counting the fault points
// (allocations) its client calls meet in the kernel, then once per fault point in a fresh guest,
// failing exactly that one (the task's fail-nth). The module must survive every failure: what the
// client sees does not matter, a kernel report or a hang fails the scenario, naming the site.
import type { FaultPlan } from '../scenario/context.ts';
import type { FaultInjectionSummary, InjectedSite, ScenarioFailure, ScenarioResult } from '../report/results.ts';

/** Injections per scenario unless --fault-inject N or the scenario says otherwise. */
export const DEFAULT_FAULT_INJECTIONS = 32;
/** The most injections a scenario may ask for (each is a fresh guest). */
export const MAX_FAULT_INJECTIONS = 1000;

/**
 * Guest commands that let fail-nth fail what a module allocates: failslab skips allocations that may
 * sleep (GFP_KERNEL) unless ignore-gfp-wait is N, and prints the failing stack only with verbose=2.
 * Only slab allocations are fault points: fail_page_alloc keeps its defaults (it would add the page
 * allocations of KASAN's stack depot and the page allocator's own, none of them the module's).
 * Harmless without fail-nth armed (the probability stays 0).
 */
export const FAULT_SETUP_SCRIPT =
  'f=/sys/kernel/debug/failslab; [ -d $f ] && echo N > $f/ignore-gfp-wait && echo 2 > $f/verbose && [ -w /proc/self/fail-nth ] || ' +
  '{ echo "ktest-rig: this kernel has no failslab or fail-nth (CONFIG_FAILSLAB, CONFIG_FAULT_INJECTION_DEBUG_FS)" >&2; exit 3; }';

/** One run of the scenario with a fault plan: its result, and for an injection where it struck. */
export interface PlannedRun {
  readonly result: ScenarioResult;
  readonly site?: InjectedSite;
}

/** The fault points to fail, in order: every point of every call, up to `bound`. Pure. */
export function injectionSites(points: readonly number[], bound: number): { call: number; nth: number }[] {
  const all = points.flatMap((n, call) => Array.from({ length: n }, (_, i) => ({ call, nth: i + 1 })));
  return all.slice(0, bound);
}

/**
 * How an injected run is judged: the module handled the failure unless the kernel reported, hung or
 * died. An assertion or a client error is the expected sight of a failed allocation. Pure.
 */
export function injectedFailure(failure: ScenarioFailure | undefined, site: InjectedSite): ScenarioFailure | undefined {
  if (!failure || failure.kind === 'assertion' || failure.kind === 'error') return undefined;
  return { ...failure, message: `${failure.message} (after ${describeSite(site)})`, injected: site };
}

/** "failing fault point 3 of client call 1 (failslab at ktest.c:88 in ktest_reply)", or "(failslab, outside the module: ...)". Pure. */
export function describeSite(s: InjectedSite): string {
  // The kernel dumped the failing stack (attr) and no module frame was in it: the kernel's own allocation.
  const where = s.at ? ` at ${s.at}${s.function ? ` in ${s.function}` : ''}` : s.function ? ` in ${s.function}` : s.attr ? ', outside the module: an allocation of the kernel\'s own code' : '';
  return `failing fault point ${s.nth} of client call ${s.call + 1}${s.attr ? ` (${s.attr}${where})` : where}`;
}

/**
 * The sweep for one scenario. `runWith` runs it in a fresh guest with the plan. The counting run is
 * judged as a normal run: when it fails, that is the scenario's result and nothing is injected.
 */
export async function sweepScenario(bound: number, runWith: (plan: FaultPlan) => Promise<PlannedRun>, onInjection?: (done: number, of: number, points: number, run: PlannedRun) => void): Promise<ScenarioResult> {
  const started = Date.now();
  const count: FaultPlan = { mode: 'count', points: [] };
  const first = await runWith(count);
  if (first.result.status === 'fail') return first.result;
  const points = count.mode === 'count' ? count.points : [];
  const total = points.reduce((a, b) => a + b, 0);
  const sites = injectionSites(points, bound);
  const failures: ScenarioFailure[] = [];
  let reached = 0;
  for (const [i, s] of sites.entries()) {
    const plan: FaultPlan = { mode: 'inject', call: s.call, nth: s.nth };
    const run = await runWith(plan);
    if (plan.mode === 'inject' && plan.injected) reached++;
    if (run.result.failure) failures.push(run.result.failure);
    onInjection?.(i + 1, sites.length, total, run);
  }
  const summary: FaultInjectionSummary = { points: total, injected: sites.length, reached, failed: failures.length, bound };
  const durationMs = Date.now() - started;
  const base = { image: first.result.image, name: first.result.name, durationMs, faultInjection: summary };
  if (failures.length === 0) return { ...base, status: 'pass' };
  const head = failures[0];
  const more = failures.length > 1 ? ` [${failures.length} of ${sites.length} injections failed]` : '';
  return { ...base, status: 'fail', failure: { ...head, message: `${head.message}${more}` } };
}

// The fault-injection sweep's logic: which points get failed, how an injected run is judged, and the
// summary; the real sweep on the debug kernel is test/integration/debug-kernel.test.ts.
import t from 'tap';
import { describeSite, injectedFailure, injectionSites, sweepScenario, type PlannedRun } from '../../../rig/run/fault-inject.ts';
import { faultBound } from '../../../rig/run/image.ts';
import { planCall, type FaultPlan } from '../../../rig/scenario/context.ts';
import type { ScenarioFailure } from '../../../rig/report/results.ts';

t.test('injectionSites: every point of every call in order, cut at the bound', async (t) => {
  t.same(injectionSites([2, 0, 1], 10), [{ call: 0, nth: 1 }, { call: 0, nth: 2 }, { call: 2, nth: 1 }]);
  t.same(injectionSites([5], 2), [{ call: 0, nth: 1 }, { call: 0, nth: 2 }]);
  t.same(injectionSites([], 8), []);
});

t.test('planCall: count arms every call, inject only the chosen one; a call that injects by itself is left alone', async (t) => {
  const count: FaultPlan = { mode: 'count', points: [] };
  t.same(planCall(count, 0, { message: 'a' }), { message: 'a', countFaults: true });
  t.same(planCall(count, 1, { message: 'b', failNth: 3 }), { message: 'b', failNth: 3 });
  const inject: FaultPlan = { mode: 'inject', call: 1, nth: 4 };
  t.same(planCall(inject, 0, { message: 'a' }), { message: 'a' });
  t.same(planCall(inject, 1, { message: 'b' }), { message: 'b', failNth: 4 });
  t.same(planCall(undefined, 0, { message: 'c' }), { message: 'c' });
});

t.test('an injected run fails only on what the kernel did, and names the site', async (t) => {
  const site = { call: 0, nth: 2, attr: 'failslab', function: 'ktest_reply', at: 'ktest.c:88' };
  t.equal(injectedFailure(undefined, site), undefined, 'passed');
  t.equal(injectedFailure({ kind: 'assertion', message: 'client exit code' }, site), undefined, 'the client saw the failure: handled');
  t.equal(injectedFailure({ kind: 'error', message: 'ENOMEM' }, site), undefined);
  const kernel: ScenarioFailure = { kind: 'kernel', message: 'kernel reported BUG: kernel NULL pointer dereference' };
  t.same(injectedFailure(kernel, site), {
    kind: 'kernel',
    message: 'kernel reported BUG: kernel NULL pointer dereference (after failing fault point 2 of client call 1 (failslab at ktest.c:88 in ktest_reply))',
    injected: site,
  });
  t.equal(injectedFailure({ kind: 'hang', message: 'scenario did not finish' }, site)?.kind, 'hang', 'a hang after a failed allocation is a bug too');
  t.equal(describeSite({ call: 1, nth: 1 }), 'failing fault point 1 of client call 2', 'a site the kernel did not dump');
  t.equal(describeSite({ call: 0, nth: 1, attr: 'failslab' }), "failing fault point 1 of client call 1 (failslab, outside the module: an allocation of the kernel's own code)", 'a dumped stack without a module frame');
});

t.test('faultBound: off without --fault-inject or with faultInject: false; a scenario max wins, capped', async (t) => {
  t.equal(faultBound(undefined, {}), undefined);
  t.equal(faultBound(32, {}), 32);
  t.equal(faultBound(32, { faultInject: false }), undefined);
  t.equal(faultBound(32, { faultInject: { max: 4 } }), 4);
  t.equal(faultBound(32, { faultInject: { max: 1e6 } }), 1000);
});

const result = (failure?: ScenarioFailure) => ({ image: 'i', name: 's', status: failure ? ('fail' as const) : ('pass' as const), durationMs: 1, ...(failure && { failure }) });

t.test('sweepScenario: counts, injects each point once, reports what it covered', async (t) => {
  const plans: FaultPlan[] = [];
  const progress: string[] = [];
  const r = await sweepScenario(10, async (plan): Promise<PlannedRun> => {
    plans.push({ ...plan });
    if (plan.mode === 'count') {
      plan.points.push(2, 1);
      return { result: result() };
    }
    plan.injected = true;
    const bad = plan.call === 1;
    return { result: result(bad ? { kind: 'kernel', message: 'oops', injected: { call: plan.call, nth: plan.nth } } : undefined) };
  }, (done, of, points, run) => progress.push(`${done}/${of} of ${points}: ${run.result.status}`));
  t.same(progress, ['1/3 of 3: pass', '2/3 of 3: pass', '3/3 of 3: fail'], 'progress after each injection');
  t.same(plans.map((p) => (p.mode === 'count' ? 'count' : `${p.call}:${p.nth}`)), ['count', '0:1', '0:2', '1:1']);
  t.equal(r.status, 'fail');
  t.same(r.faultInjection, { points: 3, injected: 3, reached: 3, failed: 1, bound: 10 });
  t.equal(r.failure?.message, 'oops');

  const failing = await sweepScenario(10, async () => ({ result: result({ kind: 'assertion', message: 'wrong reply' }) }));
  t.equal(failing.failure?.message, 'wrong reply', 'a scenario failing without injection is not swept');
  t.equal(failing.faultInjection, undefined);
});

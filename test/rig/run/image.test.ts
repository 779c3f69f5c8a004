import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { runSequence, scenarioResult, summarize } from '../../../rig/run/image.ts';
import { validateScenarios } from '../../../rig/scenario/api.ts';
import type { RunEvent } from '../../../rig/report/results.ts';

const scenarios = validateScenarios(['a', 'b', 'c', 'd'].map((name) => ({ name, run: async () => {} })), 'test');
const delays: Record<string, number> = { a: 40, b: 5, c: 20, d: 1 };

t.test('runSequence with lanes: end events come in scenario order whatever finishes first', async (t) => {
  const events: RunEvent[] = [];
  let running = 0;
  let peak = 0;
  const results = await runSequence('img', scenarios, (e) => events.push(e), async (s) => {
    running++;
    peak = Math.max(peak, running);
    await sleep(delays[s.name]!);
    running--;
    return scenarioResult('img', s.name, Date.now(), s.name === 'c' ? { message: 'x', kind: 'assertion' } : undefined);
  }, 2);
  t.equal(peak, 2, 'two guests at once');
  t.same(results.map((r) => `${r.name}:${r.status}`), ['a:pass', 'b:pass', 'c:fail', 'd:pass']);
  const ends = events.filter((e) => e.type === 'scenario-end');
  t.same(ends.map((e) => (e.type === 'scenario-end' ? [e.index, e.result.name] : [])), [[0, 'a'], [1, 'b'], [2, 'c'], [3, 'd']]);
  t.equal(events.filter((e) => e.type === 'scenario-start').length, 4);
});

t.test('summarize counts', async (t) => {
  const s = summarize({ image: 'i', kernel: 'k', arch: 'x86_64', accel: 'tcg' }, [
    scenarioResult('i', 'a', Date.now(), undefined),
    scenarioResult('i', 'b', Date.now(), { message: 'm', kind: 'kernel' }),
  ]);
  t.equal(s.passed, 1);
  t.equal(s.failed, 1);
  t.equal(s.scenarios[1]!.failure?.kind, 'kernel');
});

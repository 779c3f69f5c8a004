import t from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { stopReason, STOP_SETTLE_MS, OOPS_GRACE_MS } from '../../../rig/detect/stop.ts';

const logs = join(import.meta.dirname, '..', '..', 'fixtures', 'logs');
const firstStop = (file: string) => {
  for (const line of readFileSync(join(logs, file), 'utf8').split('\n')) {
    const r = stopReason(line);
    if (r) return r;
  }
  return undefined;
};

t.test('captured lockups and hung tasks stop a scenario once their report has printed', async (t) => {
  t.match(firstStop('soft-lockup-x86_64-6.1-captured.log'), { kind: 'soft-lockup', afterMs: STOP_SETTLE_MS });
  t.match(firstStop('hung-task-x86_64-6.1-init-hang.log'), { kind: 'hung-task', afterMs: STOP_SETTLE_MS });
  t.match(firstStop('rcu-stall-x86_64-6.1-rcu-stall.log'), { kind: 'rcu-stall', afterMs: STOP_SETTLE_MS });
  t.match(firstStop('hard-lockup-x86_64-6.1.log'), { kind: 'hard-lockup' });
});

t.test('an oops gives the scenario a grace to finish by itself', async (t) => {
  t.match(firstStop('null-deref-x86_64-6.1-captured.log'), { kind: 'null-deref', afterMs: OOPS_GRACE_MS });
  t.match(firstStop('kernel-bug-x86_64-6.1-captured.log'), { kind: 'kernel-bug', afterMs: OOPS_GRACE_MS });
});

t.test('warnings, leaks, KASAN-style reports and clean boots never stop a scenario', async (t) => {
  // (some captured logs hold an oops after their first report: those are left out here)
  for (const file of readdirSync(logs).filter((f) => /^(?:warning|memory-leak|kasan|kfence|ubsan|none)-/.test(f) && !f.includes('mixed'))) {
    t.equal(firstStop(file), undefined, file);
  }
  t.equal(stopReason('[    3.363243] ktest: loading out-of-tree module taints kernel.'), undefined);
  t.match(firstStop('slab-corruption-x86_64-6.1-captured.log'), { kind: 'null-deref' }, 'the oops that follows a slab report does');
});

// Tests the taint mask decoder.
import t from 'tap';
import { taintFlags, unexpectedTaint } from '../../../rig/detect/taint.ts';

t.strictSame(taintFlags(0), []);
t.strictSame(taintFlags(12288), ['O', 'E'], 'out-of-tree unsigned module');
t.strictSame(taintFlags(1 | 512 | 4096), ['P', 'W', 'O']);
t.strictSame(taintFlags(2 ** 25), ['bit25'], 'unknown bits are named');
t.throws(() => taintFlags(-1), RangeError);
t.strictSame(unexpectedTaint(['O', 'E']), []);
t.strictSame(unexpectedTaint(['W', 'O', 'E', 'D']), ['W', 'D']);
t.strictSame(unexpectedTaint(['W'], ['W']), []);

t.test('J (bit 19, 6.15+) is decoded: the scenario API uses this decoder at run time', async (t) => {
  t.same(taintFlags(2 ** 19 | 4096), ['O', 'J']);
  t.same(taintFlags(1 | 512), ['P', 'W']);
  t.same(taintFlags(0), []);
});

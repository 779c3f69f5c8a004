// Where an injected fault struck, read from a real kernel's log (test/fixtures/faults/README.md).
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { injectedFaults, moduleFrameOf } from '../../../rig/detect/fault-site.ts';
import { findReports } from '../../../rig/detect/parse.ts';

const log = readFileSync(join(import.meta.dirname, '..', '..', 'fixtures', 'faults', 'failslab-alloc-unchecked-x86_64-6.1.dmesg.log'), 'utf8');

t.test('the failslab notice and its stack: the module frame is the allocation site', async (t) => {
  const faults = injectedFaults(log);
  t.equal(faults.length, 1, 'one injected failure');
  t.equal(faults[0]?.attr, 'failslab');
  t.same(faults[0]?.frames.slice(0, 3).map((f) => f.symbol), ['dump_stack_lvl', 'should_fail_ex.cold', 'should_failslab'], 'the dump, innermost first');
  t.match(moduleFrameOf(faults[0]!, 'debugbugs'), { symbol: 'debugbugs_alloc_unchecked', offset: 0x23, module: 'debugbugs' }, 'the unreliable "? " frame is skipped; the real caller is found');
  t.equal(moduleFrameOf(faults[0]!, 'ktest'), undefined, 'another module has no frame there');
});

t.test('the notice is not a kernel report; the oops after it is', async (t) => {
  const kinds = findReports(log, { module: 'debugbugs' }).map((r) => r.kind);
  t.notOk(kinds.includes('warning'), 'the dump_stack of the injection is not judged');
  t.ok(kinds.includes('kasan') || kinds.includes('null-deref'), `the NULL write after it is (${kinds.join(', ')})`);
});

t.test('no notice: nothing injected', async (t) => {
  t.same(injectedFaults('[    1.0] hello\n[    2.0] Call Trace:\n'), []);
});

import t from 'tap';
import { moduleParamArgs, clientCommandTimeout } from '../../../../rig/scenario/backends/guest.ts';

t.test('module parameters become insmod arguments', async (t) => {
  t.same(moduleParamArgs(), []);
  t.same(moduleParamArgs({ proto: 31, verbose: true, quiet: false, name: 'x' }), ['proto=31', 'verbose=1', 'quiet=0', 'name=x']);
});

t.test('a client command gets the time its messages need, bounded', async (t) => {
  t.equal(clientCommandTimeout({}), 12_000);
  t.equal(clientCommandTimeout({ count: 100, timeoutMs: 100 }), 20_000);
  t.equal(clientCommandTimeout({ count: 1000, timeoutMs: 5000 }), 130_000);
});

t.test('splitSectionLines: the load script\'s section lines come out of insmod\'s stderr', async (t) => {
  const { splitSectionLines } = await import('../../../../rig/scenario/backends/guest.ts');
  const r = splitSectionLines('ktest-rig-section .text 0xffffffffa0000000\nktest-rig-section .text.unlikely 0xffffffffa0001000\ninsmod: warning\n');
  t.same([...r.sections], [['.text', 0xffffffffa0000000n], ['.text.unlikely', 0xffffffffa0001000n]]);
  t.equal(r.rest, 'insmod: warning\n');
  t.same(splitSectionLines('insmod: ERROR: could not insert module').sections.size, 0);
});

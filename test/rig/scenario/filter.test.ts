// Tests the --only filter: substrings, /regex/flags and their errors.
import t from 'tap';
import { parseFilter, matchesFilter, filterText } from '../../../rig/scenario/filter.ts';
import { UsageError } from '../../../rig/core/errors.ts';

t.test('substring or /regex/flags', async (t) => {
  const re = parseFilter('/^round.*trip$/i');
  t.equal(re.kind, 'regex');
  t.ok(matchesFilter(re, 'RoundTrip'));
  t.notOk(matchesFilter(re, 'a roundtrip'));
  const g = parseFilter('/a/g');
  t.ok(matchesFilter(g, 'a') && matchesFilter(g, 'a'), 'global flag does not make matching stateful');
  t.ok(matchesFilter(parseFilter('trip'), 'roundtrip'));
  t.notOk(matchesFilter(parseFilter('/x/'), 'roundtrip'));
  t.ok(matchesFilter(undefined, 'anything'));
  t.strictSame(parseFilter('a/b'), { kind: 'substring', text: 'a/b' });
  t.equal(filterText(parseFilter('/x/i')), '/x/i');
  t.equal(filterText(parseFilter('echo')), 'echo');
  t.equal(filterText(undefined), '');
});

t.test('bad patterns are usage errors', async (t) => {
  t.throws(() => parseFilter('/(/'), { name: 'UsageError', message: /not a valid regular expression/ });
  t.throws(() => parseFilter(''), UsageError);
});

// npm test's reporter (test/helpers/tap-failures.mjs): the real tap runner on a fixture with known
// failures prints the raw TAP and then one line per failed assertion with its file:line.
import t from 'tap';
import { execa } from 'execa';
import { projectRoot } from '../rig/core/paths.ts';

t.test('the failures of a run are listed at the end of its output, with their lines', async (t) => {
  const r = await execa('npx', ['tap', 'test/fixtures/tap/failing.ts'], { cwd: projectRoot, reject: false, env: { TAP: '0' } });
  const out = r.stdout;
  t.equal(r.exitCode, 1, 'the run still fails');
  t.match(out, /^not ok 1 - test\/fixtures\/tap\/failing\.ts/m, 'the raw TAP is there');
  const tail = out.slice(out.indexOf('# 2 failed assertion(s):'));
  t.ok(out.includes('# 2 failed assertion(s):'), 'a count of the leaf failures', { out: out.slice(-1500) });
  t.match(tail, /#   not ok: test\/fixtures\/tap\/failing\.ts > outer > inner > one is two\n#     at: test\/fixtures\/tap\/failing\.ts:6\n#     diff: -2 \| \+1/);
  t.match(tail, /#   not ok: test\/fixtures\/tap\/failing\.ts > top level\n#     at: test\/fixtures\/tap\/failing\.ts:10/);
  t.notMatch(tail, /a pass is not listed|a skip is not listed|> outer\n/, 'passes, skips and the enclosing subtests are not listed');
});

import t from 'tap';
import { readFileSync } from 'node:fs';
import { validateScenarios, selectScenarios, parseUapiConstants, assertions, callSite } from '../../../rig/scenario/api.ts';
import { UsageError, AssertionFailed } from '../../../rig/core/errors.ts';
import { parseFilter } from '../../../rig/scenario/filter.ts';
import { scenarios } from '../../../rig/scenario/ktest.ts';

const run = async () => {};

t.test('validateScenarios accepts the default list and rejects malformed ones', async (t) => {
  t.equal(validateScenarios(scenarios, 'default').length, scenarios.length);
  t.ok(scenarios.length >= 15, 'at least 15 default scenarios');
  t.throws(() => validateScenarios({}, 'f.ts'), UsageError);
  t.throws(() => validateScenarios([{ name: 'Bad Name', run }], 'f.ts'), /name must match/);
  t.throws(() => validateScenarios([{ name: 'a', run }, { name: 'a', run }], 'f.ts'), /duplicate scenario name "a"/);
  t.throws(() => validateScenarios([{ name: 'a' }], 'f.ts'), /run must be a function/);
  t.throws(() => validateScenarios([{ name: 'a', run, timeoutMs: -1 }], 'f.ts'), /timeoutMs/);
  t.throws(() => validateScenarios([{ name: 'a', run, backends: ['qemu'] }], 'f.ts'), /backends must be a non-empty list of 'guest', 'host' \(got \[ 'qemu' \]\)/);
  t.throws(() => validateScenarios([{ name: 'a', run, backends: [] }], 'f.ts'), /backends must be a non-empty list/);
  t.throws(() => validateScenarios([{ name: 'a', run, backends: 'guest' }], 'f.ts'), /backends must be a non-empty list/);
  t.same(validateScenarios([{ name: 'a', run, backends: ['guest'] }], 'f.ts')[0]!.backends, ['guest']);
  t.equal(validateScenarios([{ name: 'a', run }], 'f.ts')[0]!.description, '');
});

t.test('selectScenarios by substring and /regex/', async (t) => {
  const list = validateScenarios([{ name: 'echo-4k', run }, { name: 'echo-max', run }, { name: 'load', run }], 'x');
  t.same(selectScenarios(list, undefined).map((s) => s.name), ['echo-4k', 'echo-max', 'load']);
  t.same(selectScenarios(list, parseFilter('echo')).map((s) => s.name), ['echo-4k', 'echo-max']);
  t.same(selectScenarios(list, parseFilter('/^(load|echo-max)$/')).map((s) => s.name), ['echo-max', 'load']);
  t.throws(() => selectScenarios(list, parseFilter('nope'), 'nope'), /--only nope matches no scenario; names: echo-4k, echo-max, load/);
});


t.test('parseUapiConstants reads #define lines', async (t) => {
  const h = '#define KTEST_MSG_ECHO 0x11 /* echo */\n#define KTEST_MAX_PAYLOAD (16384)\n#define KTEST_NAME "ktest"\n#define X 7u\n';
  t.same(parseUapiConstants(h), { KTEST_MSG_ECHO: 17, KTEST_MAX_PAYLOAD: 16384, X: 7 });
});

t.test('assertions throw AssertionFailed with both values', async (t) => {
  t.throws(() => assertions.equal(1, 2, 'n'), { name: 'AssertionFailed', message: 'n: expected 2, got 1', details: { expected: 2, actual: 1 } });
  t.throws(() => assertions.ok(false, 'must'), AssertionFailed);
  t.throws(() => assertions.match('abc', /x/, 'm'), /\/x\/ not found in "abc"/);
  t.doesNotThrow(() => assertions.equal({ a: [1] }, { a: [1] }, 'deep'));
});

t.test('a failed assertion knows the scenario line that made it', async (t) => {
  let error: unknown;
  try {
    assertions.equal('b', 'a', 'reply'); // @call-site
  } catch (e) {
    error = e;
  }
  const source = readFileSync(new URL(import.meta.url), 'utf8').split('\n');
  const line = source.findIndex((l) => l.includes("'reply'); // @call-site")) + 1;
  t.ok(error instanceof AssertionFailed);
  t.equal((error as AssertionFailed).details?.at?.replace(/:\d+$/, ''), `test/rig/scenario/api.test.ts:${line}`, 'file:line of the assert call');
  t.same([(error as AssertionFailed).details?.actual, (error as AssertionFailed).details?.expected], ['b', 'a']);
});

t.test('callSite skips the assertion code and node internals, and gives paths relative to cwd', async (t) => {
  const api = new URL('../../../rig/scenario/api.ts', import.meta.url).pathname;
  const stack = [
    'Error',
    `    at failed (file://${api}:140:10)`,
    `    at Object.equal (file://${api}:150:13)`,
    '    at Object.run (/home/me/mod/scenarios/echo.ts:12:9)',
    '    at async node:internal/process/task_queues:95:5',
  ].join('\n');
  t.equal(callSite(stack, '/home/me/mod'), 'scenarios/echo.ts:12:9');
  t.equal(callSite(stack, '/elsewhere'), '/home/me/mod/scenarios/echo.ts:12:9', 'absolute outside cwd');
  t.equal(callSite(stack.split('\n').slice(0, 3).join('\n')), undefined, 'no frame outside the assertion code');
});

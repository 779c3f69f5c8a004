import t from 'tap';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { compileErrorLocation, loadScenarioFile, transformErrorLocation } from '../../../rig/scenario/load.ts';
import { main } from '../../../rig/cli/main.ts';
import { ExitCode, ScenarioSyntaxError, exitCodeOf, formatError } from '../../../rig/core/errors.ts';

const broken = 'test/fixtures/scenarios/syntax-error.ts';

t.test('a scenario file with a syntax error: FILE:LINE:COLUMN and the reason, a usage error (exit 2)', async (t) => {
  const error = await loadScenarioFile(broken).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.type(error, ScenarioSyntaxError);
  const e = error as ScenarioSyntaxError;
  // esbuild (tsx) says 'Unexpected ";"'; TypeScript (ts-node, when tap's TypeScript plugin compiled it) 'Expression expected.'
  t.match(e.message, new RegExp(`^${broken}:7:24: (?:Unexpected ";"|Expression expected\\.)$`), 'the path as given, 1-based line and column of the stray ";"');
  t.same([e.file, e.line, e.column], [broken, 7, 24]);
  t.equal(exitCodeOf(e), ExitCode.usage);
  t.match(formatError(e), /^error: test\/fixtures\/scenarios\/syntax-error\.ts:7:24: \S.*\n {2}hint: /);
  t.notMatch(e.message, /Transform failed/);
});

t.test('the error is in a file the scenario file imports: that file is named, absolutely', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ktest-load-'));
  await writeFile(join(dir, 'helper.ts'), 'export const x = {\n  a: 1\n  b: 2,\n};\n');
  await writeFile(join(dir, 'main.ts'), 'import { x } from "./helper.ts";\nexport default [{ name: String(x), async run() {} }];\n');
  await t.rejects(loadScenarioFile(join(dir, 'main.ts')), { name: 'ScenarioSyntaxError', file: resolve(dir, 'helper.ts'), line: 3, column: 3, message: /helper\.ts:3:3: Expected "}" but found "b"$/ });
});

t.test('through the command line: the run stops before any work with the located error', async (t) => {
  await t.rejects(main(['--list', '--scenarios', broken], { write: () => true }, { write: () => true }, {}), { name: 'ScenarioSyntaxError', exitCode: ExitCode.usage });
});

t.test('compileErrorLocation: esbuild\'s and TypeScript\'s formats, located from 1', async (t) => {
  t.same(compileErrorLocation('Transform failed with 1 error:\n/a/b.ts:7:23: ERROR: Unexpected ";"'), { file: '/a/b.ts', line: 7, column: 24, reason: 'Unexpected ";"' });
  t.same(compileErrorLocation('⨯ Unable to compile TypeScript:\ntest/x.ts(7,24): error TS1109: Expression expected.\n'), { file: 'test/x.ts', line: 7, column: 24, reason: 'Expression expected.' });
  t.equal(compileErrorLocation('Cannot find module ./nope.ts'), undefined);
});

t.test('transformErrorLocation: the first located line after the header; none when there is none', async (t) => {
  t.same(transformErrorLocation('Transform failed with 2 errors:\n/a/b.ts:1:0: ERROR: one\n/a/b.ts:4:2: ERROR: two'), { file: '/a/b.ts', line: 1, column: 1, reason: 'one' });
  t.equal(transformErrorLocation('Transform failed with 1 error:'), undefined);
  t.equal(transformErrorLocation('/a/b.ts:1:0: ERROR: on the header line is not a location'), undefined);
});

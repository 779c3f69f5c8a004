// Tests the exit code table derived from the error classes' codes.
import t from 'tap';
import { ExitCode, ExecExitCode, SignalExitCode, exitCodeTable, UsageError, InfraError, BuildError, exitCodeOf, execExitCodeOf } from '../../../rig/core/errors.ts';

t.test('run: one row per code, signals last', async (t) => {
  const rows = exitCodeTable('run');
  t.strictSame(rows.slice(0, -1).map((r) => r.code), Object.values(ExitCode).map(String));
  t.equal(rows.at(-1)?.code, Object.values(SignalExitCode).join(', '));
  for (const r of rows) t.ok(r.meaning.length > 5, `${r.code} has a meaning`);
});

t.test('exec: its own codes plus the shared failures', async (t) => {
  const codes = exitCodeTable('exec').map((r) => r.code);
  for (const c of Object.values(ExecExitCode)) t.ok(codes.includes(String(c)), `exec documents ${c}`);
  t.ok(codes.includes(String(ExitCode.usage)), 'exec documents 2');
  t.ok(codes.includes('128+N'), 'a command killed by a signal');
  for (const c of [ExitCode.scenarioFailed, ExitCode.infra, ExitCode.build]) t.notOk(codes.includes(String(c)), `exec does not use ${c} (build and infrastructure failures are 125: bisect skip)`);
  t.same([ExecExitCode.moduleRefused, ExecExitCode.kernelFailed, ExecExitCode.timedOut, ExecExitCode.untestable], [119, 120, 124, 125]);
});

t.test('exec: an error before CMD ran is untestable (125) unless it is a usage error (2)', async (t) => {
  t.equal(execExitCodeOf(new UsageError('x')), 2);
  t.equal(execExitCodeOf(new BuildError('x', undefined, '')), 125);
  t.equal(execExitCodeOf(new InfraError('x')), 125);
  t.equal(execExitCodeOf(new Error('x')), 125);
});

t.test('errors carry their codes', async (t) => {
  t.equal(exitCodeOf(new UsageError('x')), ExitCode.usage);
  t.equal(exitCodeOf(new InfraError('x')), ExitCode.infra);
  t.equal(exitCodeOf(new BuildError('x', undefined, '')), ExitCode.build);
  t.equal(exitCodeOf(new Error('x')), ExitCode.infra);
});

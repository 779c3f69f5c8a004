// Tests the exit code table derived from the error classes' codes.
import t from 'tap';
import { ExitCode, ExecExitCode, SignalExitCode, exitCodeTable, UsageError, InfraError, BuildError, exitCodeOf } from '../../../rig/core/errors.ts';

t.test('run: one row per code, signals last', async (t) => {
  const rows = exitCodeTable('run');
  t.strictSame(rows.slice(0, -1).map((r) => r.code), Object.values(ExitCode).map(String));
  t.equal(rows.at(-1)?.code, Object.values(SignalExitCode).join(', '));
  for (const r of rows) t.ok(r.meaning.length > 5, `${r.code} has a meaning`);
});

t.test('exec: its own codes plus the shared failures', async (t) => {
  const codes = exitCodeTable('exec').map((r) => r.code);
  for (const c of Object.values(ExecExitCode)) t.ok(codes.includes(String(c)), `exec documents ${c}`);
  for (const c of [ExitCode.usage, ExitCode.infra, ExitCode.build]) t.ok(codes.includes(String(c)), `exec documents ${c}`);
  t.notOk(codes.includes(String(ExitCode.scenarioFailed)), 'exec has no scenarios');
});

t.test('errors carry their codes', async (t) => {
  t.equal(exitCodeOf(new UsageError('x')), ExitCode.usage);
  t.equal(exitCodeOf(new InfraError('x')), ExitCode.infra);
  t.equal(exitCodeOf(new BuildError('x', undefined, '')), ExitCode.build);
  t.equal(exitCodeOf(new Error('x')), ExitCode.infra);
});

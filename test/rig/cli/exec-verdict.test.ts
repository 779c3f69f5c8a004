// The verdict of one exec, pure: the kernel first, then the timeout, a signal (128+N, named), CMD's own status.
import t from 'tap';
import { execVerdict, signalExitCode } from '../../../rig/cli/exec.ts';
import type { ExecResult } from '../../../rig/vm/types.ts';
import type { KernelReport } from '../../../rig/detect/kernel-report.ts';

const result = (o: Partial<ExecResult>): ExecResult => ({ exitCode: 0, signal: null, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), timedOut: false, durationMs: 1, ...o });
const report: KernelReport = { kind: 'warning', title: 'WARNING in x', frames: [], moduleFrames: [], fatal: false, raw: '' };

t.test('a signal is 128 + its number, whatever the signal', async (t) => {
  t.equal(signalExitCode('SIGKILL'), 137);
  t.equal(signalExitCode('SIGTERM'), 143);
  t.equal(signalExitCode('SIGSEGV'), 139);
  t.equal(signalExitCode('SIG40'), 168, 'real-time signals as the agent names them');
  t.same(execVerdict(result({ exitCode: null, signal: 'SIGKILL' }), []), { exitCode: 137, problem: 'command killed by SIGKILL (exit 137)' });
  t.same(execVerdict(result({ exitCode: null, signal: 'SIGTERM' }), []), { exitCode: 143, problem: 'command killed by SIGTERM (exit 143)' });
});

t.test('the kernel comes first, then the timeout, then CMD', async (t) => {
  t.equal(execVerdict(result({ exitCode: 3 }), [report]).exitCode, 120);
  t.equal(execVerdict(result({ exitCode: null, signal: 'SIGKILL', timedOut: true }), []).exitCode, 124);
  t.same(execVerdict(result({ exitCode: 7 }), []), { exitCode: 7 });
});

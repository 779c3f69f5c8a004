// `rig shell` on a real pty: type commands, read the screen, resize, Ctrl-C and Ctrl-Z the foreground job, exit; a crash; Ctrl-] q.
import t from 'tap';
import { join } from 'node:path';
import { rigOnPty } from '../helpers/pty.ts';
import { projectRoot } from '../../rig/core/paths.ts';
import { ExecExitCode } from '../../rig/core/errors.ts';

t.setTimeout(10 * 60_000);
const PROMPT = 'ktest:/# ';

t.test('a shell with the module loaded: commands, window size, Ctrl-C, Ctrl-Z, exit status', async (t) => {
  const r = await rigOnPty(
    ['shell'],
    [
      { expect: PROMPT, timeout: 180 },
      { send: 'echo hi-$((6*7))\r' },
      { expect: 'hi-42' },
      { send: 'grep -c ^ktest /proc/modules; nlclient shell-hello\r' },
      { expect: '\\n1\\r*\\n' },
      { expect: '"payload":"hello users!!!' },
      { send: 'stty size\r' },
      { expect: '24 80' },
      { resize: [40, 132] },
      { sleep: 1 },
      { send: 'stty size\r' },
      { expect: '40 132' },
      { send: 'sleep 100\r' },
      { sleep: 1 },
      { send: '\u0003' },
      { expect: PROMPT, timeout: 10 },
      { send: 'echo status=$?\r' },
      { expect: 'status=130' },
      { send: 'sleep 101\r' },
      { sleep: 1 },
      { send: '\u001a' },
      { expect: 'Stopped', timeout: 10 },
      { send: 'kill -9 %1; echo killed\r' },
      { expect: 'killed' },
      { send: 'dmesg | grep -c "kernel recv from user: shell-hello"\r' },
      { expect: '\\n1\\r*\\n' },
      { send: 'exit 7\r' },
    ],
  );
  t.ok(r.steps.every((s) => s.ok), 'every step', { steps: r.steps, screen: r.screen.slice(-2000) });
  t.equal(r.exitCode, 7, "the shell's exit status");
  t.equal(r.qemuLeft, 0, 'QEMU ended with the shell');
});

t.test('a kernel crash ends the shell with the structured report and the crash code', async (t) => {
  const r = await rigOnPty(
    ['shell', '--kmod', join(projectRoot, 'test/fixtures/kmods/crasher')],
    [{ expect: PROMPT, timeout: 180 }, { send: 'echo null > /sys/module/crasher/parameters/trigger\r' }, { expect: '--- kernel reports ---', timeout: 60 }],
  );
  t.ok(r.steps.every((s) => s.ok), 'every step', { steps: r.steps, screen: r.screen.slice(-2000) });
  t.match(r.screen, /kernel report: BUG: kernel NULL pointer dereference in crasher_\w+/);
  t.match(r.screen, /at crasher_\w+\+0x[0-9a-f]+\/0x[0-9a-f]+ \[crasher\] \(crasher\.c:\d+\)/, 'module frames with lines in the author tree');
  t.match(r.screen, /full console log: \S+\.console\.log/);
  t.equal(r.exitCode, ExecExitCode.kernelFailed);
  t.equal(r.qemuLeft, 0);
});

t.test('Ctrl-] q ends the guest', async (t) => {
  const r = await rigOnPty(['shell', '--no-load'], [{ expect: PROMPT, timeout: 180 }, { send: 'sleep 1000 &\r' }, { sleep: 0.5 }, { send: '\u001dq' }]);
  t.ok(r.steps.every((s) => s.ok), 'every step', { steps: r.steps, screen: r.screen.slice(-2000) });
  t.match(r.screen, /Ctrl-\] q: ending the guest/);
  t.equal(r.exitCode, 0);
  t.equal(r.qemuLeft, 0);
});

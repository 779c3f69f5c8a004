// `rig exec`: a command in a fresh guest, its output and exit status, 124 on timeout, 120 when the kernel crashed.
import t from 'tap';
import { join } from 'node:path';
import { rig } from '../helpers/rig.ts';
import { projectRoot } from '../../rig/core/paths.ts';

t.setTimeout(10 * 60_000);

t.test('exec runs a command next to the loaded module and exits with its status', async (t) => {
  const r = await rig(['exec', '--', 'sh', '-c', 'nlclient "hello from exec"; grep -c ^ktest /proc/modules; exit 3']);
  t.equal(r.exitCode, 3, 'exit code', { stderr: r.stderr.slice(-1500) });
  t.match(r.stdout, /"payload":"hello users!!!"/);
  t.match(r.stdout, /^1$/m, 'the module is loaded');
  t.match(r.stderr, /kernel recv from user: hello from exec/, 'kernel messages are shown');
  t.equal(r.qemuLeft, 0);
});

t.test('exec --no-load leaves the module out', async (t) => {
  const r = await rig(['exec', '--no-load', '--', 'nlclient', 'x']);
  t.equal(r.exitCode, 3, 'nlclient: socket error without the module');
  t.match(r.stderr, /EPROTONOSUPPORT/);
});

t.test('exec exits 120 when the kernel crashed', async (t) => {
  const r = await rig(['exec', '--kmod', join(projectRoot, 'test/fixtures/kmods/crasher'), '--', 'sh', '-c', 'echo null > /sys/module/crasher/parameters/trigger']);
  t.equal(r.exitCode, 120, 'exit code', { stderr: r.stderr.slice(-1500) });
  t.match(r.stderr, /BUG: kernel NULL pointer dereference/);
  t.equal(r.qemuLeft, 0);
});

t.test('exec exits 124 when the command timed out', async (t) => {
  const r = await rig(['exec', '--timeout', '2', '--', 'sleep', '30']);
  t.equal(r.exitCode, 124, 'exit code', { stderr: r.stderr.slice(-1500) });
  t.match(r.stderr, /timed out/);
});

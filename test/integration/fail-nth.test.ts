// nlclient --fail-nth and --count-faults on a stock kernel (no fault injection): one clear line and the usage status, the message not sent; a socket that cannot open is told as without them.
import t from 'tap';
import { rig } from '../helpers/rig.ts';

t.setTimeout(10 * 60_000);

t.test('nlclient --fail-nth on a kernel without CONFIG_FAULT_INJECTION says which kernel has it', async (t) => {
  const r = await rig(['exec', '--', 'sh', '-c', 'nlclient --fail-nth 1 hi; echo "status $?"']);
  t.equal(r.exitCode, 0, 'exec itself is fine', { stderr: r.stderr.slice(-1500) });
  t.match(r.stdout, /^status 2$/m, 'nlclient exits 2 (usage)');
  t.match(r.stderr, /nlclient: cannot arm \/proc\/thread-self\/fail-nth: No such file or directory \(the kernel needs CONFIG_FAULT_INJECTION: --kernel bookworm-6\.1-debug\)/);
  t.notMatch(r.stderr, /kernel recv from user: hi/, 'nothing was sent');
  t.equal(r.qemuLeft, 0);
});

t.test('nlclient --count-faults without the module: the socket error as without it, errno name first (what no-module reads)', async (t) => {
  const r = await rig(['exec', '--no-load', '--', 'sh', '-c', 'nlclient --count-faults hi; echo "status $?"; nlclient --fail-nth 2 hi; echo "status $?"']);
  t.equal(r.exitCode, 0, 'exec itself is fine', { stderr: r.stderr.slice(-1500) });
  t.same(r.stdout.match(/^status \d+$/gm), ['status 3', 'status 3'], 'both exit 3 (socket error)');
  const errors = r.stderr.match(/^nlclient: .*$/gm) ?? [];
  t.same(errors, ['nlclient: EPROTONOSUPPORT: netlink socket for protocol 30: Protocol not supported', 'nlclient: EPROTONOSUPPORT: netlink socket for protocol 30: Protocol not supported'], 'the socket fails before fail-nth is armed, and says so as a plain client does', { stderr: r.stderr.slice(-1500) });
});

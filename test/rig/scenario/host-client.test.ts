// runHostClient against NETLINK_ROUTE, and the same calls through the real nlclient: identical results.
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { clientArgv, parseClientOutput } from '../../../rig/scenario/client-args.ts';
import { runHostClient, transactOptions } from '../../../rig/scenario/host-client.ts';
import { projectRoot } from '../../../rig/core/paths.ts';
import type { ClientCall, ClientResult } from '../../../rig/scenario/client.ts';

const run = promisify(execFile);
const RTM_GETLINK = 18;
const IFINFOMSG = Buffer.alloc(16);

const dir = await mkdtemp(join(tmpdir(), 'host-client-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const nlclientPath = join(dir, 'nlclient');
const lib = join(projectRoot, 'native', 'lib');
await run('cc', [
  '-std=gnu11', '-O2', '-I', join(projectRoot, 'native', 'include'), '-I', join(projectRoot, 'kmod'),
  join(projectRoot, 'guest', 'nlclient.c'),
  ...(await readdir(lib)).filter((f) => f.endsWith('.c')).map((f) => join(lib, f)),
  '-o', nlclientPath,
]);

async function viaNlclient(call: ClientCall): Promise<ClientResult> {
  try {
    const { stdout, stderr } = await run(nlclientPath, clientArgv(call));
    return parseClientOutput(0, stdout, stderr);
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return parseClientOutput(e.code, e.stdout, e.stderr);
  }
}

/** Results with the receiving socket's port id (differs per socket) left out. */
function comparable(r: ClientResult): unknown {
  return { ...r, replies: r.replies.map(({ pid: _pid, ...rest }) => rest) };
}

t.test('defaults are nlclient defaults', async (t) => {
  const o = transactOptions({});
  t.same(o, { proto: 30, type: 16, flags: 1, seq: 1, pid: 0, count: 1, noRecv: false, timeoutMs: 2000 });
  t.same(transactOptions({ message: 'hé' }).payload, Buffer.from('hé', 'utf8'), 'text as UTF-8, no NUL');
});

const sameAsNlclient: Array<[string, ClientCall, number]> = [
  ['no such protocol', { proto: 31, message: 'hello' }, 3],
  ['timeout', { proto: 0, type: RTM_GETLINK, flags: 0, timeoutMs: 200 }, 4],
  ['kernel error', { proto: 0, type: RTM_GETLINK, flags: 5, seq: 77, message: IFINFOMSG }, 5],
  ['usage: proto out of range', { proto: 40 }, 2],
  ['usage: count 0', { count: 0 }, 2],
  ['no-recv', { proto: 0, type: RTM_GETLINK, flags: 5, noRecv: true, count: 2, message: 'x' }, 0],
];

for (const [name, call, exitCode] of sameAsNlclient) {
  t.test(`${name}: exit ${exitCode}, same result as nlclient`, async (t) => {
    const host = await runHostClient(call);
    const guest = await viaNlclient(call);
    t.equal(host.exitCode, exitCode);
    if (exitCode !== 0) t.match(host.errno, /^E[A-Z]+$/, `an errno name (${host.errno})`);
    if (exitCode === 2) t.equal(host.errno, guest.errno, 'usage errors name the same errno');
    else t.same(comparable(host), comparable(guest), 'identical to nlclient');
  });
}

t.test('a dump: both list lo, each ending with NLMSG_DONE', async (t) => {
  const call: ClientCall = { proto: 0, type: RTM_GETLINK, flags: 0x301, seq: 3, count: 2, message: IFINFOMSG };
  const host = await runHostClient(call);
  const guest = await viaNlclient(call);
  for (const [who, r] of [['host', host], ['nlclient', guest]] as const) {
    t.equal(r.exitCode, 0, `${who}: exit 0`);
    t.same(r.replies.filter((m) => m.type === 3).map((m) => m.seq), [3, 4], `${who}: one DONE per message`);
    t.ok(r.replies.some((m) => m.type === 16 && m.hex.includes(Buffer.from('lo\0').toString('hex'))), `${who}: lo listed`);
  }
  t.equal(host.replies.length, guest.replies.length, 'same number of messages');
});

t.test('an oversized payload is a usage error, like nlclient', async (t) => {
  const r = await runHostClient({ proto: 0, message: Buffer.alloc(1024 * 1024 + 1) });
  t.equal(r.exitCode, 2);
  t.equal(r.errno, 'EMSGSIZE');
});

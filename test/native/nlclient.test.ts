// Builds guest/nlclient.c on the host and checks its command line, output and exit codes against NETLINK_ROUTE.
import t, { type Test } from 'tap';
import { missingTools } from '../helpers/host-tools.ts';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from '../../rig/core/paths.ts';

const run = promisify(execFile);

/** RTM_GETLINK, and a zeroed struct ifinfomsg as its payload. */
const RTM_GETLINK = 18;
const IFINFOMSG = '00'.repeat(16);

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

const dir = await mkdtemp(join(tmpdir(), 'nlclient-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));

async function sources(): Promise<string[]> {
  const lib = join(projectRoot, 'native', 'lib');
  const files = (await readdir(lib)).filter((f) => f.endsWith('.c')).map((f) => join(lib, f));
  return [join(projectRoot, 'guest', 'nlclient.c'), ...files];
}

function includes(): string[] {
  return ['-I', join(projectRoot, 'native', 'include'), '-I', join(projectRoot, 'kmod')];
}

const exe = join(dir, 'nlclient');
await run('cc', ['-std=gnu11', '-Wall', '-Wextra', '-Werror', '-O2', ...includes(), ...(await sources()), '-o', exe]);

async function nlclient(...args: string[]): Promise<Ran> {
  const start = Date.now();
  try {
    const { stdout, stderr } = await run(exe, args);
    return { code: 0, stdout, stderr, ms: Date.now() - start };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr, ms: Date.now() - start };
  }
}

function jsonLines(stdout: string): Array<Record<string, unknown>> {
  return stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Interface names (IFLA_IFNAME attributes) in RTM_NEWLINK payloads given as hex. */
function ifNames(replies: Array<Record<string, unknown>>): string[] {
  const names: string[] = [];
  for (const r of replies) {
    if (r.type !== 16) continue;
    const p = Buffer.from(String(r.hex), 'hex');
    for (let off = 16; off + 4 <= p.length; ) {
      const len = p.readUInt16LE(off);
      const type = p.readUInt16LE(off + 2);
      if (len < 4) break;
      if (type === 3) names.push(p.subarray(off + 4, off + len).toString().replace(/\0+$/, ''));
      off += (len + 3) & ~3;
    }
  }
  return names;
}

function oneErrorLine(t: Test, stderr: string, errno: string): void {
  const lines = stderr.split('\n').filter((l) => l !== '');
  t.equal(lines.length, 1, 'one stderr line');
  t.match(lines[0], /^nlclient: /, 'starts with nlclient:');
  t.match(lines[0], new RegExp(`\\b${errno}\\b`), `names ${errno}`);
}

t.test('--help', async (t) => {
  const r = await nlclient('--help');
  t.equal(r.code, 0);
  t.match(r.stdout, /usage: nlclient .*--timeout-ms N/s);
});

t.test('usage errors exit 2 with one EINVAL line', async (t) => {
  for (const args of [['--proto', '40'], ['--bogus'], ['--hex', 'abc'], ['--hex', '00', 'text'], ['--count', '0'],
    ['--type', '0x10000'], ['--seq', '-1'], ['a', 'b'], ['--type']]) {
    const r = await nlclient(...args);
    t.equal(r.code, 2, `exit 2 for ${args.join(' ')}`);
    oneErrorLine(t, r.stderr, 'EINVAL');
    t.equal(r.stdout, '', 'nothing on stdout');
  }
});

t.test('a protocol nothing serves: exit 3, EPROTONOSUPPORT', async (t) => {
  const r = await nlclient('--proto', '31', 'hello');
  t.equal(r.code, 3);
  oneErrorLine(t, r.stderr, 'EPROTONOSUPPORT');
});

t.test('no answer: exit 4 after the timeout, ETIMEDOUT', async (t) => {
  // NETLINK_ROUTE ignores a message without NLM_F_REQUEST (and sends no ack).
  const r = await nlclient('--proto', '0', '--type', String(RTM_GETLINK), '--flags', '0', '--timeout-ms', '300');
  t.equal(r.code, 4);
  oneErrorLine(t, r.stderr, 'ETIMEDOUT');
  t.ok(r.ms >= 290, `waited the timeout (${r.ms} ms)`);
});

t.test('the kernel answers with an error: exit 5, the error reply printed', async (t) => {
  // RTM_GETLINK for ifindex 0 without a name is refused.
  const r = await nlclient('--proto', '0', '--type', String(RTM_GETLINK), '--flags', '5', '--seq', '42', '--hex', IFINFOMSG);
  t.equal(r.code, 5);
  const replies = jsonLines(r.stdout);
  t.equal(replies.length, 1, 'one reply');
  const [reply] = replies;
  t.equal(reply.type, 2, 'NLMSG_ERROR');
  t.equal(reply.seq, 42, 'with the request seq');
  t.ok(typeof reply.error === 'number' && reply.error < 0, `a negative error (${String(reply.error)})`);
  t.match(reply.errno, /^E[A-Z]+$/);
  oneErrorLine(t, r.stderr, String(reply.errno));
});

t.test('a dump: every message printed, ends with NLMSG_DONE, lists lo', async (t) => {
  const r = await nlclient('--proto', '0', '--type', String(RTM_GETLINK), '--flags', '0x301', '--hex', IFINFOMSG, '--count', '2', '--seq', '7');
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stderr, '');
  const replies = jsonLines(r.stdout);
  const done = replies.filter((m) => m.type === 3);
  t.same(done.map((m) => m.seq), [7, 8], 'one NLMSG_DONE per message, seq incrementing');
  t.ok(replies.every((m) => m.seq === 7 || m.seq === 8), 'every reply carries a request seq');
  t.ok(replies.filter((m) => m.type === 16).every((m) => (Number(m.flags) & 2) === 2), 'RTM_NEWLINK parts are NLM_F_MULTI');
  t.ok(ifNames(replies).includes('lo'), `lo listed (${ifNames(replies).join(',')})`);
  for (const m of replies) t.equal(Buffer.from(String(m.hex), 'hex').length, Number(m.len) - 16, 'hex is the whole payload');
});

t.test('--no-recv sends and exits 0 without output', async (t) => {
  const r = await nlclient('--proto', '0', '--type', String(RTM_GETLINK), '--flags', '5', '--no-recv', '--count', '3', 'x');
  t.equal(r.code, 0);
  t.equal(r.stdout, '');
  t.equal(r.stderr, '');
});

t.test('builds static with musl-gcc -Os (as the rig builds it)', async (t) => {
  const missing = await missingTools('musl-gcc');
  if (missing) return void t.fail(missing);
  const musl = join(dir, 'nlclient-musl');
  await run('musl-gcc', ['-std=gnu11', '-Wall', '-Wextra', '-Werror', '-static', '-Os', ...includes(), ...(await sources()), '-o', musl]);
  const { stdout } = await run(musl, ['--help']);
  t.match(stdout, /usage: nlclient/);
  const r = await run(musl, ['--proto', '31']).catch((e: { code: number; stderr: string }) => e);
  t.equal('code' in r ? r.code : 0, 3, 'the static build runs too');
});

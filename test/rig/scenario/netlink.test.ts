// The addon through rig/scenario/netlink.ts: framing round trips, hostile input, argument checks, real NETLINK_ROUTE sockets.
import t from 'tap';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  NetlinkError,
  NetlinkSocket,
  constants,
  decodeMessages,
  encodeMessage,
  errnoName,
  errnoValue,
  transact,
} from '../../../rig/scenario/netlink.ts';
import { projectRoot } from '../../../rig/core/paths.ts';

const RTM_GETLINK = 18;
const RTM_NEWLINK = 16;
const IFLA_IFNAME = 3;

/** Interface names in an RTM_NEWLINK payload (struct ifinfomsg, then rtattrs). */
function ifName(payload: Buffer): string | undefined {
  for (let off = 16; off + 4 <= payload.length; ) {
    const len = payload.readUInt16LE(off);
    if (len < 4) return undefined;
    if (payload.readUInt16LE(off + 2) === IFLA_IFNAME) {
      return payload.subarray(off + 4, off + len).toString().replace(/\0+$/, '');
    }
    off += (len + 3) & ~3;
  }
  return undefined;
}

t.test('constants come from kmod/ktest_uapi.h', async (t) => {
  const header = await readFile(join(projectRoot, 'kmod', 'ktest_uapi.h'), 'utf8');
  const define = (name: string): number => Number(new RegExp(`#define ${name} (\\S+)`).exec(header)?.[1]);
  const c = constants();
  t.equal(c.KTEST_NETLINK_PROTO, define('KTEST_NETLINK_PROTO'));
  t.equal(c.KTEST_MSG_HELLO, define('KTEST_MSG_HELLO'));
  t.equal(c.KTEST_MSG_ECHO, define('KTEST_MSG_ECHO'));
  t.equal(c.KTEST_MSG_SILENT, define('KTEST_MSG_SILENT'));
  t.equal(c.KTEST_MAX_PAYLOAD, define('KTEST_MAX_PAYLOAD'));
  t.ok(c.KTEST_MAX_PAYLOAD > 4096, 'payload limit above 4 KiB');
  t.equal(c.NLMSG_HDRLEN, 16);
});

t.test('encode -> decode round trip keeps every field', async (t) => {
  const cases = [
    { type: 0x10, flags: 5, seq: 1, pid: 0, payload: 'hello' },
    { type: 0xffff, flags: 0xffff, seq: 0xffffffff, pid: 0xffffffff, payload: Buffer.from([0, 1, 2, 255]) },
    { type: 0x11, payload: Buffer.alloc(0) },
    { type: 0x11, payload: Buffer.alloc(20000, 0xab) },
  ];
  for (const spec of cases) {
    const wire = encodeMessage(spec);
    const payload = typeof spec.payload === 'string' ? Buffer.from(spec.payload) : spec.payload;
    t.equal(wire.length, 16 + payload.length, 'header + payload, unpadded');
    const { messages, malformed } = decodeMessages(wire);
    t.equal(malformed, false);
    t.equal(messages.length, 1);
    const [m] = messages;
    t.equal(m.len, wire.length);
    t.equal(m.type, spec.type);
    t.equal(m.flags, spec.flags ?? 1, 'flags default NLM_F_REQUEST');
    t.equal(m.seq, spec.seq ?? 1, 'seq default 1');
    t.equal(m.pid, spec.pid ?? 0, 'pid default 0');
    t.ok(m.payload.equals(payload), 'payload byte for byte');
  }
});

t.test('several messages per buffer, padding between them', async (t) => {
  const a = encodeMessage({ type: 0x10, seq: 1, payload: 'abcde' });
  const b = encodeMessage({ type: 0x11, seq: 2, payload: 'xy' });
  const padded = Buffer.concat([a, Buffer.alloc(3), b]);
  const { messages, malformed } = decodeMessages(padded);
  t.equal(malformed, false);
  t.same(messages.map((m) => [m.type, m.seq, m.payload.toString()]), [[0x10, 1, 'abcde'], [0x11, 2, 'xy']]);
});

t.test('malformed input is reported, never thrown', async (t) => {
  const good = encodeMessage({ type: 0x10, seq: 1, payload: 'ok' });
  const lying = encodeMessage({ type: 0x10, seq: 2, len: 5000, payload: 'short' });
  const tiny = encodeMessage({ type: 0x10, len: 3, payload: 'x' });
  const cases: Array<[string, Buffer, number]> = [
    ['nlmsg_len past the end', lying, 0],
    ['nlmsg_len below a header', tiny, 0],
    ['header cut short', good.subarray(0, 10), 0],
    ['a good message, then garbage', Buffer.concat([good, Buffer.alloc(2), Buffer.from([1, 2, 3, 4, 5, 6])]), 1],
    ['NLMSG_ERROR without its code', encodeMessage({ type: 2, payload: Buffer.from([1, 2]) }), 0],
  ];
  for (const [name, buf, kept] of cases) {
    const { messages, malformed } = decodeMessages(buf);
    t.equal(malformed, true, `${name}: malformed`);
    t.equal(messages.length, kept, `${name}: messages before it kept`);
  }
  t.same(decodeMessages(Buffer.alloc(0)), { messages: [], malformed: false }, 'empty buffer');
});

t.test('NLMSG_ERROR decodes to error and errno', async (t) => {
  const body = Buffer.alloc(20);
  body.writeInt32LE(-90, 0);
  const [m] = decodeMessages(encodeMessage({ type: 2, flags: 0, payload: body })).messages;
  t.equal(m.error, -90);
  t.equal(m.errno, 'EMSGSIZE');
  body.writeInt32LE(0, 0);
  const [ack] = decodeMessages(encodeMessage({ type: 2, flags: 0, payload: body })).messages;
  t.equal(ack.error, 0, 'error 0 is an ack');
  t.equal(ack.errno, 'OK');
});

t.test('errno names and values', async (t) => {
  t.equal(errnoName(-90), 'EMSGSIZE');
  t.equal(errnoName(93), 'EPROTONOSUPPORT');
  t.equal(errnoName(-95), 'EOPNOTSUPP');
  t.equal(errnoName(123456), 'EUNKNOWN');
  t.equal(errnoValue('ETIMEDOUT'), 110);
  t.equal(errnoValue('EMSGSIZE'), 90);
  t.equal(errnoValue('NOPE'), 0);
});

t.test('arguments are checked at the boundary with TypeError', async (t) => {
  t.throws(() => encodeMessage({ type: 0x10000 }), TypeError);
  t.throws(() => encodeMessage({ type: -1 }), TypeError);
  t.throws(() => encodeMessage({ type: 1.5 }), TypeError);
  t.throws(() => encodeMessage({ type: 16, seq: 2 ** 32 }), TypeError);
  t.throws(() => encodeMessage({ type: 16, payload: 42 as unknown as string }), TypeError);
  t.throws(() => encodeMessage({ type: 16, payload: Buffer.alloc(1024 * 1024 + 1) }), TypeError);
  t.throws(() => decodeMessages('abc' as unknown as Buffer), TypeError);
  t.throws(() => errnoName('x' as unknown as number), TypeError);
  t.throws(() => NetlinkSocket.open(Number.NaN), TypeError);
  const s = NetlinkSocket.open(0);
  t.teardown(() => s.close());
  t.throws(() => s.send('x' as unknown as Buffer), TypeError);
  await t.rejects(async () => s.receive('soon' as unknown as number), TypeError);
});

t.test('a protocol nothing listens on: NetlinkError EPROTONOSUPPORT', async (t) => {
  const error = (() => {
    try {
      NetlinkSocket.open(31);
    } catch (e) {
      return e;
    }
    return undefined;
  })();
  t.ok(error instanceof NetlinkError, 'a NetlinkError');
  const e = error as NetlinkError;
  t.equal(e.errno, 'EPROTONOSUPPORT');
  t.equal(e.code, 93);
  t.equal(e.name, 'NetlinkError');
  t.ok(e.cause instanceof Error, 'keeps the addon error as cause');
});

t.test('RTM_GETLINK dump over a socket lists lo', async (t) => {
  const s = NetlinkSocket.open(0);
  t.teardown(() => s.close());
  t.ok(s.portid > 0, 'the kernel gave a port id');
  const ifinfomsg = Buffer.alloc(16);
  s.sendMessage({ type: RTM_GETLINK, flags: constants().NLM_F_REQUEST | constants().NLM_F_DUMP, seq: 9, payload: ifinfomsg });
  const names: string[] = [];
  let done = false;
  while (!done) {
    const { messages, malformed } = await s.receiveMessages(2000);
    t.equal(malformed, false, 'kernel datagrams are well formed');
    for (const m of messages) {
      t.equal(m.seq, 9, 'answers carry the request seq');
      if (m.type === constants().NLMSG_DONE) done = true;
      else if (m.type === RTM_NEWLINK) names.push(ifName(m.payload) ?? '?');
    }
  }
  t.ok(names.includes('lo'), `lo listed (${names.join(',')})`);
});

t.test('a receive timeout does not block the event loop', async (t) => {
  const s = NetlinkSocket.open(0);
  t.teardown(() => s.close());
  let ticks = 0;
  const timer = setInterval(() => ticks++, 20);
  const start = Date.now();
  const error = await s.receive(500).then(
    () => undefined,
    (e: unknown) => e,
  );
  clearInterval(timer);
  const elapsed = Date.now() - start;
  t.ok(error instanceof NetlinkError && error.errno === 'ETIMEDOUT' && error.timedOut, 'rejects with ETIMEDOUT');
  t.ok(elapsed >= 480, `waited the timeout (${elapsed} ms)`);
  t.ok(ticks >= 10, `the interval kept firing while waiting (${ticks} ticks)`);
});

t.test('close during a receive closes once it settles; the socket refuses use after close', async (t) => {
  const s = NetlinkSocket.open(0);
  const pending = s.receive(200).catch((e: unknown) => e);
  s.close();
  t.ok(s.closed);
  const error = await pending;
  t.ok(error instanceof NetlinkError && error.errno === 'ETIMEDOUT', 'the receive in flight ends normally');
  t.throws(() => s.send(Buffer.alloc(16)), NetlinkError);
  await t.rejects(s.receive(10), NetlinkError);
  s.close();
});

t.test('transact: nlclient semantics in a worker thread', async (t) => {
  const ok = await transact({ proto: 0, type: RTM_GETLINK, flags: 0x301, payload: Buffer.alloc(16), seq: 5, count: 2 });
  t.equal(ok.status, 0);
  const parsed = ok.lines.map((l) => JSON.parse(l) as { type: number; seq: number });
  t.same(parsed.filter((m) => m.type === 3).map((m) => m.seq), [5, 6], 'each dump ends with its NLMSG_DONE');

  const refused = await transact({ proto: 0, type: RTM_GETLINK, flags: 5, payload: Buffer.alloc(16) });
  t.equal(refused.status, 5, 'kernel error');
  t.match(refused.message, /^E[A-Z]+: kernel answered seq 1 with error -\d+$/);
  t.equal(refused.errno, (JSON.parse(refused.lines[0]) as { errno: string }).errno, 'errno of the error reply');

  const silent = await transact({ proto: 0, type: RTM_GETLINK, flags: 0, timeoutMs: 200 });
  t.equal(silent.status, 4);
  t.equal(silent.errno, 'ETIMEDOUT');

  const none = await transact({ proto: 31, type: 16 });
  t.equal(none.status, 3);
  t.equal(none.errno, 'EPROTONOSUPPORT');
  t.equal(none.code, 93);
});

// The default scenarios: the ktest netlink protocol (kmod/ktest_uapi.h) exercised end to end.
import type { Scenario, ScenarioContext } from './api.ts';
import type { ClientCall, ClientResult } from './client.ts';

const NLM_F_REQUEST = 0x1;
const NLM_F_ACK = 0x4;
const NLMSG_ERROR = 0x2;
const NLMSG_HDRLEN = 16;
const GREETING = 'hello users!!!';

function constant(t: ScenarioContext, name: string): number {
  const v = t.uapi[name];
  if (v === undefined) t.fail(`the module's uapi header defines no ${name}`);
  return v;
}

/** Assert a clean exit with exactly `n` non-error replies whose seqs run from `firstSeq`. */
function expectReplies(t: ScenarioContext, r: ClientResult, n: number, firstSeq: number, what: string): void {
  t.equal(r.exitCode, 0, `${what}: client exit code (stderr: ${r.error ?? ''})`);
  const data = r.replies.filter((x) => x.type !== NLMSG_ERROR);
  t.equal(data.length, n, `${what}: number of replies`);
  data.forEach((reply, i) => {
    if (reply.seq !== firstSeq + i) t.fail(`${what}: reply ${i} has seq ${reply.seq}, expected ${firstSeq + i}`);
  });
}

async function echo(t: ScenarioContext, payload: Buffer, what: string): Promise<void> {
  const r = await t.client({ type: constant(t, 'KTEST_MSG_ECHO'), message: payload, timeoutMs: 5000 });
  expectReplies(t, r, 1, 1, what);
  t.equal(r.replies[0]!.hex, payload.toString('hex'), `${what}: echoed bytes`);
  t.equal(r.replies[0]!.len, NLMSG_HDRLEN + payload.length, `${what}: reply nlmsg_len`);
}

function errorReply(r: ClientResult): { error?: number; errno?: string } | undefined {
  return r.replies.find((x) => x.type === NLMSG_ERROR);
}

export const scenarios: Scenario[] = [
  {
    name: 'load',
    description: 'the module loads, and only the O and E taint flags appear',
    load: false,
    async run(t) {
      const before = await t.taint();
      await t.module.load();
      t.ok(await t.module.isLoaded(), 'module listed in /proc/modules after insmod');
      const added = (await t.taint()).filter((f) => !before.includes(f));
      const unexpected = added.filter((f) => f !== 'O' && f !== 'E');
      t.equal(unexpected, [], 'taint flags other than O and E after loading');
    },
  },
  {
    name: 'roundtrip',
    description: '"hello kernel" in, "hello users!!!" back, and the kernel logs the message',
    async run(t) {
      const r = await t.client({ message: 'hello kernel' });
      expectReplies(t, r, 1, 1, 'hello');
      t.equal(r.replies[0]!.payload.replace(/\0+$/, ''), GREETING, 'reply payload');
      t.match(await t.dmesg(), /kernel recv from user: hello kernel/, 'dmesg line for the message');
    },
  },
  {
    name: 'sequential-1000',
    description: '1000 sequential messages, each reply carrying its request seq',
    async run(t) {
      const r = await t.client({ message: 'seq', count: 1000, seq: 1, timeoutMs: 5000 });
      expectReplies(t, r, 1000, 1, '1000 messages');
    },
  },
  {
    name: 'concurrent-8x100',
    description: '8 concurrent clients x 100 messages: every reply reaches its own client',
    async run(t) {
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => t.client({ message: `client ${i}`, count: 100, seq: 1000 * (i + 1), timeoutMs: 10_000 })),
      );
      results.forEach((r, i) => expectReplies(t, r, 100, 1000 * (i + 1), `client ${i}`));
    },
  },
  {
    name: 'echo-empty',
    description: 'a 0-byte ECHO payload comes back empty',
    run: (t) => echo(t, Buffer.alloc(0), 'empty payload'),
  },
  {
    name: 'echo-1-byte',
    description: 'a 1-byte ECHO payload comes back byte for byte',
    run: (t) => echo(t, Buffer.from('x'), '1-byte payload'),
  },
  {
    name: 'echo-4k',
    description: 'a 4 KiB ECHO payload comes back byte for byte',
    run: (t) => echo(t, patterned(4096), '4 KiB payload'),
  },
  {
    name: 'echo-max',
    description: 'the largest payload the module accepts comes back byte for byte',
    run: (t) => echo(t, patterned(constant(t, 'KTEST_MAX_PAYLOAD')), 'largest payload'),
  },
  {
    name: 'echo-over-max',
    description: 'one byte over the largest payload gets an EMSGSIZE error, not a reply',
    async run(t) {
      const max = constant(t, 'KTEST_MAX_PAYLOAD');
      const r = await t.client({ type: constant(t, 'KTEST_MSG_ECHO'), message: patterned(max + 1), timeoutMs: 5000 });
      t.equal(r.exitCode, 5, 'client exit code (kernel answered with an error)');
      t.equal(errorReply(r)?.errno, 'EMSGSIZE', 'error of the over-limit message');
    },
  },
  {
    name: 'echo-binary',
    description: 'a payload with NUL and non-UTF-8 bytes comes back byte for byte',
    run: (t) => echo(t, Buffer.from([0x00, 0xff, 0xfe, 0x00, 0x80, 0xc3, 0x28, 0x0a, 0x0d, 0x1b, 0x00, 0x7f]), 'binary payload'),
  },
  {
    name: 'malformed-headers',
    description: 'nlmsg_len below the header, above the datagram, and zero: an error or nothing, never a crash',
    async run(t) {
      const cases = [
        ['nlmsg_len below the header size', NLMSG_HDRLEN - 4],
        ['nlmsg_len above the datagram', 4096],
        ['nlmsg_len zero', 0],
      ] as const;
      // Three clients at once: an ignored message gets nothing, so each waits out its short timeout.
      const results = await Promise.all(cases.map(([, len]) => t.client({ message: 'malformed', len, timeoutMs: 300 })));
      cases.forEach(([what], i) => {
        const r = results[i]!;
        const data = r.replies.filter((x) => x.type !== NLMSG_ERROR);
        t.equal(data.length, 0, `${what}: no data reply to a malformed message`);
        t.ok([0, 4, 5].includes(r.exitCode), `${what}: ignored (timeout) or answered with an error, got exit ${r.exitCode} ${r.error ?? ''}`);
      });
      // The module still works afterwards.
      expectReplies(t, await t.client({ message: 'still alive' }), 1, 1, 'after malformed messages');
    },
  },
  {
    name: 'ack',
    description: 'NLM_F_ACK set: the reply is followed by an NLMSG_ERROR ack with error 0',
    async run(t) {
      const r = await t.client({ message: 'ack me', flags: NLM_F_REQUEST | NLM_F_ACK, seq: 7 });
      t.equal(r.exitCode, 0, `client exit code (stderr: ${r.error ?? ''})`);
      const ack = errorReply(r);
      t.ok(ack, 'an NLMSG_ERROR ack arrived');
      t.equal(ack?.error, 0, 'ack error code');
      t.ok(r.replies.every((x) => x.seq === 7), 'reply and ack carry the request seq');
    },
  },
  {
    name: 'unknown-type',
    description: 'a message type the module does not know is answered with an error',
    async run(t) {
      const r = await t.client({ type: 0x7f, message: 'what?', timeoutMs: 2000 });
      t.equal(r.exitCode, 5, 'client exit code (kernel answered with an error)');
      const err = errorReply(r);
      t.ok(err && err.error !== undefined && err.error < 0, 'NLMSG_ERROR with a negative error');
    },
  },
  {
    name: 'spoofed-pid',
    description: 'a forged nlmsg_pid does not redirect the reply: it reaches the real sender socket',
    async run(t) {
      const r = await t.client({ message: 'spoof', pid: 4242 });
      expectReplies(t, r, 1, 1, 'spoofed pid');
    },
  },
  {
    name: 'no-module',
    description: 'a client on the protocol without the module loaded gets EPROTONOSUPPORT at once, not a hang',
    load: false,
    async run(t) {
      const r = await t.client({ message: 'anyone?', timeoutMs: 2000 });
      t.equal(r.exitCode, 3, 'client exit code (socket error)');
      t.equal(r.errno, 'EPROTONOSUPPORT', 'errno');
    },
  },
  {
    name: 'reload-20',
    description: 'unload and reload 20 times with traffic in between',
    timeoutMs: 120_000,
    async run(t) {
      for (let i = 0; i < 20; i++) {
        expectReplies(t, await t.client({ message: `round ${i}`, seq: i + 1 }), 1, i + 1, `round ${i}`);
        await t.module.unload();
        await t.module.load();
      }
      expectReplies(t, await t.client({ message: 'after reloads' }), 1, 1, 'after 20 reloads');
    },
  },
  {
    name: 'unload-while-waiting',
    description:
      'rmmod while a client waits in recv: the kernel pins the module while a socket of its protocol is open, so the unload is refused, the client times out cleanly, and the unload then succeeds',
    timeoutMs: 90_000,
    async run(t) {
      // The client must still wait while the rig polls the log and tries rmmod: a few guest commands,
      // which take 0.1 s on a stock kernel and over a second on the debug kernel (KASAN, lockdep).
      const probe = Date.now();
      await t.dmesg();
      const timeoutMs = Math.min(20_000, Math.max(3000, 6 * (Date.now() - probe)));
      let ended = false;
      const waiting = t.client({ type: constant(t, 'KTEST_MSG_SILENT'), message: 'wait for me', timeoutMs }).finally(() => {
        ended = true;
      });
      // The module logged the message (its text, or only its length when the module's log buffer could
      // not be allocated): the client has sent it and now waits in recv. A client that ends first never
      // got its message to the module (under --fault-inject, a failed allocation of the send): an
      // assertion, not a wait until the scenario's time is up.
      await until(t, async () => ended || /kernel recv from user: (wait for me|\(\d+ bytes, not shown\))/.test(await t.dmesg()), 'the SILENT message reached the module');
      if (ended) {
        const early = await waiting;
        t.fail(`the client ended before its message reached the module (exit ${early.exitCode}${early.error ? `: ${early.error}` : ''})`);
        return;
      }
      const refused = await t.module.tryUnload();
      t.ok(refused.exitCode !== 0, 'rmmod is refused while a client socket of the protocol is open');
      t.ok(await t.module.isLoaded(), 'module still loaded while the client waits');
      const r = await waiting;
      t.equal(r.exitCode, 4, `client exit code (timeout), stderr: ${r.error ?? ''}`);
      await t.module.unload();
      t.ok(!(await t.module.isLoaded()), 'module unloads once the client is gone');
      const after = await t.client({ message: 'after unload', timeoutMs: 1000 });
      t.equal(after.errno, 'EPROTONOSUPPORT', 'the protocol is gone with the module');
    },
  },
  {
    name: 'other-proto',
    description: 'the proto module parameter moves the socket to another protocol number',
    load: false,
    async run(t) {
      const other = t.proto === 31 ? 29 : 31;
      await t.module.load({ proto: other });
      expectReplies(t, await t.client({ proto: other, message: 'other proto' }), 1, 1, `proto ${other}`);
      const r = await t.client({ proto: t.proto, message: 'default proto', timeoutMs: 1000 });
      t.equal(r.errno, 'EPROTONOSUPPORT', `proto ${t.proto} is free while the module listens on ${other}`);
    },
  },
  refusedLoad('bad-proto', 'a proto parameter outside 0..31 (MAX_LINKS) is refused at load with EINVAL, and the module says why', 32, /Invalid argument/, /ktest: proto=32 out of range 0\.\.31/),
  refusedLoad(
    'proto-in-use',
    "a protocol the kernel already serves (0: rtnetlink's socket holds port 0) is refused at load with EBUSY",
    0,
    /busy/i,
    /ktest: cannot create netlink socket for protocol 0 \(in use\?\)/,
  ),
];

/** A load with this proto fails: insmod says why (errno), nothing stays loaded, and the module logged its reason. */
function refusedLoad(name: string, description: string, proto: number, errno: RegExp, log: RegExp): Scenario {
  return {
    name,
    description,
    load: false,
    async run(t) {
      const r = await t.module.tryLoad({ proto });
      t.ok(r.exitCode !== 0, 'insmod fails');
      t.match(r.stderr.toString('utf8'), errno, 'the errno');
      t.ok(!(await t.module.isLoaded()), 'not loaded');
      t.match(await t.dmesg(), log, 'kernel log');
    },
  };
}

/**
 * Poll `check` every 50 ms, at most 100 times: 5 s plus the checks' own time (a dmesg takes about a
 * second on the debug kernel, so there this can outlast a scenario's budget; callers that wait on a
 * client also stop when it ends).
 */
async function until(t: ScenarioContext, check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await check()) return;
    await t.sleep(50);
  }
  t.fail(`timed out waiting: ${what}`);
}

/** Bytes 0..255 repeating: a payload whose corruption anywhere shows. */
function patterned(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + (i >> 8)) & 0xff;
  return b;
}

export type { ClientCall };
export default scenarios;

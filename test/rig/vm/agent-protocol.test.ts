// Tests for the agent protocol codec: encoders, the streaming decoder, and a round trip through the real agent.
import t, { type Test } from 'tap';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  newNonce,
  encodeRun,
  encodeKill,
  encodePing,
  encodeField,
  decodeField,
  parseFrame,
  FrameDecoder,
  MAX_FRAME_LINE,
  MAX_REQUEST_LINE,
  type AgentFrame,
} from '../../../rig/vm/agent-protocol.ts';
import { InternalError, UsageError } from '../../../rig/core/errors.ts';
import { missingTools } from '../../helpers/host-tools.ts';
import { projectRoot } from '../../../rig/core/paths.ts';

const fixture = (name: string): Buffer => readFileSync(join(projectRoot, 'test/fixtures/console', name));
const NONCE = '5eed0fa11c0ffee0';

t.test('newNonce is 16 hex digits and fresh each time', async (t) => {
  const seen = new Set<string>();
  for (let i = 0; i < 100; i++) {
    const n = newNonce();
    t.match(n, /^[0-9a-f]{16}$/);
    seen.add(n);
  }
  t.equal(seen.size, 100);
});

t.test('encoders', async (t) => {
  t.equal(encodePing('abc', 7), 'P abc 7\n');
  t.equal(encodeKill('abc', 0), 'K abc 0\n');
  t.equal(
    encodeRun('abc', 3, ['echo', 'hi', ''], { timeoutMs: 1500 }),
    `X abc 3 1500 - ${Buffer.from('echo').toString('base64')} ${Buffer.from('hi').toString('base64')} -\n`,
  );
  t.equal(
    encodeRun('abc', 4, ['cat'], { timeoutMs: 0, stdin: Buffer.from([0, 1, 2]) }),
    `X abc 4 0 AAEC ${Buffer.from('cat').toString('base64')}\n`,
  );
  t.throws(() => encodeRun('abc', 1, ['echo', 'a\0b'], { timeoutMs: 1 }), UsageError);
  t.throws(() => encodeRun('abc', 1, [Buffer.from([65, 0])], { timeoutMs: 1 }), UsageError);
  t.throws(() => encodeRun('abc', 1, [], { timeoutMs: 1 }), UsageError);
  t.throws(() => encodeRun('abc', 1, [''], { timeoutMs: 1 }), UsageError);
  t.throws(() => encodeRun('abc', 1, ['x'], { timeoutMs: -1 }), UsageError);
  t.throws(() => encodeRun('abc', 1, ['x'], { timeoutMs: 1.5 }), UsageError);
  t.throws(() => encodeRun('abc', 1, ['x'], { timeoutMs: 1, stdin: Buffer.alloc(MAX_REQUEST_LINE) }), UsageError);
  t.throws(() => encodePing('a b', 1), InternalError);
  t.throws(() => encodePing('', 1), InternalError);
  t.throws(() => encodePing('abc', -1), InternalError);
  t.throws(() => encodePing('abc', 2 ** 32), InternalError);
  t.throws(() => new FrameDecoder('no spaces allowed'), InternalError);
});

t.test('fields: base64 or "-" for empty, strict on decode', async (t) => {
  t.equal(encodeField(Buffer.alloc(0)), '-');
  t.same(decodeField('-'), Buffer.alloc(0));
  t.same(decodeField('aGk='), Buffer.from('hi'));
  for (const bad of ['', 'aGk', 'a=Gk', 'aG!=', 'aGk==', '====']) t.equal(decodeField(bad), undefined, bad);
});

t.test('parseFrame accepts the four frame types and rejects malformed ones', async (t) => {
  t.same(parseFrame('R n 5', 'n'), { type: 'pong', id: 5 });
  t.same(parseFrame('O n 5 2 aGk=', 'n'), { type: 'output', id: 5, stream: 2, data: Buffer.from('hi') });
  t.same(parseFrame('E n 5 0 - 0 12', 'n'), { type: 'end', id: 5, exitCode: 0, signal: null, timedOut: false, durationMs: 12 });
  t.same(parseFrame('E n 5 - SIGKILL 1 300', 'n'), {
    type: 'end', id: 5, exitCode: null, signal: 'SIGKILL', timedOut: true, durationMs: 300,
  });
  t.same(parseFrame('F n 5 bm9wZQ==', 'n'), { type: 'failed', id: 5, message: 'nope' });
  const bad = [
    'R m 5', 'R n', 'R n x', 'R n 05', 'R n 4294967296', 'R n 5 extra', 'P n 5', 'X n 5',
    'O n 5 3 aGk=', 'O n 5 1 -', 'O n 5 1 aGk', 'O n 5 1',
    'E n 5 - - 0 1', 'E n 5 0 SIGKILL 0 1', 'E n 5 256 - 0 1', 'E n 5 0 - 2 1', 'E n 5 0 - 0', 'E n 5 0 - 0 -1',
    'E n 5 0 - 0 1 x', 'E n 5 - kill 0 1', 'F n 5', 'F n 5 !!', '', ' R n 5',
  ];
  for (const line of bad) t.equal(parseFrame(line, 'n'), undefined, JSON.stringify(line));
});

t.test('decoder: a captured guest session with garbage, another nonce, timeouts and exec failures', async (t) => {
  const stream = fixture('session.bin');
  const whole = new FrameDecoder(NONCE).push(stream);
  // the same bytes fed one at a time must give the same frames
  const bytewise = new FrameDecoder(NONCE);
  const split: AgentFrame[] = [];
  for (let i = 0; i < stream.length; i++) split.push(...bytewise.push(stream.subarray(i, i + 1)));
  t.same(split, whole);

  const ended = new Map<number, AgentFrame>();
  const out = new Map<string, Buffer>();
  for (const f of whole) {
    if (f.type === 'end' || f.type === 'failed') ended.set(f.id, f);
    if (f.type === 'output') {
      const key = `${f.id}:${f.stream}`;
      out.set(key, Buffer.concat([out.get(key) ?? Buffer.alloc(0), f.data]));
    }
  }
  t.ok(whole.some((f) => f.type === 'pong'), 'has pongs');
  t.match(ended.get(100), { type: 'end', exitCode: 3, signal: null, timedOut: false });
  t.equal(out.get('100:1')?.toString(), 'out\n');
  t.equal(out.get('100:2')?.toString(), 'err\n');
  t.same(out.get('101:1'), Buffer.from('stdin \x00\xff bytes', 'latin1'));
  t.match(ended.get(102), { type: 'failed', message: /no-such-command: No such file or directory/ });
  t.match(ended.get(103), { type: 'end', exitCode: null, signal: 'SIGKILL', timedOut: true });
  t.equal(out.get('104:1')?.toString(), 'x'.repeat(10000));
  // every output frame of a command comes before its end
  for (const [id, end] of ended) {
    const last = whole.lastIndexOf(end);
    t.notOk(whole.slice(last).some((f) => f.type === 'output' && f.id === id), `output of ${id} before its end`);
  }
  // the pong for the other session's nonce is ignored and counted
  t.ok(stream.includes('R ffff0000ffff0000 7'));
  t.ok(bytewise.ignoredLines >= 1);
});

t.test('decoder: garbage, CRLF, split frames, wrong nonces, over-long lines', async (t) => {
  const d = new FrameDecoder('n');
  const frames: AgentFrame[] = [];
  const feed = (s: string | Buffer): void => {
    frames.push(...d.push(Buffer.isBuffer(s) ? s : Buffer.from(s, 'latin1')));
  };
  feed('garbage\x00\xff line\r\nR n 1\r\n\n\nR wrong 2\nO n 3 1 aG');
  t.same(frames, [{ type: 'pong', id: 1 }]);
  t.equal(d.ignoredLines, 2);
  feed('k=\nE n 3 0 - 0 5');
  feed('\n');
  t.same(frames.slice(1), [
    { type: 'output', id: 3, stream: 1, data: Buffer.from('hi') },
    { type: 'end', id: 3, exitCode: 0, signal: null, timedOut: false, durationMs: 5 },
  ]);
  // a line over the limit is dropped whole, even when it ends like a frame, and counted once
  feed('x'.repeat(MAX_FRAME_LINE - 3));
  feed(' R n 9\nR n 10\n');
  t.same(frames.slice(3), [{ type: 'pong', id: 10 }]);
  t.equal(d.ignoredLines, 3);
  // kernel-style noise mixed in the middle of a frame line makes that line unparsable, not a wrong frame
  feed('R n [   12.3] 11\n');
  t.equal(frames.length, 4);
  t.equal(d.ignoredLines, 4);
});

/**
 * Compiles guest/agent.c for the host with musl-gcc, as the rig builds it for x86_64 guests. A missing
 * compiler and a compile error are both failures of the tests that need it, never skips: the error
 * says which (the compiler's own output for a broken agent.c).
 */
async function buildHostAgent(dir: string): Promise<{ path: string } | { error: string }> {
  const missing = await missingTools('musl-gcc');
  if (missing) return { error: missing };
  const out = join(dir, 'ktest-agent');
  const r = spawnSync('musl-gcc', ['-static', '-O2', '-Wall', '-Werror', '-o', out, join(projectRoot, 'guest/agent.c')], { encoding: 'utf8' });
  if (r.status !== 0) return { error: `guest/agent.c does not build (musl-gcc exit ${r.status ?? r.signal}):\n${r.stderr}` };
  return { path: out };
}

/** Runs the agent in stdio mode, sends lines, collects frames until every id has ended. */
async function runAgent(agent: string, nonce: string, lines: string[], ids: number[]): Promise<AgentFrame[]> {
  const child = spawn(agent, ['-'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const decoder = new FrameDecoder(nonce);
  const frames: AgentFrame[] = [];
  const pending = new Set(ids);
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`agent did not answer; got ${JSON.stringify(frames)}`)), 20000);
      child.on('error', reject);
      child.stdout.on('data', (chunk: Buffer) => {
        for (const f of decoder.push(chunk)) {
          frames.push(f);
          if (f.type === 'end' || f.type === 'failed' || f.type === 'pong') pending.delete(f.id);
        }
        if (pending.size === 0) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.stdin.write(lines.join(''));
    });
  } finally {
    child.stdin.end();
    child.kill('SIGKILL');
  }
  return frames;
}

const outputOf = (frames: AgentFrame[], id: number, stream: 1 | 2): Buffer =>
  Buffer.concat(frames.flatMap((f) => (f.type === 'output' && f.id === id && f.stream === stream ? [f.data] : [])));

const agentDir = mkdtempSync(join(tmpdir(), 'ktest-agent-'));
t.teardown(() => rmSync(agentDir, { recursive: true, force: true }));
// Built once, on first use (no top-level await: tap must see every test registered synchronously).
let building: ReturnType<typeof buildHostAgent> | undefined;

/** The built agent, or a failure of this test saying why there is none. */
async function agentOf(t: Test): Promise<string | undefined> {
  building ??= buildHostAgent(agentDir);
  const hostAgent = await building;
  if ('error' in hostAgent) {
    t.fail(hostAgent.error);
    return undefined;
  }
  return hostAgent.path;
}

t.test('round trip through the agent on the host (stdio mode)', async (t) => {
  const agent = await agentOf(t);
  if (!agent) return;
  const nonce = newNonce();
  const every = Buffer.from(Array.from({ length: 255 }, (_, i) => i + 1));
  const hostile = ['it\'s "quoted"', 'new\nline', '$(touch /tmp/pwned) `id` ${HOME}', ' lead and trail ', '', '-', '\r\n'];
  const printArgs = ['sh', '-c', 'for a in "$@"; do printf "%s" "$a" | od -An -v -tx1 | tr -d " \\n"; echo; done', 'sh'];
  const big = Buffer.alloc(200_000, 'y');
  const frames = await runAgent(
    agent,
    nonce,
    [
      encodePing(nonce, 1),
      encodeRun(nonce, 2, [...printArgs, every, ...hostile, 'é✓'], { timeoutMs: 10000 }),
      encodeRun(nonce, 3, ['sh', '-c', 'echo to-err >&2; exit 42'], { timeoutMs: 10000 }),
      encodeRun(nonce, 4, ['wc', '-c'], { timeoutMs: 10000, stdin: big }),
      encodeRun(nonce, 5, ['sleep', '30'], { timeoutMs: 300 }),
      encodeRun(nonce, 6, ['/nonexistent/program'], { timeoutMs: 1000 }),
      encodeRun(nonce, 7, ['sleep', '30'], { timeoutMs: 0 }),
      encodeKill(nonce, 7),
      encodeRun(nonce, 8, ['sh', '-c', 'head -c 300000 /dev/zero'], { timeoutMs: 10000 }),
      'garbage line\n',
      `P ${nonce}x 9\n`,
    ],
    [1, 2, 3, 4, 5, 6, 7, 8],
  );
  const end = (id: number): AgentFrame | undefined => frames.find((f) => (f.type === 'end' || f.type === 'failed') && f.id === id);
  t.ok(frames.some((f) => f.type === 'pong' && f.id === 1));
  const got = outputOf(frames, 2, 1).toString().trim().split('\n');
  const want = [every, ...hostile, 'é✓'].map((a) => Buffer.from(a).toString('hex'));
  t.same(got, want, 'every argv byte arrives unchanged');
  t.match(end(2), { type: 'end', exitCode: 0 });
  t.match(end(3), { type: 'end', exitCode: 42, signal: null, timedOut: false });
  t.equal(outputOf(frames, 3, 2).toString(), 'to-err\n');
  t.equal(outputOf(frames, 4, 1).toString().trim(), String(big.length), 'stdin larger than a pipe buffer');
  t.match(end(5), { type: 'end', exitCode: null, signal: 'SIGKILL', timedOut: true });
  const d5 = end(5);
  if (d5?.type === 'end') t.ok(d5.durationMs >= 300 && d5.durationMs < 5000, `timeout took ${d5.durationMs} ms`);
  t.match(end(6), { type: 'failed', message: /nonexistent\/program: No such file or directory/ });
  t.match(end(7), { type: 'end', signal: 'SIGKILL', timedOut: false });
  t.equal(outputOf(frames, 8, 1).length, 300000);
  t.notOk(frames.some((f) => f.id === 9), 'a ping with another nonce gets no answer in this session');
});

t.test('the agent refuses more than 64 concurrent commands and duplicate ids', async (t) => {
  const agent = await agentOf(t);
  if (!agent) return;
  const nonce = newNonce();
  const ids = Array.from({ length: 70 }, (_, i) => i + 1);
  const frames = await runAgent(
    agent,
    nonce,
    [...ids.map((id) => encodeRun(nonce, id, ['sleep', '1'], { timeoutMs: 5000 })), encodeRun(nonce, 1, ['true'], { timeoutMs: 5000 })],
    ids,
  );
  const failed = frames.filter((f) => f.type === 'failed');
  const ended = frames.filter((f) => f.type === 'end');
  t.equal(ended.length, 64);
  t.ok(ended.every((f) => f.type === 'end' && f.exitCode === 0));
  t.equal(failed.length, 7);
  t.equal(failed.filter((f) => f.type === 'failed' && /too many concurrent commands/.test(f.message)).length, 6);
  t.ok(failed.some((f) => f.type === 'failed' && f.id === 1 && /already running/.test(f.message)));
});

t.test('the agent answers malformed frames with F when it can, and ignores the rest', async (t) => {
  const agent = await agentOf(t);
  if (!agent) return;
  const nonce = newNonce();
  const frames = await runAgent(
    agent,
    nonce,
    [
      `X ${nonce} 1 1000 - not*base64\n`,
      `X ${nonce} 2 soon - ${Buffer.from('true').toString('base64')}\n`,
      `X ${nonce} 3 1000 - ${Buffer.from('a\0b').toString('base64')}\n`,
      `X ${nonce}\n`,
      `K ${nonce} 99\n`,
      `Z ${nonce} 4\n`,
      encodePing(nonce, 5),
    ],
    [1, 2, 3, 5],
  );
  t.match(frames.find((f) => f.id === 1), { type: 'failed', message: /malformed argv\[0\]/ });
  t.match(frames.find((f) => f.id === 2), { type: 'failed', message: /malformed command frame/ });
  t.match(frames.find((f) => f.id === 3), { type: 'failed', message: /contains NUL/ });
  t.match(frames.find((f) => f.id === 5), { type: 'pong' });
  t.notOk(frames.some((f) => f.id === 4 || f.id === 99));
});

t.test('the largest frame the encoder allows is one the agent accepts', async (t) => {
  const agent = await agentOf(t);
  if (!agent) return;
  const nonce = newNonce();
  const frame = (n: number): string => encodeRun(nonce, 1, ['wc', '-c'], { timeoutMs: 10000, stdin: Buffer.alloc(n, 7) });
  let n = Math.floor((MAX_REQUEST_LINE * 3) / 4);
  while (n > 0) {
    try {
      frame(n);
      break;
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      n -= 1;
    }
  }
  t.ok(frame(n).length <= MAX_REQUEST_LINE && frame(n).length > MAX_REQUEST_LINE - 8, `largest frame: ${frame(n).length} bytes`);
  t.throws(() => frame(n + 3), UsageError);
  const frames = await runAgent(agent, nonce, [frame(n), encodePing(nonce, 2)], [1, 2]);
  t.equal(outputOf(frames, 1, 1).toString().trim(), String(n));
  t.match(frames.find((f) => f.type === 'end' && f.id === 1), { exitCode: 0 });
});

t.test('in stdio mode the agent finishes running commands after its input closes, then exits', async (t) => {
  const agent = await agentOf(t);
  if (!agent) return;
  const nonce = newNonce();
  const child = spawn(agent, ['-'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const decoder = new FrameDecoder(nonce);
  const frames: AgentFrame[] = [];
  child.stdout.on('data', (chunk: Buffer) => frames.push(...decoder.push(chunk)));
  child.stdin.end(encodeRun(nonce, 1, ['sh', '-c', 'sleep 0.3; echo late'], { timeoutMs: 5000 }));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  t.equal(code, 0);
  t.equal(outputOf(frames, 1, 1).toString(), 'late\n');
  t.match(frames.at(-1), { type: 'end', id: 1, exitCode: 0 });
});

t.test('pty frames: T, I (split), W', async (t) => {
  const { encodePtyRun, encodePtyInput, encodePtyResize, PTY_INPUT_CHUNK } = await import('../../../rig/vm/agent-protocol.ts');
  t.equal(encodePtyRun('n1', 5, ['/bin/sh', '-i'], { rows: 24, cols: 80 }), `T n1 5 24 80 ${Buffer.from('/bin/sh').toString('base64')} ${Buffer.from('-i').toString('base64')}\n`);
  t.throws(() => encodePtyRun('n1', 5, ['sh'], { rows: 0, cols: 80 }), /bad window size/);
  t.throws(() => encodePtyRun('n1', 5, [], { rows: 1, cols: 1 }), /empty argv/);
  t.equal(encodePtyInput('n1', 5, Buffer.from('\u0003')), 'I n1 5 Aw==\n');
  t.equal(encodePtyInput('n1', 5, Buffer.alloc(PTY_INPUT_CHUNK + 1, 0x61)).split('\n').filter(Boolean).length, 2, 'a paste is split');
  t.equal(encodePtyResize('n1', 5, { rows: 40, cols: 132 }), 'W n1 5 40 132\n');
});

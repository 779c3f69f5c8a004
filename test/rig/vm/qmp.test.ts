import t, { type Test } from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeQmpCommand, parseQmpLine, QmpClient, QmpDecoder, QmpError } from '../../../rig/vm/qmp.ts';
import { QemuError } from '../../../rig/core/errors.ts';

t.test('QmpDecoder: messages split across chunks, several per chunk, CRLF', async (t) => {
  const d = new QmpDecoder();
  t.same(d.push('{"QMP": {"version": {"qemu": {"major": 7}}, "capabilities": []}}\r\n{"retu'), [
    { kind: 'greeting', version: { qemu: { major: 7 } } },
  ]);
  t.same(d.push('rn": {}, "id": 1}\n{"error": {"class": "GenericError", "desc": "no"}, "id": 2}\n'), [
    { kind: 'return', id: 1, value: {} },
    { kind: 'error', id: 2, errorClass: 'GenericError', desc: 'no' },
  ]);
  const [ev] = d.push(Buffer.from('{"event": "STOP", "timestamp": {"seconds": 1, "microseconds": 2}}\n'));
  t.same(ev, { kind: 'event', event: { event: 'STOP', data: {}, timestamp: { seconds: 1, microseconds: 2 } } });
  t.same(d.push('\n\n'), [], 'blank lines are skipped');
});

t.test('parseQmpLine rejects garbage with QemuError', async (t) => {
  t.throws(() => parseQmpLine('not json'), QemuError);
  t.throws(() => parseQmpLine('{"what": 1}'), QemuError);
  t.throws(() => parseQmpLine('42'), QemuError);
});

t.test('encodeQmpCommand', async (t) => {
  t.equal(encodeQmpCommand('stop', undefined, 3), '{"execute":"stop","id":3}\n');
  t.same(JSON.parse(encodeQmpCommand('migrate', { uri: 'exec:cat' }, 4)), { execute: 'migrate', arguments: { uri: 'exec:cat' }, id: 4 });
});

/** A fake QEMU QMP server: greeting, then answers via `answer` (null = no reply). */
async function fakeQmp(
  t: Test,
  answer: (cmd: { execute: string; arguments?: any; id?: unknown }, socket: Socket) => unknown,
  opts: { delayListenMs?: number } = {},
): Promise<{ path: string; server: Promise<Server>; received: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'qmp-test-'));
  const path = join(dir, 'qmp.sock');
  const received: string[] = [];
  const server = new Promise<Server>((resolve) => {
    setTimeout(() => {
      const s = createServer((socket) => {
        socket.write('{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}}, "capabilities": ["oob"]}}\r\n');
        let buf = '';
        socket.on('data', (d) => {
          buf += d;
          let nl;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            const cmd = JSON.parse(line);
            received.push(cmd.execute);
            const reply = cmd.execute === 'qmp_capabilities' ? { return: {} } : answer(cmd, socket);
            if (reply !== null) socket.write(`${JSON.stringify({ ...(reply as object), id: cmd.id })}\r\n`);
          }
        });
      });
      s.listen(path, () => resolve(s));
    }, opts.delayListenMs ?? 0);
  });
  t.teardown(async () => {
    (await server).close();
    await rm(dir, { recursive: true, force: true });
  });
  return { path, server, received };
}

t.test('QmpClient: connects before the socket exists, negotiates, executes, reports errors', async (t) => {
  const fake = await fakeQmp(
    t,
    (cmd, socket) => {
      if (cmd.execute === 'query-status') return { return: { status: 'running', running: true } };
      if (cmd.execute === 'stop') {
        socket.write('{"timestamp": {"seconds": 1, "microseconds": 0}, "event": "STOP"}\r\n');
        return { return: {} };
      }
      return { error: { class: 'CommandNotFound', desc: `The command ${cmd.execute} has not been found` } };
    },
    { delayListenMs: 50 },
  );
  const qmp = await QmpClient.connect(fake.path, { timeoutMs: 2000 });
  t.teardown(() => qmp.close());
  t.same(fake.received, ['qmp_capabilities']);
  t.same(await qmp.execute('query-status'), { status: 'running', running: true });
  const stopEvent = qmp.waitEvent('STOP', 1000);
  await qmp.execute('stop');
  t.equal((await stopEvent).event, 'STOP');
  const err = await qmp.execute('nope').catch((e: unknown) => e);
  t.ok(err instanceof QmpError && err instanceof QemuError, 'typed error');
  t.equal((err as QmpError).errorClass, 'CommandNotFound');
  t.match((err as QmpError).message, /nope/);
  // concurrent commands are matched by id
  const [a, b] = await Promise.all([qmp.execute('query-status'), qmp.execute('query-status')]);
  t.same(a, b);
});

t.test('QmpClient: pending commands reject when QEMU goes away; connect times out', async (t) => {
  const fake = await fakeQmp(t, (_cmd, socket) => {
    socket.destroy();
    return null;
  });
  const qmp = await QmpClient.connect(fake.path, { timeoutMs: 2000 });
  await t.rejects(qmp.execute('query-status'), QemuError);
  t.ok(qmp.closed);
  await t.rejects(qmp.execute('query-status'), QemuError, 'after close too');
  await t.rejects(QmpClient.connect(join(tmpdir(), 'no-such-dir-qmp', 'q.sock'), { timeoutMs: 100 }), QemuError);
});

t.test('QmpClient: a server that never greets times out', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'qmp-test-'));
  const path = join(dir, 's');
  const server = createServer(() => {});
  await new Promise<void>((r) => server.listen(path, r));
  t.teardown(async () => {
    server.close();
    await rm(dir, { recursive: true, force: true });
  });
  const started = Date.now();
  await t.rejects(QmpClient.connect(path, { timeoutMs: 200 }), /timed out/);
  t.ok(Date.now() - started < 2000);
});

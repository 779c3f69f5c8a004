import t from 'tap';
import { gone } from '../../helpers/rig.ts';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConsoleBuffer, findInPath, liveQemuPids, QemuProcess } from '../../../rig/vm/qemu.ts';
import { MissingToolError } from '../../../rig/core/errors.ts';
import { projectRoot } from '../../../rig/core/paths.ts';

t.test('ConsoleBuffer keeps everything while small', async (t) => {
  const c = new ConsoleBuffer(8, 16);
  c.push(Buffer.from('hello '));
  const m = c.mark();
  c.push(Buffer.from('world\n'));
  t.equal(c.text(), 'hello world\n');
  t.equal(c.since(m), 'world\n');
  t.equal(c.tail(3), 'ld\n');
  t.equal(c.droppedBytes, 0);
  t.equal(c.totalBytes, 12);
});

t.test('ConsoleBuffer keeps the head and the tail of a flood, counting the dropped bytes', async (t) => {
  const c = new ConsoleBuffer(4, 8);
  c.push(Buffer.from('HEAD'));
  for (let i = 0; i < 1000; i++) c.push(Buffer.from('xxxxxxxxxx'));
  c.push(Buffer.from('TAIL1234'));
  t.equal(c.totalBytes, 4 + 10_000 + 8);
  t.equal(c.droppedBytes, 10_000);
  t.equal(c.text(), 'HEAD\n[... 10000 bytes dropped ...]\nTAIL1234');
  t.equal(c.tail(4), '1234');
  t.equal(c.since(c.mark()), '');
  const m = c.mark();
  c.push(Buffer.from('NEW'));
  t.equal(c.since(m), 'NEW');
  t.match(c.since(10), /^\n\[\.\.\. \d+ bytes dropped \.\.\.\]\nL1234NEW$/, 'an old mark gets what is left');
});

t.test('ConsoleBuffer memory stays bounded under a 64 MiB flood', async (t) => {
  const c = new ConsoleBuffer();
  const chunk = Buffer.alloc(64 * 1024, 0x41);
  for (let i = 0; i < 1024; i++) c.push(chunk);
  t.ok(c.text().length <= 64 * 1024 + 1024 * 1024 + 100, `kept ${c.text().length} bytes`);
  t.equal(c.droppedBytes, 64 * 1024 * 1024 - 64 * 1024 - 1024 * 1024);
});

t.test('ConsoleBuffer.onLine: lines across chunks, CR stripped, unsubscribe', async (t) => {
  const c = new ConsoleBuffer();
  const lines: string[] = [];
  const off = c.onLine((l) => lines.push(l));
  c.push(Buffer.from('[ 1.0] one\r\n[ 2.0] tw'));
  c.push(Buffer.from('o\nthree'));
  t.same(lines, ['[ 1.0] one', '[ 2.0] two']);
  off();
  c.push(Buffer.from('\nfour\n'));
  t.same(lines, ['[ 1.0] one', '[ 2.0] two']);
});

t.test('QemuProcess captures stdout, logs it, reports the exit, leaves the registry', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'qemu-test-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const log = join(dir, 'console.log');
  const p = QemuProcess.start({ binary: 'sh', args: ['-c', 'echo booted; echo oops >&2; exit 3'], consoleLog: log });
  t.ok(p.pid > 0);
  const exit = await p.exited;
  t.equal(exit.exitCode, 3);
  t.equal(p.console.text(), 'booted\n');
  t.equal(p.stderr(), 'oops\n');
  t.notOk(liveQemuPids().includes(p.pid));
  await new Promise((r) => setTimeout(r, 50));
  t.equal(await readFile(log, 'utf8'), 'booted\n');
});

t.test('QemuProcess.kill ends a process that ignores SIGTERM', async (t) => {
  const p = QemuProcess.start({ binary: 'sh', args: ['-c', 'trap "" TERM; echo ready; while :; do sleep 0.05; done'] });
  while (!p.console.text().includes('ready')) await new Promise((r) => setTimeout(r, 10));
  t.ok(liveQemuPids().includes(p.pid));
  const exit = await p.kill(100);
  t.equal(exit.signal, 'SIGKILL');
  t.equal(await p.kill(), exit, 'idempotent');
});

t.test('a missing binary is a MissingToolError', async (t) => {
  t.throws(() => QemuProcess.start({ binary: 'qemu-system-nonexistent', args: [] }), MissingToolError);
  t.equal(findInPath('sh', '/nonexistent:/bin'), '/bin/sh');
  t.equal(findInPath('sh', ''), undefined);
});

/** Run a script that starts a long "QEMU" (sleep), then ends in `how`; return whether the child survived. */
async function survives(t: { teardown: (fn: () => unknown) => void }, how: 'SIGTERM' | 'SIGINT' | 'SIGKILL' | 'throw' | 'exit'): Promise<boolean> {
  const dir = await mkdtemp(join(tmpdir(), 'qemu-reg-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const script = join(dir, 'child.mts');
  await writeFile(
    script,
    `import { QemuProcess } from ${JSON.stringify(join(projectRoot, 'rig/vm/qemu.ts'))};
const p = QemuProcess.start({ binary: 'sleep', args: ['30'] });
console.log(p.pid);
${how === 'throw' ? "setTimeout(() => { throw new Error('boom'); }, 100);" : how === 'exit' ? 'setTimeout(() => process.exit(0), 100);' : 'setInterval(() => {}, 1000);'}
`,
  );
  const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: projectRoot, stdio: ['ignore', 'pipe', 'ignore'] });
  const pid = await new Promise<number>((resolve) => child.stdout.once('data', (d) => resolve(Number(String(d).trim()))));
  if (how.startsWith('SIG')) child.kill(how as NodeJS.Signals);
  const ended = await Promise.race([
    new Promise((r) => child.once('exit', () => r(true))),
    new Promise((r) => setTimeout(() => r(false), 10_000)),
  ]);
  if (!ended) {
    child.kill('SIGKILL');
    throw new Error(`the rig did not end after ${how}`);
  }
  for (let i = 0; i < 50; i++) {
    if (!alive(pid)) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  process.kill(pid, 'SIGKILL');
  return true;
}

const alive = (pid: number): boolean => !gone(pid);

for (const how of ['SIGTERM', 'SIGINT', 'SIGKILL', 'throw', 'exit'] as const) {
  t.test(`no QEMU is left behind when the rig ends by ${how}`, async (t) => {
    t.notOk(await survives(t, how));
  });
}

import t from 'tap';
import { logSince, makeContext, describeExec } from '../../../rig/scenario/context.ts';
import type { Backend } from '../../../rig/scenario/api.ts';
import type { ExecResult } from '../../../rig/vm/types.ts';
import { AssertionFailed } from '../../../rig/core/errors.ts';

const ok = (stdout = '', exitCode = 0): ExecResult => ({ exitCode, signal: null, stdout: Buffer.from(stdout), stderr: Buffer.alloc(0), timedOut: false, durationMs: 1 });

/** A fake backend recording calls (the syzkaller way: orchestration tested without QEMU). */
function fakeBackend(log: string, loadExit = 0) {
  const calls: string[] = [];
  const backend: Backend = {
    kind: 'guest',
    moduleName: 'ktest',
    loadModule: async (p) => (calls.push(`load ${JSON.stringify(p ?? {})}`), ok(loadExit ? 'insmod: ERROR: could not insert module' : '', loadExit)),
    unloadModule: async () => (calls.push('unload'), ok()),
    isModuleLoaded: async () => true,
    client: async (call) => (calls.push(`client ${JSON.stringify(call)}`), { exitCode: 0, replies: [] }),
    exec: async (argv) => ok(argv.join(' ')),
    kernelLog: async (since) => logSince(log, since),
    taintValue: async () => 4096 | 8192,
    markKernelLog: async () => {},
  };
  return { backend, calls };
}

t.test('logSince returns the text after the last marker line', async (t) => {
  t.equal(logSince('a\nM1\nb\nc\n', 'M1'), 'b\nc\n');
  t.equal(logSince('[ 1.0] x M1 y\nafter\n', 'M1'), 'after\n');
  t.equal(logSince('no marker\n', 'M1'), 'no marker\n');
  t.equal(logSince('M1', 'M1'), '');
});

t.test('the context fills the default proto, slices dmesg, decodes taint', async (t) => {
  const { backend, calls } = fakeBackend('boot\nBEGIN x\nkernel recv from user: hi\n');
  const ctx = makeContext({ backend, beginMarker: 'BEGIN x', proto: 30, uapi: { A: 1 }, log: () => {} });
  await ctx.client({ message: 'hi' });
  t.same(calls, ['client {"proto":30,"message":"hi"}']);
  await ctx.client({ proto: 31 });
  t.match(calls[1], /"proto":31/);
  t.equal(await ctx.dmesg(), 'kernel recv from user: hi\n');
  t.same(await ctx.taint(), ['O', 'E']);
  t.equal(ctx.uapi.A, 1);
});

t.test('a refused load fails with insmod output', async (t) => {
  const { backend } = fakeBackend('', 1);
  const ctx = makeContext({ backend, beginMarker: 'B', proto: 30, uapi: {}, log: () => {} });
  await t.rejects(ctx.module.load({ proto: 31 }), AssertionFailed);
  await t.rejects(ctx.module.load(), /loading ktest failed \(exit 1: insmod/);
  t.equal((await ctx.module.tryLoad()).exitCode, 1);
});

t.test('describeExec names timeouts and signals', async (t) => {
  t.equal(describeExec({ ...ok('x'), timedOut: true, exitCode: null }), 'timed out: x');
  t.equal(describeExec({ ...ok(''), signal: 'SIGSEGV', exitCode: null }), 'killed by SIGSEGV');
});

// The host backend: the module runs in the host's own kernel; clients go through the native addon.
import { readFile, writeFile } from 'node:fs/promises';
import { execa } from 'execa';
import { runHostClient } from '../host-client.ts';
import { moduleParamArgs } from './guest.ts';
import { logSince } from '../context.ts';
import { InfraError, UsageError } from '../../core/errors.ts';
import type { Backend, ModuleParams } from '../api.ts';
import type { BackendName } from './registry.ts';
import type { ClientCall, ClientResult } from '../client.ts';
import type { ExecOptions, ExecResult } from '../../vm/types.ts';

async function run(argv: readonly string[], timeoutMs = 30_000): Promise<ExecResult> {
  const started = Date.now();
  const r = await execa(argv[0]!, argv.slice(1), { reject: false, timeout: timeoutMs, encoding: 'buffer', stdin: 'ignore' });
  return {
    exitCode: r.exitCode ?? null,
    signal: r.signal ?? null,
    stdout: Buffer.from(r.stdout ?? []),
    stderr: Buffer.from(r.stderr ?? []),
    timedOut: r.timedOut,
    durationMs: Date.now() - started,
  };
}

export class HostBackend implements Backend {
  readonly kind = 'host' satisfies BackendName;
  constructor(
    readonly moduleName: string,
    private readonly koPath: string,
  ) {}

  loadModule(params?: ModuleParams): Promise<ExecResult> {
    return run(['insmod', this.koPath, ...moduleParamArgs(params)]);
  }

  unloadModule(): Promise<ExecResult> {
    return run(['rmmod', this.moduleName]);
  }

  async isModuleLoaded(): Promise<boolean> {
    return isLoadedOnHost(this.moduleName);
  }

  client(call: ClientCall): Promise<ClientResult> {
    return runHostClient(call);
  }

  exec(_argv: readonly string[], _options?: ExecOptions): Promise<ExecResult> {
    throw new UsageError('exec() runs commands in a guest; this scenario cannot run with --target host', {
      hint: "add backends: ['guest'] to the scenario",
    });
  }

  async kernelLog(since: string): Promise<string> {
    const r = await run(['dmesg']);
    if (r.exitCode !== 0) throw new InfraError(`cannot read the host's kernel log: ${r.stderr.toString().trim()}`, { hint: 'run as root, or set kernel.dmesg_restrict=0' });
    return logSince(r.stdout.toString('utf8'), since);
  }

  async taintValue(): Promise<number> {
    return Number.parseInt(await readFile('/proc/sys/kernel/tainted', 'utf8'), 10) || 0;
  }

  async markKernelLog(line: string): Promise<void> {
    await writeFile('/dev/kmsg', `${line}\n`);
  }
}

export async function isLoadedOnHost(name: string, procModules = '/proc/modules'): Promise<boolean> {
  const text = await readFile(procModules, 'utf8').catch(() => '');
  return text.split('\n').some((l) => l.split(' ')[0] === name);
}

// Builds the ScenarioContext a scenario runs with, on top of a Backend (guest or host).
import { setTimeout as sleep } from 'node:timers/promises';
import { AssertionFailed } from '../core/errors.ts';
import { taintFlags } from '../detect/taint.ts';
import { assertions, type Backend, type ModuleParams, type ScenarioContext } from './api.ts';
import type { ExecResult } from '../vm/types.ts';

export interface ContextOptions {
  readonly backend: Backend;
  /** Line written to the kernel log when the scenario began: dmesg() returns what follows it. */
  readonly beginMarker: string;
  readonly proto: number;
  readonly uapi: Readonly<Record<string, number>>;
  readonly log: (message: string) => void;
  /** Parameters of every load (project file); those given to load() override them one by one. */
  readonly moduleParams?: ModuleParams;
}

/** Text after the last line containing `marker` (the whole text when the marker is absent). */
export function logSince(text: string, marker: string): string {
  const at = text.lastIndexOf(marker);
  if (at < 0) return text;
  const nl = text.indexOf('\n', at);
  return nl < 0 ? '' : text.slice(nl + 1);
}

export function describeExec(r: ExecResult): string {
  const out = `${r.stdout.toString('utf8')}${r.stderr.toString('utf8')}`.trim();
  const status = r.timedOut ? 'timed out' : r.signal ? `killed by ${r.signal}` : `exit ${r.exitCode}`;
  return `${status}${out ? `: ${out.slice(0, 500)}` : ''}`;
}

/**
 * Mark a promise as handled without changing it: a scenario that fails while another of its calls is
 * still in flight (a client waiting in recv) must not crash the rig when that call is later rejected
 * because the guest was closed. Whoever awaits the promise still gets its rejection.
 */
export function handled<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}

export function makeContext(o: ContextOptions): ScenarioContext {
  const backend = guardedBackend(o.backend);
  const withDefaults = (params?: ModuleParams): ModuleParams | undefined => (o.moduleParams ? { ...o.moduleParams, ...params } : params);
  const load = async (params?: ModuleParams): Promise<void> => {
    const r = await backend.loadModule(withDefaults(params));
    if (r.exitCode !== 0) throw new AssertionFailed(`loading ${backend.moduleName} failed (${describeExec(r)})`);
  };
  return {
    backend: backend.kind,
    proto: o.proto,
    uapi: o.uapi,
    module: {
      name: backend.moduleName,
      load,
      tryLoad: (params) => backend.loadModule(withDefaults(params)),
      async unload() {
        const r = await backend.unloadModule();
        if (r.exitCode !== 0) throw new AssertionFailed(`unloading ${backend.moduleName} failed (${describeExec(r)})`);
      },
      tryUnload: () => backend.unloadModule(),
      isLoaded: () => backend.isModuleLoaded(),
    },
    client: (call = {}) => backend.client({ proto: o.proto, ...call }),
    exec: (argv, options) => backend.exec(argv, options),
    dmesg: () => backend.kernelLog(o.beginMarker),
    taint: async () => taintFlags(await backend.taintValue()),
    sleep: (ms) => sleep(ms),
    log: o.log,
    ...assertions,
  };
}

/** The backend with every call's promise marked handled (see handled()). */
function guardedBackend(b: Backend): Backend {
  return {
    kind: b.kind,
    moduleName: b.moduleName,
    loadModule: (p) => handled(b.loadModule(p)),
    unloadModule: () => handled(b.unloadModule()),
    isModuleLoaded: () => handled(b.isModuleLoaded()),
    client: (c) => handled(b.client(c)),
    exec: (a, opt) => handled(b.exec(a, opt)),
    kernelLog: (since) => handled(b.kernelLog(since)),
    taintValue: () => handled(b.taintValue()),
    markKernelLog: (l) => handled(b.markKernelLog(l)),
  };
}

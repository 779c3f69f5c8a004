// Builds the ScenarioContext a scenario runs with, on top of a Backend (guest or host).
import { setTimeout as sleep } from 'node:timers/promises';
import { AssertionFailed } from '../core/errors.ts';
import { taintFlags } from '../detect/taint.ts';
import { assertions, type Backend, type ModuleParams, type ScenarioContext } from './api.ts';
import type { ExecResult } from '../vm/types.ts';
import type { ClientCall, ClientResult } from './client.ts';

export interface ContextOptions {
  readonly backend: Backend;
  /** Line written to the kernel log when the scenario began: dmesg() returns what follows it. */
  readonly beginMarker: string;
  readonly proto: number;
  readonly uapi: Readonly<Record<string, number>>;
  readonly log: (message: string) => void;
  /** Parameters of every load (project file); those given to load() override them one by one. */
  readonly moduleParams?: ModuleParams;
  /** A fault-injection sweep's part in this run (rig/run/fault-inject.ts); none: calls go as written. */
  readonly faults?: FaultPlan;
}

/**
 * How a fault-injection sweep shapes a scenario's client calls. `count`: every call that does not
 * inject faults itself counts its fault points into `points` (by call, in order). `inject`: the
 * call-th call (0-based) fails its nth fault point; `injected` says whether it was reached.
 */
export type FaultPlan =
  | { readonly mode: 'count'; readonly points: number[] }
  | { readonly mode: 'inject'; readonly call: number; readonly nth: number; injected?: boolean };

/** A client call as the fault plan shapes it (the scenario's own failNth/countFaults win). Pure. */
export function planCall(plan: FaultPlan | undefined, index: number, call: ClientCall): ClientCall {
  if (!plan || call.failNth !== undefined || call.countFaults) return call;
  if (plan.mode === 'count') return { ...call, countFaults: true };
  return index === plan.call ? { ...call, failNth: plan.nth } : call;
}

/** Records what a shaped call said about its fault points into the plan. */
function recordCall(plan: FaultPlan | undefined, index: number, shaped: ClientCall, original: ClientCall, r: ClientResult): void {
  if (!plan || shaped === original) return;
  if (plan.mode === 'count') plan.points[index] = r.faults?.points ?? 0;
  else if (index === plan.call) plan.injected = r.faults?.injected ?? false;
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
  let calls = 0;
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
    client: async (call = {}) => {
      const index = calls++;
      const original: ClientCall = { proto: o.proto, ...call };
      const shaped = planCall(o.faults, index, original);
      const r = await backend.client(shaped);
      recordCall(o.faults, index, shaped, original, r);
      return r;
    },
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

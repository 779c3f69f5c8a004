// The scenario API: what a scenario sees (module control, netlink client, guest commands, kernel log, assertions).
import type { SectionAddresses } from '../detect/symbolize.ts';
import { isDeepStrictEqual, inspect } from 'node:util';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AssertionFailed, UsageError } from '../core/errors.ts';
import { matchesFilter, type ScenarioFilter } from './filter.ts';
import type { ClientCall, ClientResult } from './client.ts';
import type { ExecOptions, ExecResult } from '../vm/types.ts';
import { BACKEND_NAMES, isBackendName, type BackendName } from './backends/registry.ts';

/** Where scenarios run: in a QEMU guest, or on the host kernel (through the native addon). */
export interface Backend {
  readonly kind: BackendName;
  /** Name of the module under test (from the built .ko). */
  readonly moduleName: string;
  /** Load the module; resolves with insmod's result (never throws for a refused load). */
  loadModule(params?: ModuleParams): Promise<ExecResult>;
  unloadModule(): Promise<ExecResult>;
  isModuleLoaded(): Promise<boolean>;
  client(call: ClientCall): Promise<ClientResult>;
  /** Run a command where the module runs (the guest; on the host: refused). */
  exec(argv: readonly string[], options?: ExecOptions): Promise<ExecResult>;
  /**
   * The kernel log (dmesg) after the last line containing `since` (all of it when no line does, e.g.
   * after a flood overwrote the ring buffer).
   */
  kernelLog(since: string): Promise<string>;
  /**
   * The kernel's messages since the `since` mark, from a source the scenario cannot clear, split by
   * who wrote them (guests: the agent's own /dev/kmsg reader). Without it the judge reads kernelLog.
   */
  kernelMessages?(since: string): Promise<KernelMessages>;
  /**
   * Where each successful load of the module put its code sections (name -> address), in order: a
   * report printed after the module was unloaded (a leak found at its exit) names only raw addresses.
   */
  moduleLoads?(): readonly ModuleLoad[];
  /** /proc/sys/kernel/tainted. */
  taintValue(): Promise<number>;
  /** Write one line into the kernel log (scenario boundaries). */
  markKernelLog(line: string): Promise<void>;
}

/** One load of the module: its executable sections' addresses (/sys/module/NAME/sections). */
export type ModuleLoad = SectionAddresses;

export interface KernelMessages {
  /** Everything since the mark, as dmesg prints it. */
  readonly all: string;
  /** Only the kernel's own records: the text crash detection reads. */
  readonly kernel: string;
  /** Records user space wrote to /dev/kmsg (never judged as kernel reports). */
  readonly user: string;
  /** Records lost since the mark (overwritten before they were read, or dropped from the reader's buffer). */
  readonly lost: number;
}

export type ModuleParams = Readonly<Record<string, string | number | boolean>>;

export interface ModuleControl {
  readonly name: string;
  /** Load it (insmod); fails the scenario with insmod's output when the kernel refuses. */
  load(params?: ModuleParams): Promise<void>;
  /** Load it, returning insmod's result instead of failing (for modules expected to refuse). */
  tryLoad(params?: ModuleParams): Promise<ExecResult>;
  unload(): Promise<void>;
  /** Unload it, returning rmmod's result instead of failing. */
  tryUnload(): Promise<ExecResult>;
  isLoaded(): Promise<boolean>;
}

/** What a scenario function receives. */
export interface ScenarioContext {
  readonly backend: BackendName;
  readonly module: ModuleControl;
  /** Netlink protocol the module listens on by default. */
  readonly proto: number;
  /** Constants from the module's uapi header (KTEST_MSG_ECHO, KTEST_MAX_PAYLOAD, ...). */
  readonly uapi: Readonly<Record<string, number>>;
  /** One nlclient call (guest) or the same call through the addon (host). */
  client(call?: ClientCall): Promise<ClientResult>;
  /** Run a command in the guest (busybox and nlclient are on PATH). */
  exec(argv: readonly string[], options?: ExecOptions): Promise<ExecResult>;
  /** Kernel log lines written since this scenario started. */
  dmesg(): Promise<string>;
  /** Taint flags now set (letters, e.g. ['O', 'E']). */
  taint(): Promise<string[]>;
  sleep(ms: number): Promise<void>;
  log(message: string): void;
  ok(condition: unknown, message: string): void;
  equal<T>(actual: T, expected: T, message: string): void;
  match(text: string, pattern: RegExp, message: string): void;
  fail(message: string): never;
}

export interface Scenario {
  /** Unique name, used in reports and by --only. Lowercase words joined by dashes. */
  readonly name: string;
  readonly description: string;
  /** Load the module before run() (default true). */
  readonly load?: boolean;
  /** Module parameters for that load. */
  readonly params?: ModuleParams;
  /** Run only on these backends (default all: rig/scenario/backends/registry.ts). */
  readonly backends?: readonly BackendName[];
  /** Time budget under TCG (default DEFAULT_SCENARIO_TIMEOUT_MS); KVM uses the same or less. */
  readonly timeoutMs?: number;
  /** Under --fault-inject: false leaves this scenario out of the sweep; max bounds its injections. */
  readonly faultInject?: false | { readonly max?: number };
  run(t: ScenarioContext): Promise<void>;
}

export const DEFAULT_SCENARIO_TIMEOUT_MS = 60_000;
const NAME = /^[a-z0-9][a-z0-9-]*$/;

/** Check a list of scenarios (user files too): names valid and unique, run is a function. */
export function validateScenarios(list: unknown, source: string): Scenario[] {
  if (!Array.isArray(list)) throw new UsageError(`${source}: scenarios must be an array (export default [...])`);
  const seen = new Set<string>();
  return list.map((s, i) => {
    const where = `${source}: scenario #${i + 1}`;
    if (typeof s !== 'object' || s === null) throw new UsageError(`${where} is not an object`);
    const sc = s as Partial<Scenario>;
    if (typeof sc.name !== 'string' || !NAME.test(sc.name))
      throw new UsageError(`${where}: name must match ${NAME} (got ${inspect(sc.name)})`);
    if (seen.has(sc.name)) throw new UsageError(`${where}: duplicate scenario name "${sc.name}"`);
    seen.add(sc.name);
    if (typeof sc.run !== 'function') throw new UsageError(`${where} (${sc.name}): run must be a function`);
    if (sc.timeoutMs !== undefined && !(Number.isInteger(sc.timeoutMs) && sc.timeoutMs > 0))
      throw new UsageError(`${where} (${sc.name}): timeoutMs must be a positive integer`);
    if (sc.backends !== undefined && !(Array.isArray(sc.backends) && sc.backends.length > 0 && sc.backends.every(isBackendName)))
      throw new UsageError(`${where} (${sc.name}): backends must be a non-empty list of ${BACKEND_NAMES.map((b) => `'${b}'`).join(', ')} (got ${inspect(sc.backends)})`);
    return { description: '', ...sc } as Scenario;
  });
}

/** The scenarios --only selects; none selected is a usage error naming the valid ones. */
export function selectScenarios(list: readonly Scenario[], filter: ScenarioFilter | undefined, pattern = ''): Scenario[] {
  const picked = list.filter((s) => matchesFilter(filter, s.name));
  if (picked.length === 0)
    throw new UsageError(`--only ${pattern} matches no scenario; names: ${list.map((s) => s.name).join(', ')}`);
  return picked;
}

/** Files of the assertion machinery itself: a call site is the first frame outside them. */
const ASSERTION_FILES = new Set([fileURLToPath(import.meta.url), fileURLToPath(new URL('./context.ts', import.meta.url))]);

/**
 * Where the scenario called the failed assertion, "file:line:column" relative to the working
 * directory, from a V8 stack (tsx maps it back to the TypeScript source). Undefined when no frame
 * of the stack lies outside the assertion code and node's internals. Pure given the stack.
 */
export function callSite(stack: string, cwd = process.cwd()): string | undefined {
  for (const line of stack.split('\n').slice(1)) {
    const m = /((?:file:\/\/)?\/[^\s()]+):(\d+):(\d+)\)?$/.exec(line.trim());
    if (!m) continue;
    const file = m[1]!.startsWith('file://') ? fileURLToPath(m[1]!) : m[1]!;
    if (ASSERTION_FILES.has(file) || file.includes('/node_modules/')) continue;
    const rel = relative(cwd, file);
    return `${rel.startsWith('..') ? file : rel}:${m[2]}:${m[3]}`;
  }
  return undefined;
}

function failed(message: string, details: { expected?: unknown; actual?: unknown } = {}): AssertionFailed {
  return new AssertionFailed(message, { ...details, at: callSite(new Error().stack ?? '') });
}

/** The assertion half of ScenarioContext, shared by every backend. */
export const assertions = {
  ok(condition: unknown, message: string): asserts condition {
    if (!condition) throw failed(message, { expected: true, actual: condition });
  },
  equal<T>(actual: T, expected: T, message: string): void {
    if (!isDeepStrictEqual(actual, expected))
      throw failed(`${message}: expected ${short(expected)}, got ${short(actual)}`, { expected, actual });
  },
  match(text: string, pattern: RegExp, message: string): void {
    if (!pattern.test(text)) throw failed(`${message}: ${pattern} not found in ${short(text)}`, { expected: pattern, actual: text });
  },
  fail(message: string): never {
    throw failed(message);
  },
};

/** A value as the reports show it: strings as JSON, others inspected; long ones cut. */
export function short(value: unknown): string {
  const s = typeof value === 'string' ? JSON.stringify(value) : inspect(value, { depth: 3, breakLength: Infinity });
  return s.length > 300 ? `${s.slice(0, 300)}… (${s.length} chars)` : s;
}

/** Read `#define NAME number` lines of a uapi header into a record. */
export function parseUapiConstants(header: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of header.matchAll(/^#define\s+([A-Z][A-Z0-9_]*)\s+\(?\s*(0x[0-9a-fA-F]+|\d+)[uUlL]*\s*\)?\s*(?:\/[*/].*)?$/gm))
    out[m[1]!] = Number(m[2]);
  return out;
}

// `--target host`: build the module for the running kernel, load it on the host, run the same scenarios through the addon.
import { hostArch } from '../platform/arch/index.ts';
import { existsSync, realpathSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { release } from 'node:os';
import { HostBackend, isLoadedOnHost } from '../scenario/backends/host.ts';
import { buildModule, type ModuleKernel } from '../build/module.ts';
import { pickModule, readUapi } from '../build/artifacts.ts';
import { runScenarioOn, runSequence, scenarioResult, summarize } from './image.ts';
import { UsageError } from '../core/errors.ts';
import type { ModuleParams, Scenario } from '../scenario/api.ts';
import type { AllowedReport } from '../project/config.ts';
import type { RunEventSink, RunSummary, ScenarioResult } from '../report/results.ts';

export interface HostRunOptions {
  readonly kmodDir: string;
  /** The scenarios to run, all of them: the caller keeps those that run on the host (runsOn). */
  readonly scenarios: readonly Scenario[];
  readonly workDir: string;
  /** From the project file (guest programs need a guest: the host target has none). */
  readonly makeArgs?: readonly string[];
  readonly moduleParams?: ModuleParams;
  readonly allowedReports?: readonly AllowedReport[];
  readonly onEvent: RunEventSink;
}

export interface HostFacts {
  readonly uid: number;
  readonly release: string;
  readonly headersDir: string | undefined;
  readonly loaded: readonly string[];
}

/**
 * Why the host target must refuse, as one line, or undefined when it may run. Pure. The module's name
 * is known only once it is built: without it, only root and headers are checked.
 */
export function hostRefusal(f: HostFacts, moduleName?: string): string | undefined {
  if (f.uid !== 0) return 'the host target loads a module into the running kernel and needs root (run it with sudo)';
  if (!f.headersDir) return `no headers for the running kernel ${f.release}: install linux-headers-${f.release}`;
  if (moduleName && f.loaded.includes(moduleName)) return `a module named ${moduleName} is already loaded on this host: rmmod ${moduleName} first`;
  return undefined;
}

export async function hostFacts(): Promise<HostFacts> {
  const rel = release();
  const build = join('/lib/modules', rel, 'build');
  const modules = await readFile('/proc/modules', 'utf8').catch(() => '');
  return {
    uid: process.getuid?.() ?? -1,
    release: rel,
    headersDir: existsSync(join(build, 'Makefile')) ? realpathSync(build) : undefined,
    loaded: modules.split('\n').map((l) => l.split(' ')[0]!).filter(Boolean),
  };
}

/** The running kernel as the module build sees a kernel (headers, release, arch, the host's compiler), so the same build code serves both targets. */
function hostKernel(f: HostFacts): ModuleKernel {
  return { image: { id: 'host', release: f.release, arch: hostArch(), toolchain: { kind: 'host', cc: 'gcc' } }, headersDir: f.headersDir! };
}

export async function runOnHost(o: HostRunOptions, facts?: HostFacts): Promise<RunSummary> {
  const f = facts ?? (await hostFacts());
  // Refuse before building on what can be seen now; the module's name comes with the build.
  const early = hostRefusal(f);
  if (early) throw new UsageError(`--target host: ${early}`);
  const kernel = hostKernel(f);
  const modules = await buildModule({ kernel, sourceDir: o.kmodDir, outDir: join(o.workDir, 'kmod'), makeArgs: o.makeArgs, onEvent: o.onEvent });
  const module = pickModule(modules, o.kmodDir);
  const refusal = hostRefusal({ ...f, loaded: (await hostFacts()).loaded }, module.name);
  if (refusal) throw new UsageError(`--target host: ${refusal}`);
  const uapi = await readUapi(o.kmodDir);
  const backend = new HostBackend(module.name, module.koPath);
  o.onEvent({ type: 'run-start', image: 'host', total: o.scenarios.length });
  let results: ScenarioResult[];
  try {
    results = await runSequence('host', o.scenarios, o.onEvent, async (scenario) => {
      const started = Date.now();
      const outcome = await runScenarioOn(backend, scenario, { module, uapi, onEvent: o.onEvent, moduleParams: o.moduleParams, allowedReports: o.allowedReports });
      // No snapshot on the host: each scenario leaves the module unloaded for the next.
      if (await isLoadedOnHost(module.name)) await backend.unloadModule();
      return scenarioResult('host', scenario.name, started, outcome.failure, outcome.allowed);
    });
  } finally {
    if (await isLoadedOnHost(module.name)) await backend.unloadModule();
  }
  const summary = summarize({ image: 'host', kernel: f.release, arch: kernel.image.arch, accel: 'host' }, results);
  o.onEvent({ type: 'run-end', summary });
  return summary;
}

// Module coverage (--coverage), the run side: after each scenario, in that scenario's own guest, read the
// module's gcov counters (.gcda) from the kernel's debugfs; on the host, gcov reads them with the build's
// notes (.gcno); the counters add up per scenario (every guest of it: --fault-inject's too) and over the
// run, into lcov tracefiles (one per scenario, one for the run) and genhtml's HTML report.
import { existsSync } from 'node:fs';
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { execa } from 'execa';
import { GuestError, InfraError } from '../core/errors.ts';
import type { EventSink } from '../core/events.ts';
import { missingTool } from '../platform/host-tools.ts';
import { GUEST_GCOV_ROOT, gcovTool } from '../build/coverage.ts';
import type { BuiltModule, ModuleGcov } from '../build/module.ts';
import type { ImageSpec } from '../kernels/spec.ts';
import type { Guest } from '../vm/guest.ts';
import {
  formatLcov,
  fromGcovJson,
  mergeCoverage,
  summarizeCoverage,
  type CoverageData,
  type CoverageReport,
  type GcovJson,
  type ScenarioCoverage,
} from '../report/coverage.ts';

/**
 * Where a run's coverage goes unless --coverage-dir says: beside the logs (--logs DIR: DIR/coverage), else
 * beside the reports (--json/--junit FILE: ktest-rig-coverage/ next to it), else a fresh directory in $TMPDIR.
 */
export function coverageRoot(o: { readonly coverageDir?: string; readonly logs?: string; readonly json?: string; readonly junit?: string }, now = new Date()): string {
  if (o.coverageDir) return resolve(o.coverageDir);
  if (o.logs) return join(resolve(o.logs), 'coverage');
  const report = o.json ?? o.junit;
  if (report) return join(dirname(resolve(report)), 'ktest-rig-coverage');
  return join(tmpdir(), 'ktest-rig-coverage', `run-${now.toISOString().replace(/[:.]/g, '-')}-${process.pid}`);
}

/** A scenario name as a file name. Pure. */
export function scenarioFile(name: string): string {
  return name.replace(/[^\w.+-]+/g, '_');
}

/** How long reading the counters may take in one guest (a wedged guest must not hold the run). */
const READ_TIMEOUT_MS = 15_000;

interface ScenarioState {
  data: CoverageData;
  runs: number;
  unread: number;
}

export interface CollectorOptions {
  readonly image: ImageSpec;
  /** The module scenarios load (its name titles the report); every module of the build is counted. */
  readonly module: BuiltModule;
  /** The author's module directory: tracefile paths point into it. */
  readonly kmodDir: string;
  /** Scratch space (the image's work dir). */
  readonly workDir: string;
  /** This image's coverage directory (lcov.info, html/, scenarios/). */
  readonly dir: string;
  readonly onEvent: EventSink;
}

/** Reads a gcov JSON document for one object's notes (and its counters when its .gcda is beside them). */
async function gcovRead(tool: string, notes: string): Promise<GcovJson> {
  const r = await execa(tool, ['--branch-probabilities', '--json-format', '--stdout', '--object-directory', dirname(notes), notes], { reject: false, cwd: dirname(notes), env: { LC_ALL: 'C' } });
  if ((r as { code?: string }).code === 'ENOENT') throw missingTool(tool);
  if (r.exitCode !== 0) throw new InfraError(`${tool} could not read ${notes}: ${String(r.stderr).trim().split('\n')[0]}`, { hint: 'the notes and counters must come from the same build and the same gcc' });
  return JSON.parse(String(r.stdout)) as GcovJson;
}

export class CoverageCollector {
  private readonly scenarios = new Map<string, ScenarioState>();
  private runs = 0;

  private constructor(
    private readonly o: CollectorOptions,
    private readonly gcov: ModuleGcov,
    private readonly tool: string,
    /** The notes alone: every line, function and branch at zero. */
    private readonly zero: CoverageData,
    private readonly mapPath: (file: string) => string | undefined,
  ) {}

  static async start(o: CollectorOptions): Promise<CoverageCollector> {
    const gcov = o.module.gcov;
    if (!gcov) throw new InfraError(`--coverage: ${o.module.name}.ko was not built with gcov profiling`);
    const tool = gcovTool(o.image.toolchain);
    const kmod = resolve(o.kmodDir);
    const known = new Map<string, string | undefined>();
    // The build's own sources, mapped back into the author's tree; kernel headers and generated files (*.mod.c) are left out.
    const mapPath = (file: string): string | undefined => {
      if (!known.has(file)) {
        const rel = file.startsWith(`${gcov.buildDir}/`) ? file.slice(gcov.buildDir.length + 1) : undefined;
        const mine = rel !== undefined && !rel.endsWith('.mod.c') && existsSync(join(kmod, rel)) ? join(kmod, rel) : undefined;
        known.set(file, mine);
      }
      return known.get(file);
    };
    const zero: CoverageData = new Map();
    for (const obj of gcov.objects) mergeCoverage(zero, fromGcovJson(await gcovRead(tool, join(gcov.notesDir, `${obj}.gcno`)), mapPath));
    for (const old of ['lcov.info', 'html', 'scenarios']) await rm(join(o.dir, old), { recursive: true, force: true });
    return new CoverageCollector(o, gcov, tool, zero, mapPath);
  }

  private state(scenario: string): ScenarioState {
    let s = this.scenarios.get(scenario);
    if (!s) this.scenarios.set(scenario, (s = { data: new Map(), runs: 0, unread: 0 }));
    return s;
  }

  /**
   * Reads the counters of one guest (after its scenario, before it is closed) and adds them to the
   * scenario's. The kernel keeps an unloaded module's counters (gcov_persist=1), so a scenario that
   * unloaded or reloaded the module counts whole. A guest that no longer answers is counted as unread.
   */
  async collect(guest: Guest, scenario: string): Promise<void> {
    const s = this.state(scenario);
    s.runs++;
    const root = `${GUEST_GCOV_ROOT}${this.gcov.buildDir}`;
    const dir = join(this.o.workDir, 'coverage-runs', String(++this.runs));
    try {
      const list = await guest.exec(['find', root, '-name', '*.gcda'], { timeoutMs: READ_TIMEOUT_MS });
      if (list.timedOut) throw new GuestError(`find ${root} did not finish within ${READ_TIMEOUT_MS / 1000} s`, 'hang', '');
      // No directory: the module was never loaded in this guest; its counters are all zero.
      if (list.exitCode !== 0) return;
      const found = list.stdout.toString('utf8').split('\n').filter((l) => l.startsWith(`${root}/`) && l.endsWith('.gcda'));
      for (const path of found) {
        const obj = path.slice(root.length + 1, -'.gcda'.length);
        if (!this.gcov.objects.includes(obj)) continue;
        const r = await guest.exec(['cat', path], { timeoutMs: READ_TIMEOUT_MS });
        if (r.exitCode !== 0 || r.timedOut) throw new GuestError(`cat ${path} exited ${r.exitCode}: ${r.stderr.toString('utf8').trim()}`, 'exited', '');
        await mkdir(dirname(join(dir, obj)), { recursive: true });
        await writeFile(join(dir, `${obj}.gcda`), r.stdout);
        await copyFile(join(this.gcov.notesDir, `${obj}.gcno`), join(dir, `${obj}.gcno`));
        mergeCoverage(s.data, fromGcovJson(await gcovRead(this.tool, join(dir, `${obj}.gcno`)), this.mapPath));
      }
    } catch (error) {
      if (!(error instanceof GuestError)) throw error;
      s.unread++;
      this.o.onEvent({ type: 'log', level: 'warn', message: `[${this.o.image.id}] ${scenario}: coverage counters not read (${error.message}); this guest's lines are not counted` });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** Writes every scenario's tracefile, the run's, and the HTML report; returns what they say. */
  async finish(order: readonly string[]): Promise<CoverageReport> {
    const { dir } = this.o;
    const kmod = resolve(this.o.kmodDir);
    await mkdir(join(dir, 'scenarios'), { recursive: true });
    const all: CoverageData = mergeCoverage(new Map(), this.zero);
    const records: string[] = [];
    const scenarios: ScenarioCoverage[] = [];
    for (const name of order.filter((n) => this.scenarios.has(n))) {
      const s = this.scenarios.get(name)!;
      const data = mergeCoverage(mergeCoverage(new Map(), this.zero), s.data);
      mergeCoverage(all, s.data);
      const text = formatLcov(name, data);
      const tracefile = join(dir, 'scenarios', `${scenarioFile(name)}.info`);
      await writeFile(tracefile, text);
      records.push(text);
      scenarios.push({ name, tracefile, runs: s.runs, ...(s.unread > 0 && { unread: s.unread }), ...summarizeCoverage(data, kmod).total });
    }
    const tracefile = join(dir, 'lcov.info');
    // One record per scenario and file (TN: the scenario), as `lcov -a` writes them: genhtml adds them up and can show which scenario ran a line.
    await writeFile(tracefile, records.length ? records.join('') : formatLcov('none', all));
    const html = join(dir, 'html');
    const title = `${this.o.module.name} on ${this.o.image.id}`;
    const argv = ['--quiet', '--branch-coverage', '--show-details', '--legend', '--title', title, '--prefix', kmod, '--output-directory', html, tracefile];
    const r = await execa('genhtml', argv, { reject: false, env: { LC_ALL: 'C', PATH: process.env.PATH ?? '' } });
    if ((r as { code?: string }).code === 'ENOENT') throw missingTool('genhtml');
    if (r.exitCode !== 0) throw new InfraError(`genhtml failed on ${tracefile}: ${`${String(r.stderr)}\n${String(r.stdout)}`.trim().split('\n')[0]}`, { hint: 'the tracefile is kept; its sources must be readable under --kmod' });
    return { module: this.o.module.name, moduleDir: kmod, dir, tracefile, html: join(html, 'index.html'), scenarios, ...summarizeCoverage(all, kmod) };
  }
}

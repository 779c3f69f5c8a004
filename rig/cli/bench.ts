// `rig bench` (`npm run bench`): the rig's speed against the naive method (one cold vmlinuz boot per scenario), as a table of medians.
import { writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import tmp from 'tmp';
import { Guest, type GuestOptions } from '../vm/guest.ts';
import { DEFAULT_KMOD_DIR, type Artifacts } from '../build/artifacts.ts';
import { runInGuest } from '../run/image.ts';
import { prepareGuest } from '../run/ready-guest.ts';
import { resolveImages } from '../kernels/images.ts';
import { BENCH_PARTS, type BenchArgs, type BenchPart } from './options.ts';
import { scenarios as defaultScenarios } from '../scenario/ktest.ts';
import type { Scenario } from '../scenario/api.ts';
import { pool } from '../core/pool.ts';
import { defaultJobs } from '../run/run.ts';
import type { EventSink } from '../core/events.ts';
import { benchLoops, formatLoopTable, formatLoopParts, median, seconds, type LoopRow } from './bench-loops.ts';

export { median };
import { SignalExitCode } from '../core/errors.ts';
import { builtKernelInfo } from '../build/kernel.ts';
import { LEAK_SCAN_SCRIPT } from '../vm/guest-setup.ts';

export interface BenchRow {
  readonly measure: string;
  readonly medianMs: number;
  readonly runs: number;
  readonly target?: string;
}

/** A plain-text table: right-aligned numbers, one row per measure. Pure. */
export function formatBenchTable(rows: readonly BenchRow[], ratios: readonly { name: string; value: number; target?: string }[]): string {
  const head = ['measure', 'median', 'runs', 'target'];
  const body = rows.map((r) => [r.measure, seconds(r.medianMs), String(r.runs), r.target ?? '']);
  body.push(...ratios.map((r) => [r.name, `${r.value.toFixed(1)}x`, '', r.target ?? '']));
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 1 || i === 2 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`;
  return [line(head), `|${widths.map((w, i) => (i === 1 || i === 2 ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`, ...body.map(line)].join('\n');
}

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const v = await fn();
  return [performance.now() - t0, v];
}

async function bootTimes(options: GuestOptions, runs: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const [ms, g] = await timed(() => Guest.boot(options));
    out.push(ms);
    await g.close();
  }
  return out;
}

/** Every scenario, each in a guest from `start`, `lanes` guests at once; returns the wall time of the whole run. */
async function wholeRun(
  art: Artifacts,
  scenarios: readonly Scenario[],
  start: () => Promise<Guest>,
  debug: boolean,
  onEvent: EventSink,
  lanes = 1,
): Promise<{ ms: number; failed: string[] }> {
  const failed: string[] = [];
  const t0 = performance.now();
  await pool(scenarios, lanes, async (s) => {
    const g = await start();
    try {
      const outcome = await runInGuest({ debug, onEvent, image: art.kernel.image }, art, g, s);
      if (outcome.failure) failed.push(`${s.name}: ${outcome.failure.message}`);
    } finally {
      await g.close();
    }
  });
  return { ms: performance.now() - t0, failed };
}

/** Where measured rows go the moment each is measured: a long bench (a debug kernel) that is stopped still shows what it measured. */
export type RowSink = (row: BenchRow) => void;

export async function bench(o: { imageId: string; runs: number; debug: boolean; onEvent: EventSink; onRow: RowSink }) {
  const [image] = resolveImages(o.imageId);
  const record = o.onRow;
  const work = tmp.dirSync({ prefix: 'ktest-bench-', unsafeCleanup: true });
  try {
    const { art, accel, options: fast } = await prepareGuest({ image: image!, kmodDir: DEFAULT_KMOD_DIR, workDir: work.name, debug: o.debug, onEvent: o.onEvent });
    const naive: GuestOptions = { ...fast, kernelPath: art.kernel.vmlinuzPath };
    // A kernel the rig builds: its build time, recorded by the build itself.
    const built = image!.kind === 'built' ? await builtKernelInfo(image!) : undefined;
    if (built) record({ measure: `kernel build, cold (${built.objects} objects; recorded by that build)`, medianMs: built.seconds * 1000, runs: 1, target: '<= 15 min' });
    o.onEvent({ type: 'log', level: 'info', message: 'cold boots (vmlinux, the rig) ...' });
    const boot = await bootTimes(fast, o.runs);
    // A kernel the rig builds boots its bzImage either way (its decompressed vmlinux does not boot through PVH).
    const rigWay = fast.kernelPath === naive.kernelPath ? 'bzImage: the same file as the naive way' : 'vmlinux, PVH';
    record({ measure: `boot to ready guest (${rigWay})`, medianMs: median(boot), runs: boot.length, target: '<= 1.5 s' });
    o.onEvent({ type: 'log', level: 'info', message: 'cold boots (vmlinuz, naive) ...' });
    const naiveBoot = await bootTimes(naive, Math.max(3, Math.ceil(o.runs / 2)));
    record({ measure: 'boot to ready guest (vmlinuz, naive)', medianMs: median(naiveBoot), runs: naiveBoot.length });
    const snap = join(work.name, 'bench.snapshot');
    const template = await Guest.boot(fast);
    const [saveMs] = await timed(() => template.saveSnapshot(snap));
    await template.close();
    record({ measure: 'save snapshot', medianMs: saveMs, runs: 1 });
    const restores: number[] = [];
    for (let i = 0; i < o.runs * 2; i++) {
      const [ms, g] = await timed(() => Guest.restore(fast, snap));
      restores.push(ms);
      await g.close();
    }
    record({ measure: 'fresh guest from snapshot', medianMs: median(restores), runs: restores.length, target: '<= 0.3 s' });
    if (built) {
      o.onEvent({ type: 'log', level: 'info', message: 'kmemleak scans after a scenario ...' });
      const scans: number[] = [];
      for (let i = 0; i < Math.max(3, Math.ceil(o.runs / 2)); i++) {
        const g = await Guest.restore(fast, snap);
        try {
          const [ms] = await timed(() => g.exec(['sh', '-c', LEAK_SCAN_SCRIPT], { timeoutMs: 120_000 }));
          scans.push(ms);
        } finally {
          await g.close();
        }
      }
      record({ measure: 'kmemleak scan after each scenario', medianMs: median(scans), runs: scans.length });
    }
    const lanes = defaultJobs();
    o.onEvent({ type: 'log', level: 'info', message: `default run from snapshots (${defaultScenarios.length} scenarios), one guest at a time ...` });
    const serial = await wholeRun(art, defaultScenarios, () => Guest.restore(fast, snap), o.debug, o.onEvent);
    record({ measure: `default run, snapshots, 1 guest at a time (${defaultScenarios.length} scenarios)`, medianMs: serial.ms, runs: 1 });
    o.onEvent({ type: 'log', level: 'info', message: `default run from snapshots, ${lanes} guests at once (the rig's default) ...` });
    const rig = await wholeRun(art, defaultScenarios, () => Guest.restore(fast, snap), o.debug, o.onEvent, lanes);
    record({ measure: `default run, snapshots, ${lanes} guests at once (as built)`, medianMs: rig.ms, runs: 1 });
    o.onEvent({ type: 'log', level: 'info', message: 'default run, naive: a cold vmlinuz boot per scenario ...' });
    const slow = await wholeRun(art, defaultScenarios, () => Guest.boot(naive), o.debug, o.onEvent);
    record({ measure: 'default run, naive cold boot per scenario', medianMs: slow.ms, runs: 1 });
    const ratios = [
      { name: 'speed-up of a fresh guest (naive boot / restore)', value: median(naiveBoot) / median(restores) },
      { name: 'speed-up of the default run, 1 guest at a time', value: slow.ms / serial.ms },
      { name: 'speed-up of the default run as built (naive / rig)', value: slow.ms / rig.ms, target: '>= 10x' },
    ];
    return { image: image!.id, accel, debug: o.debug, lanes, ratios, failed: { rig: [...serial.failed, ...rig.failed], naive: slow.failed } };
  } finally {
    work.removeCallback();
  }
}

/**
 * The parts measured when --parts is not given: all of them on a stock image; on a kernel the rig builds
 * (minutes per warm loop under TCG, and `--kernel all` leaves built kernels out) the guests part only.
 */
export function defaultParts(imageId: string): readonly BenchPart[] {
  return resolveImages(imageId)[0]!.kind === 'built' ? ['guests'] : BENCH_PARTS;
}

/** `rig bench` / `npm run bench`: measure, print each row on stderr as it is measured, the tables on stdout at the end (or at SIGINT/SIGTERM, with what was measured), JSON when asked. */
export async function benchCommand(args: BenchArgs, stdout: { write(s: string): unknown } = process.stdout): Promise<number> {
  const onEvent: EventSink = (e) => {
    if (e.type === 'log' && e.level !== 'debug') process.stderr.write(`${e.message}\n`);
    if (e.type === 'stage') process.stderr.write(`${e.stage}: ${e.message}\n`);
  };
  const parts = args.parts ?? defaultParts(args.kernel);
  const rows: BenchRow[] = [];
  const loops: LoopRow[] = [];
  let result: Awaited<ReturnType<typeof bench>> | undefined;
  const row = (r: BenchRow): void => {
    rows.push(r);
    process.stderr.write(`bench: ${r.measure}: ${seconds(r.medianMs)}${r.runs > 1 ? ` (median of ${r.runs})` : ''}${r.target ? `, target ${r.target}` : ''}\n`);
  };
  const loopRow = (r: LoopRow): void => {
    loops.push(r);
    const others = [r.todayMs !== undefined && `today ${seconds(r.todayMs)}`, r.naiveMs !== undefined && `naive ${seconds(r.naiveMs)}`].filter(Boolean).join(', ');
    process.stderr.write(`bench: ${r.measure}: ${seconds(r.newMs)}${others ? ` (${others})` : ''}${r.target ? `, target ${r.target}: ${r.met ? 'met' : 'missed'}` : ''}\n`);
  };
  const print = async (interrupted: boolean): Promise<void> => {
    stdout.write(`ktest-rig bench: ${args.kernel}, ${result?.accel ?? 'accelerator as probed'}, debug ${args.debug ? 'on' : 'off'}, parts ${parts.join(',')}${interrupted ? ' (interrupted: the rows measured so far)' : ''}\n\n`);
    if (rows.length) stdout.write(`${formatBenchTable(rows, result?.ratios ?? [])}\n\n`);
    if (loops.length) {
      stdout.write(`warm loops, end to end through the CLI (medians):\n\n${formatLoopTable(loops)}\n\n`);
      const split = formatLoopParts(loops);
      if (split) stdout.write(`where the time goes:\n\n${split}\n\n`);
    }
    for (const f of [...(result?.failed.rig ?? []), ...(result?.failed.naive ?? [])]) stdout.write(`warning: scenario failed during the bench: ${f}\n`);
    if (args.json) {
      await mkdir(join(args.json, '..'), { recursive: true });
      await writeFile(args.json, `${JSON.stringify({ image: args.kernel, parts, interrupted, ...result, rows, loops }, null, 2)}\n`);
    }
  };
  // Stopped (a debug kernel's bench takes long): print what was measured, then die of the signal as usual.
  const stop = (signal: 'SIGINT' | 'SIGTERM') => () => {
    void print(true).finally(() => process.exit(SignalExitCode[signal]));
  };
  const handlers = { SIGINT: stop('SIGINT'), SIGTERM: stop('SIGTERM') };
  for (const [sig, h] of Object.entries(handlers)) process.once(sig, h);
  try {
    if (parts.includes('guests')) result = await bench({ imageId: args.kernel, runs: args.runs, debug: args.debug, onEvent, onRow: row });
    if (parts.includes('loops') || parts.includes('matrix')) {
      await benchLoops({ imageId: args.kernel, runs: Math.max(3, Math.ceil(args.runs / 2)), debug: args.debug, onEvent, loops: parts.includes('loops'), matrix: parts.includes('matrix'), onRow: loopRow });
    }
    await print(false);
  } finally {
    for (const [sig, h] of Object.entries(handlers)) process.off(sig, h);
  }
  return 0;
}

// The warm-loop half of `rig bench`: what a module author waits for, end to end through the CLI, beside
// today's method (a cold boot per exec, a fresh snapshot per run) and the naive one (a cold boot per scenario).
import { appendFile, cp, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { execa } from 'execa';
import { projectRoot, DEFAULT_KMOD_DIR } from '../core/paths.ts';
import type { EventSink } from '../core/events.ts';
import { Guest } from '../vm/guest.ts';
import { runInGuest } from '../run/image.ts';
import { prepareGuest, readySnapshot } from '../run/ready-guest.ts';
import { resolveImages } from '../kernels/images.ts';
import type { Scenario } from '../scenario/api.ts';

export interface LoopRow {
  readonly measure: string;
  /** Medians in ms; undefined where a method does not apply or was not measured. */
  readonly newMs: number;
  readonly todayMs?: number;
  readonly naiveMs?: number;
  readonly runs: number;
  readonly target?: string;
  /** Whether the new figure meets the target. */
  readonly met?: boolean;
  /** Where the time of the new figure goes, measured in the same run (printed under the table). */
  readonly parts?: readonly { readonly what: string; readonly ms: number }[];
  /** For runs: the median of the scenarios' own times in that split run (TAP's `# time=`). */
  readonly perScenarioMs?: number;
}

/** The median, NaN for no values. Pure. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** A duration as the bench tables print it. Pure. */
export const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

/** The CLI as `npm run -s rig --` runs it (node + tsx loader + rig/cli/main.ts). */
const RIG = [process.execPath, '--import', 'tsx', join(projectRoot, 'rig/cli/main.ts')];
/** The pre-change npm script: the tsx CLI, which starts a second node. */
const RIG_VIA_TSX_CLI = [join(projectRoot, 'node_modules/.bin/tsx'), join(projectRoot, 'rig/cli/main.ts')];

/** A line the command printed (stdout or stderr) and when, in ms from the start. */
export interface TimedLine {
  readonly ms: number;
  readonly line: string;
}

/**
 * Runs the command once and timestamps every line it prints (stdout and stderr): its wall time, and
 * the phases of a loop as the CLI itself reports them. A failed command ends the bench with its last lines.
 */
async function timeline(argv: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<{ ms: number; lines: TimedLine[] }> {
  const lines: TimedLine[] = [];
  const t0 = performance.now();
  const child = execa(argv[0]!, argv.slice(1), { reject: false, env, cwd: projectRoot, stdin: 'ignore', buffer: false });
  for (const stream of [child.stdout, child.stderr]) {
    let rest = '';
    stream?.on('data', (chunk: Buffer) => {
      const now = performance.now() - t0;
      const parts = (rest + chunk.toString('utf8')).split('\n');
      rest = parts.pop()!;
      for (const line of parts) lines.push({ ms: now, line });
    });
  }
  const r = await child;
  const ms = performance.now() - t0;
  lines.sort((a, b) => a.ms - b.ms);
  if (r.exitCode !== 0) throw new Error(`bench: ${argv.slice(3).join(' ')} exited ${r.exitCode}: ${lines.slice(-3).map((l) => l.line).join(' | ')}`);
  return { ms, lines };
}

/** The command's wall time (after `before`, untimed). */
async function timeCommand(argv: readonly string[], env: NodeJS.ProcessEnv = {}, before?: () => Promise<void>): Promise<number> {
  await before?.();
  return (await timeline(argv, env)).ms;
}

/** A phase boundary: the first line after the previous boundary that matches (the last such line with `last`). */
export interface Mark {
  readonly what: string;
  readonly at: RegExp;
  readonly last?: boolean;
}

/**
 * Splits a command's wall time at its marks, in order: each part is the time from the previous mark (or
 * the start) to this one, and `rest` runs to the command's end. A mark that never printed is left out
 * (its time falls into the next part). Pure.
 */
export function phases(total: number, lines: readonly TimedLine[], marks: readonly Mark[], rest: string): { what: string; ms: number }[] {
  const out: { what: string; ms: number }[] = [];
  let prev = 0;
  for (const m of marks) {
    const hits = lines.filter((l) => l.ms >= prev && m.at.test(l.line));
    const hit = m.last ? hits.at(-1) : hits[0];
    if (!hit) continue;
    out.push({ what: m.what, ms: hit.ms - prev });
    prev = hit.ms;
  }
  out.push({ what: rest, ms: total - prev });
  return out;
}

/** The phases of `rig exec` as its verbose log shows them. */
const EXEC_MARKS: readonly Mark[] = [
  { what: 'start-up (node, tsx, the CLI)', at: /checking host tools/ },
  { what: 'host tools, module and guest programs checked or built, initramfs packed', at: /restoring .* from its snapshot|booting / },
  { what: 'guest restored, module in and loaded, the command run', at: /^(?!\[|checking |warning: |debug: )\S/ },
];
const EXEC_REST = 'kernel log, guest closed, exit';

/** The phases of `rig run` as its verbose log and TAP show them. */
const RUN_MARKS: readonly Mark[] = [
  { what: 'start-up (node, tsx, the CLI)', at: /checking host tools/ },
  { what: 'host tools, module, guest programs, initramfs, accelerator, snapshot', at: /scenario 1\// },
  { what: 'the scenarios (guests from the snapshot, the rig\'s lanes)', at: /^(not )?ok \d+ /, last: true },
];
const RUN_REST = 'reports, exit';

/**
 * Median of the scenarios' own times (TAP's `# time=`), or undefined when none printed. A run over
 * several images nests each image's scenarios in a subtest: the most indented timed lines are the
 * scenarios. Pure.
 */
export function scenarioMedian(lines: readonly TimedLine[]): number | undefined {
  const timed = lines.flatMap((l) => {
    const m = /^(\s*)(?:not )?ok \d+ .*# time=(\d+(?:\.\d+)?)ms/.exec(l.line);
    return m ? [{ depth: m[1]!.length, ms: Number(m[2]) }] : [];
  });
  if (timed.length === 0) return undefined;
  const deepest = Math.max(...timed.map((x) => x.depth));
  return median(timed.filter((x) => x.depth === deepest).map((x) => x.ms));
}

/** One timestamped run of the command (with -v), split into its phases, and the median scenario time when TAP printed times. */
async function phasesOf(argv: readonly string[], marks: readonly Mark[], rest: string): Promise<Pick<LoopRow, 'parts' | 'perScenarioMs'>> {
  const { ms, lines } = await timeline(argv);
  const per = scenarioMedian(lines);
  return { parts: phases(ms, lines, marks, rest), ...(per !== undefined && { perScenarioMs: per }) };
}

async function samples(runs: number, fn: () => Promise<number>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < runs; i++) out.push(await fn());
  return out;
}

/** The trivial scenario: one message, the module loaded before it (as every default scenario). */
export const TRIVIAL: Scenario = {
  name: 'trivial',
  description: 'one message to the loaded module',
  async run(t) {
    const r = await t.client({ message: 'hi' });
    t.equal(r.exitCode, 0, 'client exit code');
  },
};

export async function benchLoops(o: { imageId: string; runs: number; debug: boolean; onEvent: EventSink; loops: boolean; matrix: boolean; onRow: (row: LoopRow) => void }): Promise<void> {
  const log = (message: string) => o.onEvent({ type: 'log', level: 'info', message });
  const push = o.onRow;
  const kernel = ['--kernel', o.imageId];
  const noDebug = o.debug ? [] : ['--no-debug'];
  const fresh = async (prefix: string) => mkdtemp(join(tmpdir(), prefix));
  const kmod = await fresh('ktest-bench-kmod-');
  let edits = 0;
  // An edit of the module: a new comment changes its source hash, so it is built again.
  const edit = () => appendFile(join(kmod, 'ktest.c'), `/* bench edit ${process.pid} ${Date.now()} ${edits++} */\n`);
  try {
    await cp(DEFAULT_KMOD_DIR, kmod, { recursive: true, dereference: true });
    const runArgs = ['run', ...kernel, '--kmod', kmod, ...noDebug];

    async function cliLoops(): Promise<void> {
      log('startup: rig --help ...');
      const help = await samples(o.runs * 2, () => timeCommand([...RIG, '--help']));
      const helpTsx = await samples(o.runs * 2, () => timeCommand([...RIG_VIA_TSX_CLI, '--help']));
      push({ measure: 'rig --help (start-up; today: through the tsx CLI)', newMs: median(help), todayMs: median(helpTsx), runs: help.length });

      log('exec warm ...');
      const execArgs = ['exec', ...kernel, '--kmod', kmod, '--', 'nlclient', 'hi'];
      await timeCommand([...RIG, ...execArgs]); // build the module and the snapshot once
      const execWarm = await samples(o.runs, () => timeCommand([...RIG, ...execArgs]));
      const execCold = await samples(o.runs, () => timeCommand([...RIG, 'exec', '--no-snapshot', ...execArgs.slice(1)]));
      // One more warm exec with -v, timestamped line by line: where its time goes.
      const execVerbose = ['exec', ...kernel, '--kmod', kmod, '-v', '--', 'nlclient', 'hi'];
      const execWarmParts = await phasesOf([...RIG, ...execVerbose], EXEC_MARKS, EXEC_REST);
      push({ measure: 'exec -- nlclient hi, warm (today: --no-snapshot, a cold boot)', newMs: median(execWarm), todayMs: median(execCold), runs: execWarm.length, target: '<= 1.5 s and <= 40 % of --no-snapshot', met: median(execWarm) <= 1500 && median(execWarm) <= 0.4 * median(execCold), ...execWarmParts });

      log('exec after an edit of the module ...');
      const execEdit = await samples(o.runs, () => timeCommand([...RIG, ...execArgs], {}, edit));
      const execEditCold = await samples(o.runs, () => timeCommand([...RIG, 'exec', '--no-snapshot', ...execArgs.slice(1)], {}, edit));
      await edit();
      const execEditParts = await phasesOf([...RIG, ...execVerbose], EXEC_MARKS, EXEC_REST);
      push({ measure: 'exec after an edit of the module', newMs: median(execEdit), todayMs: median(execEditCold), runs: execEdit.length, target: '<= 3 s', met: median(execEdit) <= 3000, ...execEditParts });

      log('trivial scenario (restore, copy the module in, load, one message, kernel log) ...');
      push(await trivialScenario(o, kmod));

      log('5 MB of command output (results channel, and the command port as before) ...');
      push(await largeOutput(o, kmod));

      log('npm run rig, warm ...');
      await timeCommand([...RIG, ...runArgs]);
      const runWarm = await samples(o.runs, () => timeCommand([...RIG, ...runArgs]));
      // Today's method: a snapshot made for this run alone (an empty snapshot dir) and thrown away after it.
      const runToday = await samples(o.runs, async () => {
        const dir = await fresh('ktest-bench-snaps-');
        try {
          return await timeCommand([...RIG, ...runArgs], { KTEST_RIG_SNAPSHOT_DIR: dir });
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      });
      const runNaive = await timeCommand([...RIG, ...runArgs, '--no-snapshot']);
      const runWarmParts = await phasesOf([...RIG, ...runArgs, '-v'], RUN_MARKS, RUN_REST);
      push({ measure: 'npm run rig, warm (today: a snapshot per run; naive: --no-snapshot)', newMs: median(runWarm), todayMs: median(runToday), naiveMs: runNaive, runs: runWarm.length, target: '<= 7 s', met: median(runWarm) <= 7000, ...runWarmParts });

      log('npm run rig after an edit of the module ...');
      const runEdit = await samples(o.runs, () => timeCommand([...RIG, ...runArgs], {}, edit));
      await edit();
      const runEditParts = await phasesOf([...RIG, ...runArgs, '-v'], RUN_MARKS, RUN_REST);
      push({ measure: 'npm run rig after an edit of the module', newMs: median(runEdit), runs: runEdit.length, target: '<= 9 s', met: median(runEdit) <= 9000, ...runEditParts });
    }

    if (o.loops) await cliLoops();

    if (o.matrix) {
      log('the five-image matrix (--kernel all), warm ...');
      const matrixArgs = ['run', '--kernel', 'all', '--kmod', kmod, ...noDebug];
      await timeCommand([...RIG, ...matrixArgs]); // every image fetched, built and snapshotted once
      const runs = Math.min(o.runs, 2);
      const warm = await samples(runs, () => timeCommand([...RIG, ...matrixArgs]));
      const today = await samples(1, async () => {
        const dir = await fresh('ktest-bench-snaps-');
        try {
          return await timeCommand([...RIG, ...matrixArgs], { KTEST_RIG_SNAPSHOT_DIR: dir });
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      });
      const parts = await phasesOf([...RIG, ...matrixArgs, '-v'], RUN_MARKS, RUN_REST);
      push({ measure: 'the five-image matrix (--kernel all), warm (today: a snapshot per image and run)', newMs: median(warm), todayMs: median(today), runs: warm.length, target: '<= 45 s', met: median(warm) <= 45_000, ...parts });
    }
  } finally {
    await rm(kmod, { recursive: true, force: true });
  }
}

/** Per-scenario cost inside a run: a restored guest, the module copied in and loaded, one message, the kernel log read. */
async function trivialScenario(o: { imageId: string; runs: number; debug: boolean; onEvent: EventSink }, kmod: string): Promise<LoopRow> {
  const [image] = resolveImages(o.imageId);
  const workDir = await mkdtemp(join(tmpdir(), 'ktest-bench-trivial-'));
  try {
    const quiet = { image: image!, debug: o.debug, onEvent: () => {} };
    const { art, options } = await prepareGuest({ ...quiet, kmodDir: kmod, workDir });
    const cached = await readySnapshot(quiet, options);
    try {
      const restore: number[] = [];
      const body: number[] = [];
      const close: number[] = [];
      const times = await samples(o.runs * 2, async () => {
        const t0 = performance.now();
        const guest = await Guest.restore(options, cached.file);
        const t1 = performance.now();
        let t2 = t1;
        try {
          const outcome = await runInGuest({ debug: o.debug, onEvent: () => {}, image: image! }, art, guest, TRIVIAL);
          if (outcome.failure) throw new Error(`bench: the trivial scenario failed: ${outcome.failure.message}`);
          t2 = performance.now();
        } finally {
          await guest.close();
        }
        const t3 = performance.now();
        restore.push(t1 - t0);
        body.push(t2 - t1);
        close.push(t3 - t2);
        return t3 - t0;
      });
      const parts = [
        { what: 'restore (QEMU start, RAM image in, agent answers)', ms: median(restore) },
        { what: 'module in, loaded, one message, kernel log and checks', ms: median(body) },
        { what: 'guest closed', ms: median(close) },
      ];
      return { measure: 'a trivial scenario end to end (restore .. kernel log)', newMs: median(times), runs: times.length, target: '<= 0.2 s', met: median(times) <= 200, parts };
    } finally {
      await cached.release();
    }
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

/** The command whose output the large-output row moves: 5 MB of 'a' (as in issue 14). */
export const LARGE_OUTPUT_BYTES = 5_000_000;
export const LARGE_OUTPUT_ARGV: readonly string[] = ['sh', '-c', `head -c ${LARGE_OUTPUT_BYTES} /dev/zero | tr '\\0' a`];

/**
 * 5 MB of a command's output, exec to result, in a booted guest: over the results channel (a virtio-serial
 * port) beside the same guest without its virtio ports, where the agent's frames go over the command
 * port (ttyS1, an emulated 16550) as they all did before the results channel.
 */
export async function largeOutput(o: { imageId: string; runs: number; debug: boolean }, kmod: string): Promise<LoopRow> {
  const [image] = resolveImages(o.imageId);
  const workDir = await mkdtemp(join(tmpdir(), 'ktest-bench-output-'));
  try {
    const { options } = await prepareGuest({ image: image!, debug: o.debug, onEvent: () => {}, kmodDir: kmod, workDir });
    let lost = 0;
    const time = async (opts: typeof options, runs: number, strict: boolean): Promise<number[]> => {
      const guest = await Guest.boot(opts);
      try {
        return await samples(runs, async () => {
          const t0 = performance.now();
          const r = await guest.exec(LARGE_OUTPUT_ARGV, { timeoutMs: 600_000 });
          const ms = performance.now() - t0;
          if (r.exitCode !== 0 || (strict && r.stdout.length !== LARGE_OUTPUT_BYTES)) throw new Error(`bench: 5 MB of output came back as ${r.stdout.length} bytes, exit ${r.exitCode}`);
          lost = Math.max(lost, LARGE_OUTPUT_BYTES - r.stdout.length);
          return ms;
        });
      } finally {
        await guest.close();
      }
    };
    const fast = await time(options, o.runs, true);
    // The old route may lose bytes: arm64's hvc0 is a virtio *console*, whose data QEMU drops when the host lags.
    const before = await time({ ...options, qemu: { ...options.qemu, filesChannel: undefined } }, Math.min(o.runs, 3), false);
    const port = options.qemu.commandPort;
    return { measure: `5 MB of command output (today: over the command port ${port}${lost ? `, which lost ${lost} bytes` : ''})`, newMs: median(fast), todayMs: median(before), runs: fast.length, target: '>= 10x faster', met: median(fast) * 10 <= median(before) };
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

/** The loops table: new beside today's method and the naive one, with the target and whether it is met. Pure. */
export function formatLoopTable(rows: readonly LoopRow[]): string {
  const s = (ms: number | undefined) => (ms === undefined ? '' : seconds(ms));
  const head = ['loop', 'new', "today's method", 'naive', 'runs', 'target'];
  const body = rows.map((r) => [r.measure, s(r.newMs), s(r.todayMs), s(r.naiveMs), String(r.runs), r.target ? `${r.target}: ${r.met ? 'met' : 'missed'}` : '']);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const num = (i: number) => i >= 1 && i <= 4;
  const line = (cells: string[]) => `| ${cells.map((c, i) => (num(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`;
  return [line(head), `|${widths.map((w, i) => (num(i) ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`, ...body.map(line)].join('\n');
}

/** Where the time of each row that was split goes, as indented lines under the table (medians for the trivial scenario, one -v run for the others). Pure. */
export function formatLoopParts(rows: readonly LoopRow[]): string {
  const s = seconds;
  return rows
    .filter((r) => r.parts?.length)
    .map((r) => [
      `${r.measure}${r.target ? ` (${r.met ? 'met' : 'missed'})` : ''}:`,
      ...r.parts!.map((p) => `  ${s(p.ms).padStart(8)}  ${p.what}`),
      ...(r.perScenarioMs !== undefined ? [`  ${s(r.perScenarioMs).padStart(8)}  one scenario, median of its own times (within the scenarios above)`] : []),
    ].join('\n'))
    .join('\n');
}

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
}

const median = (v: readonly number[]): number => {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** The CLI as `npm run -s rig --` runs it (node + tsx loader + rig/cli/main.ts). */
const RIG = [process.execPath, '--import', 'tsx', join(projectRoot, 'rig/cli/main.ts')];
/** The pre-change npm script: the tsx CLI, which starts a second node. */
const RIG_VIA_TSX_CLI = [join(projectRoot, 'node_modules/.bin/tsx'), join(projectRoot, 'rig/cli/main.ts')];

async function timeCommand(argv: readonly string[], env: NodeJS.ProcessEnv = {}, before?: () => Promise<void>): Promise<number> {
  await before?.();
  const t0 = performance.now();
  const r = await execa(argv[0]!, argv.slice(1), { reject: false, env, cwd: projectRoot, stdin: 'ignore' });
  const ms = performance.now() - t0;
  if (r.exitCode !== 0) throw new Error(`bench: ${argv.slice(3).join(' ')} exited ${r.exitCode}: ${String(r.stderr).split('\n').slice(-3).join(' | ')}`);
  return ms;
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

export async function benchLoops(o: { imageId: string; runs: number; debug: boolean; onEvent: EventSink; full: boolean }): Promise<LoopRow[]> {
  const log = (message: string) => o.onEvent({ type: 'log', level: 'info', message });
  const rows: LoopRow[] = [];
  const kernel = ['--kernel', o.imageId];
  const noDebug = o.debug ? [] : ['--no-debug'];
  const fresh = async (prefix: string) => mkdtemp(join(tmpdir(), prefix));
  const kmod = await fresh('ktest-bench-kmod-');
  let edits = 0;
  // An edit of the module: a new comment changes its source hash, so it is built again.
  const edit = () => appendFile(join(kmod, 'ktest.c'), `/* bench edit ${process.pid} ${Date.now()} ${edits++} */\n`);
  try {
    await cp(DEFAULT_KMOD_DIR, kmod, { recursive: true, dereference: true });

    log('startup: rig --help ...');
    const help = await samples(o.runs * 2, () => timeCommand([...RIG, '--help']));
    const helpTsx = await samples(o.runs * 2, () => timeCommand([...RIG_VIA_TSX_CLI, '--help']));
    rows.push({ measure: 'rig --help (start-up; today: through the tsx CLI)', newMs: median(help), todayMs: median(helpTsx), runs: help.length });

    log('exec warm ...');
    const execArgs = ['exec', ...kernel, '--kmod', kmod, '--', 'nlclient', 'hi'];
    await timeCommand([...RIG, ...execArgs]); // build the module and the snapshot once
    const execWarm = await samples(o.runs, () => timeCommand([...RIG, ...execArgs]));
    const execCold = await samples(o.runs, () => timeCommand([...RIG, 'exec', '--no-snapshot', ...execArgs.slice(1)]));
    rows.push({ measure: 'exec -- nlclient hi, warm (today: --no-snapshot, a cold boot)', newMs: median(execWarm), todayMs: median(execCold), runs: execWarm.length, target: '<= 1.5 s and <= 40 % of --no-snapshot', met: median(execWarm) <= 1500 && median(execWarm) <= 0.4 * median(execCold) });

    log('exec after an edit of the module ...');
    const execEdit = await samples(o.runs, () => timeCommand([...RIG, ...execArgs], {}, edit));
    const execEditCold = await samples(o.runs, () => timeCommand([...RIG, 'exec', '--no-snapshot', ...execArgs.slice(1)], {}, edit));
    rows.push({ measure: 'exec after an edit of the module', newMs: median(execEdit), todayMs: median(execEditCold), runs: execEdit.length, target: '<= 3 s', met: median(execEdit) <= 3000 });

    log('trivial scenario (restore, copy the module in, load, one message, kernel log) ...');
    rows.push(await trivialScenario(o, kmod));

    log('5 MB of command output (results channel, and the command port as before) ...');
    rows.push(await largeOutput(o, kmod));

    log('npm run rig, warm ...');
    const runArgs = ['run', ...kernel, '--kmod', kmod, ...noDebug];
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
    const runNaive = o.full ? [await timeCommand([...RIG, ...runArgs, '--no-snapshot'])] : [];
    rows.push({ measure: 'npm run rig, warm (today: a snapshot per run; naive: --no-snapshot)', newMs: median(runWarm), todayMs: median(runToday), naiveMs: runNaive.length ? median(runNaive) : undefined, runs: runWarm.length, target: '<= 7 s', met: median(runWarm) <= 7000 });

    log('npm run rig after an edit of the module ...');
    const runEdit = await samples(o.runs, () => timeCommand([...RIG, ...runArgs], {}, edit));
    rows.push({ measure: 'npm run rig after an edit of the module', newMs: median(runEdit), runs: runEdit.length, target: '<= 9 s', met: median(runEdit) <= 9000 });
    return rows;
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
      const times = await samples(o.runs * 2, async () => {
        const t0 = performance.now();
        const guest = await Guest.restore(options, cached.file);
        try {
          const outcome = await runInGuest({ debug: o.debug, onEvent: () => {}, image: image! }, art, guest, TRIVIAL);
          if (outcome.failure) throw new Error(`bench: the trivial scenario failed: ${outcome.failure.message}`);
        } finally {
          await guest.close();
        }
        return performance.now() - t0;
      });
      return { measure: 'a trivial scenario end to end (restore .. kernel log)', newMs: median(times), runs: times.length, target: '<= 0.2 s', met: median(times) <= 200 };
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
  const s = (ms: number | undefined) => (ms === undefined ? '' : `${(ms / 1000).toFixed(2)} s`);
  const head = ['loop', 'new', "today's method", 'naive', 'runs', 'target'];
  const body = rows.map((r) => [r.measure, s(r.newMs), s(r.todayMs), s(r.naiveMs), String(r.runs), r.target ? `${r.target}: ${r.met ? 'met' : 'missed'}` : '']);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const num = (i: number) => i >= 1 && i <= 4;
  const line = (cells: string[]) => `| ${cells.map((c, i) => (num(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`;
  return [line(head), `|${widths.map((w, i) => (num(i) ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`, ...body.map(line)].join('\n');
}

// Turns engine events into text: TAP on stdout, progress on stderr (one updating line on a TTY, plain lines in CI).
import type { RigEvent, Stage } from '../core/events.ts';
import { envString } from '../core/env.ts';
import type { RunEvent, RunEventSink, RunSummary } from './results.ts';
import { TAP_HEADER, tapBailOut, tapPlan, tapResult, tapSubtest } from './tap.ts';
import { summaryTable } from './table.ts';
import { cleanText } from './details.ts';
import { allowedLine } from '../detect/allowed.ts';

/** The part of a stream the reporter uses (process.stdout/stderr fit). */
export interface TextStream {
  write(chunk: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

export interface ReporterOptions {
  /** TAP goes here (default process.stdout). */
  readonly stdout?: TextStream;
  /** Progress, logs and the summary table go here (default process.stderr). */
  readonly stderr?: TextStream;
  /** Show debug logs (default false). */
  readonly verbose?: boolean;
  /** Plain progress lines (default: stderr is not a TTY, or CI is set in env). */
  readonly plain?: boolean;
  /**
   * How many images the run covers (default 1). One: TAP test points stream as scenarios end. Several: each
   * image is a TAP subtest written when it ends (images may run in parallel), then a summary table.
   */
  readonly images?: number;
  readonly env?: NodeJS.ProcessEnv;
}

export interface Reporter {
  readonly sink: RunEventSink;
  /** Summaries of the images that ended so far. */
  readonly runs: readonly RunSummary[];
  /**
   * Ends the output: the TAP plan (or "Bail out!" with the error that stopped the run), then the summary
   * table when several images ran. Returns the summaries.
   */
  finish(error?: unknown): readonly RunSummary[];
}

const STAGE_WORDS: Record<Stage, string> = {
  tools: 'checking tools',
  fetch: 'downloading',
  extract: 'extracting',
  buildroot: 'preparing build root',
  build: 'building',
  initramfs: 'packing initramfs',
  boot: 'booting',
  snapshot: 'snapshotting',
  run: 'running',
};

/**
 * One line of progress: "[bookworm-6.1] downloading linux-kbuild-6.1 3/4 (75%)", "building kernel objects
 * 812/911 (89%)"; done and total count items (packages, objects). Pure.
 */
export function formatProgress(e: Extract<RigEvent, { type: 'progress' }>): string {
  const prefix = `${e.image ? `[${e.image}] ` : ''}${STAGE_WORDS[e.stage]} ${e.label}`;
  if (e.total > 0) return `${prefix} ${e.done}/${e.total} (${Math.min(100, Math.floor((e.done / e.total) * 100))}%)`;
  return `${prefix} ${e.done}`;
}

/** Status text of an event for stderr, or undefined when it has none. Pure. */
export function formatStatus(e: RunEvent): string | undefined {
  switch (e.type) {
    case 'stage':
      return `${e.image ? `[${e.image}] ` : ''}${e.message}`;
    case 'progress':
      return formatProgress(e);
    case 'run-start':
      return `[${e.image}] ${e.total} scenario${e.total === 1 ? '' : 's'}`;
    case 'scenario-start':
      return `[${e.image}] scenario ${e.index + 1}/${e.total} ${e.name}`;
    default:
      return undefined;
  }
}

export function createReporter(opts: ReporterOptions = {}): Reporter {
  const out = opts.stdout ?? process.stdout;
  const err = opts.stderr ?? process.stderr;
  const env = opts.env ?? process.env;
  const plain = opts.plain ?? (!err.isTTY || (envString('CI', env) !== undefined && env.CI !== 'false'));
  const several = (opts.images ?? 1) > 1;
  const runs: RunSummary[] = [];
  /** Status per image ('' key: no image) for the single updating line. */
  const status = new Map<string, string>();
  /** Last 25% bucket printed per progress label, in plain mode. */
  const buckets = new Map<string, number>();
  let shown = false;
  let points = 0;
  let finished = false;
  /** A single-image run whose image could not run has ended its TAP with "Bail out!". */
  let bailed = false;

  const clear = () => {
    if (shown) err.write('\r\u001b[2K');
    shown = false;
  };
  const draw = () => {
    if (plain || status.size === 0) return;
    const width = Math.max(20, (err.columns ?? 80) - 1);
    const text = cleanText([...status.values()].join(' | ')).replace(/\n/g, ' ');
    err.write(`\r\u001b[2K${text.length > width ? `${text.slice(0, width - 1)}…` : text}`);
    shown = true;
  };
  /** Permanent output: the status line is cleared first and redrawn after. */
  const print = (stream: TextStream, text: string) => {
    clear();
    stream.write(text);
    draw();
  };
  const setStatus = (image: string | undefined, text: string) => {
    status.set(image ?? '', text);
    clear();
    draw();
  };

  const progress = (e: Extract<RigEvent, { type: 'progress' }>) => {
    const text = formatProgress(e);
    if (!plain) return setStatus(e.image, text);
    const key = `${e.image ?? ''}\0${e.stage}\0${e.label}`;
    const bucket = e.total > 0 ? Math.floor((Math.min(e.done, e.total) / e.total) * 4) : -1;
    if (bucket !== -1 && buckets.get(key) === bucket) return;
    if (bucket === -1 && buckets.has(key)) return;
    buckets.set(key, bucket);
    print(err, `${text}\n`);
  };

  print(out, `${TAP_HEADER}\n`);

  const sink: RunEventSink = (e) => {
    if (finished) return;
    switch (e.type) {
      case 'log':
        if (e.level === 'debug' && !opts.verbose) return;
        return print(err, `${e.level === 'warn' ? 'warning: ' : e.level === 'debug' ? 'debug: ' : ''}${e.message}\n`);
      case 'progress':
        return progress(e);
      case 'stage':
      case 'run-start':
      case 'scenario-start': {
        const text = formatStatus(e)!;
        if (e.type === 'run-start' && !several) print(out, `# ${cleanText(e.image)}: ${e.total} scenario${e.total === 1 ? '' : 's'}\n`);
        if (plain || (opts.verbose && e.type === 'stage')) print(err, `${text}\n`);
        if (!plain) setStatus(e.image, text);
        return;
      }
      case 'scenario-end':
        if (!several) print(out, tapResult(++points, e.result));
        for (const a of e.result.allowed ?? []) print(err, `[${e.result.image}] ${e.result.name}: ${allowedLine(a)}\n`);
        return;
      case 'run-end':
        runs.push(e.summary);
        status.delete(e.summary.image);
        if (several) print(out, tapSubtest(runs.length, e.summary));
        else if (runs.length === 1 && e.summary.error) {
          print(out, tapBailOut(e.summary.error.message));
          bailed = true;
        } else if (runs.length === 1) print(out, tapPlan(points));
        else print(out, `# ${cleanText(e.summary.image)} ended after the plan: create the reporter with images > 1\n`);
        if (plain && !e.summary.error) print(err, `[${e.summary.image}] ${e.summary.passed} passed, ${e.summary.failed} failed\n`);
        return;
    }
  };

  const finish = (error?: unknown): readonly RunSummary[] => {
    if (finished) return runs;
    finished = true;
    status.clear();
    clear();
    if (bailed) {
      // the TAP document already ended
    } else if (error !== undefined) {
      const message = error instanceof Error ? error.message : String(error);
      out.write(tapBailOut(message));
    } else if (several) {
      out.write(tapPlan(runs.length));
    } else if (runs.length === 0) {
      out.write(tapPlan(points));
    }
    if (several && runs.length > 0) err.write(`\n${summaryTable(runs)}`);
    return runs;
  };

  return { sink, runs, finish };
}

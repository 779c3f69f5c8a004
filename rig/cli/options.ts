// Pure command-line parser of `rig`: argv in, a discriminated command out, UsageError on bad input.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../core/errors.ts';

export const USAGE = `usage:
  rig [run] [--kernel ID|ID,ID...|all] [--kmod DIR] [--scenarios FILE] [--only PATTERN] [--json FILE] [--junit FILE]
            [--logs DIR] [--verbose] [--jobs N] [--shard I/N] [--target guest|host]
            [--no-snapshot] [--no-debug]
  rig exec [--kernel ID] [--kmod DIR] [--no-load] [--timeout SECONDS] [--logs DIR] [--verbose] -- CMD [ARGS...]
  rig doctor
  rig images [list|fetch|update] [ID...]
  rig --help

run options:
  --kernel   images to run on: one id, a comma-separated list (repeatable), or "all" (default: the default image)
  --kmod     directory of the module under test (default: kmod/)
  --scenarios  a TypeScript file whose default export is an array of scenarios (default: the ktest scenarios)
  --only     run the scenarios whose name contains PATTERN; /REGEX/ or /REGEX/FLAGS for a regular expression
  --json     write the JSON report to FILE          --junit  write a JUnit XML report to FILE
  --logs     keep each guest's console log in DIR   --jobs   guests run in parallel (positive integer)
  --shard    run only shard I of N (1 <= I <= N), for CI matrices
  --target   guest: scenarios talk to the module in a VM (default); host: against the host's kernel
  --no-snapshot  cold-boot for every scenario instead of restoring a snapshot
  --no-debug     skip the debug kernel options (kmemleak, slub_debug)
  --verbose  show debug logs on stderr

exec options:
  --logs     where the full console log goes when the kernel reports something (default: $TMPDIR/ktest-rig-logs)`;

/** Which images a run covers: the default image, all of them, or the named ones. */
export type KernelSelection = { readonly kind: 'default' } | { readonly kind: 'all' } | { readonly kind: 'ids'; readonly ids: readonly string[] };

/** --only: a substring of the scenario name, or a regular expression written /like this/i. */
export type ScenarioFilter = { readonly kind: 'substring'; readonly text: string } | { readonly kind: 'regex'; readonly regex: RegExp };

export interface Shard {
  /** 1-based index of this shard. */
  readonly index: number;
  readonly count: number;
}

export interface RunArgs {
  readonly kernels: KernelSelection;
  readonly kmod?: string;
  /** A TypeScript module whose default export lists the scenarios (default: rig/scenario/ktest.ts). */
  readonly scenarios?: string;
  readonly only?: ScenarioFilter;
  readonly json?: string;
  readonly junit?: string;
  readonly logs?: string;
  readonly verbose: boolean;
  /** Parallel guests; undefined: the engine decides. */
  readonly jobs?: number;
  readonly shard?: Shard;
  readonly target: 'guest' | 'host';
  readonly snapshot: boolean;
  readonly debug: boolean;
}

export interface ExecArgs {
  /** undefined: the default image. */
  readonly kernel?: string;
  readonly kmod?: string;
  /** Load the module before running the command (false with --no-load). */
  readonly load: boolean;
  /** Kill the command after this long (default 60 s); exit 124 then. */
  readonly timeoutMs?: number;
  readonly verbose: boolean;
  /** The command and its arguments (everything after --). */
  readonly command: readonly string[];
  /** Directory for the full console log of a run that saw a kernel report. */
  readonly logs?: string;
}

export type ImagesAction = 'list' | 'fetch' | 'update';

export type CliCommand =
  | { readonly command: 'run'; readonly args: RunArgs }
  | { readonly command: 'exec'; readonly args: ExecArgs }
  | { readonly command: 'doctor'; readonly verbose: boolean }
  | { readonly command: 'images'; readonly action: ImagesAction; readonly ids: readonly string[]; readonly verbose: boolean }
  | { readonly command: 'help' };

const COMMANDS = ['run', 'exec', 'doctor', 'images', 'help'] as const;
const HINT = 'see: npm run rig -- --help';

const common = { verbose: { type: 'boolean', short: 'v' }, help: { type: 'boolean', short: 'h' } } as const;
const runOptions = {
  ...common,
  kernel: { type: 'string', short: 'k', multiple: true },
  kmod: { type: 'string' },
  scenarios: { type: 'string' },
  only: { type: 'string' },
  json: { type: 'string' },
  junit: { type: 'string' },
  logs: { type: 'string' },
  jobs: { type: 'string', short: 'j' },
  shard: { type: 'string' },
  target: { type: 'string' },
  'no-snapshot': { type: 'boolean' },
  'no-debug': { type: 'boolean' },
} as const;
const execOptions = { ...common, kernel: { type: 'string', short: 'k' }, kmod: { type: 'string' }, 'no-load': { type: 'boolean' }, timeout: { type: 'string' }, logs: { type: 'string' } } as const;

function usage(message: string): UsageError {
  return new UsageError(message, { hint: HINT });
}

/** node:util parseArgs, with its errors turned into one-line UsageErrors. */
function parse<T extends NonNullable<ParseArgsConfig['options']>>(command: string, args: string[], options: T) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true, tokens: true });
  } catch (error) {
    const text = error instanceof Error ? error.message.split('\n')[0] : String(error);
    const option = text.match(/[Uu]nknown option '([^']+)'/)?.[1];
    const message = option ? `unknown option '${option}' for 'rig ${command}'` : `rig ${command}: ${text.replace(/\.$/, '')}`;
    throw new UsageError(message, { hint: HINT, cause: error });
  }
}

/** Parses --kernel values: repeated and/or comma-separated ids, or "all" alone. */
export function parseKernels(values: readonly string[] | undefined): KernelSelection {
  if (!values || values.length === 0) return { kind: 'default' };
  const ids = values.flatMap((v) => v.split(',')).map((v) => v.trim());
  if (ids.some((id) => id === '')) throw usage(`--kernel has an empty id in '${values.join(',')}'`);
  if (ids.includes('all')) {
    if (ids.length > 1) throw usage(`--kernel all cannot be combined with other ids ('${values.join(',')}')`);
    return { kind: 'all' };
  }
  for (const id of ids) if (!/^[\w.+-]+$/.test(id)) throw usage(`--kernel '${id}' is not an image id (letters, digits, . _ + -)`);
  return { kind: 'ids', ids: [...new Set(ids)] };
}

/** Parses --only: "/re/flags" is a regular expression, anything else a substring. */
export function parseFilter(pattern: string): ScenarioFilter {
  if (pattern === '') throw usage('--only needs a non-empty PATTERN');
  const m = pattern.match(/^\/(.+)\/([a-z]*)$/);
  if (!m) return { kind: 'substring', text: pattern };
  try {
    return { kind: 'regex', regex: new RegExp(m[1], m[2]) };
  } catch (error) {
    throw new UsageError(`--only ${pattern} is not a valid regular expression`, { hint: 'write /REGEX/ or /REGEX/FLAGS, or a plain substring', cause: error });
  }
}

/** Whether a scenario name passes a --only filter (no filter: everything passes). */
export function matchesFilter(filter: ScenarioFilter | undefined, name: string): boolean {
  if (!filter) return true;
  if (filter.kind === 'substring') return name.includes(filter.text);
  filter.regex.lastIndex = 0;
  return filter.regex.test(name);
}

/** Parses --shard I/N (1 <= I <= N). */
export function parseShard(value: string): Shard {
  const m = value.match(/^(\d+)\/(\d+)$/);
  if (!m) throw usage(`--shard '${value}' must look like I/N, e.g. --shard 2/4`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || index < 1 || index > count) throw usage(`--shard ${value}: need 1 <= I <= N`);
  return { index, count };
}

/** Parses --jobs N (a positive integer). */
export function parseJobs(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw usage(`--jobs '${value}' must be a positive integer`);
  return Number(value);
}

function parseRun(args: string[]): CliCommand {
  const { values, positionals } = parse('run', args, runOptions);
  if (values.help) return { command: 'help' };
  if (positionals.length > 0) throw usage(`unexpected argument '${positionals[0]}' for 'rig run'`);
  const target = values.target ?? 'guest';
  if (target !== 'guest' && target !== 'host') throw usage(`--target '${target}' must be guest or host`);
  for (const name of ['kmod', 'scenarios', 'json', 'junit', 'logs'] as const) {
    if (values[name] === '') throw usage(`--${name} needs a non-empty path`);
  }
  const run: RunArgs = {
    kernels: parseKernels(values.kernel),
    verbose: values.verbose ?? false,
    target,
    snapshot: !values['no-snapshot'],
    debug: !values['no-debug'],
    ...(values.kmod !== undefined && { kmod: values.kmod }),
    ...(values.scenarios !== undefined && { scenarios: values.scenarios }),
    ...(values.only !== undefined && { only: parseFilter(values.only) }),
    ...(values.json !== undefined && { json: values.json }),
    ...(values.junit !== undefined && { junit: values.junit }),
    ...(values.logs !== undefined && { logs: values.logs }),
    ...(values.jobs !== undefined && { jobs: parseJobs(values.jobs) }),
    ...(values.shard !== undefined && { shard: parseShard(values.shard) }),
  };
  return { command: 'run', args: run };
}

function parseExec(args: string[]): CliCommand {
  const { values, positionals, tokens } = parse('exec', args, execOptions);
  if (values.help) return { command: 'help' };
  const terminator = tokens.find((tok) => tok.kind === 'option-terminator');
  const before = tokens.filter((tok) => tok.kind === 'positional' && (!terminator || tok.index < terminator.index));
  if (before.length > 0) throw usage(`put the command after '--': rig exec -- ${before.map((tok) => (tok.kind === 'positional' ? tok.value : '')).join(' ')}`);
  if (positionals.length === 0) throw usage("rig exec needs a command after '--', e.g. rig exec -- cat /proc/modules");
  if (values.kernel !== undefined) {
    const sel = parseKernels([values.kernel]);
    if (sel.kind !== 'ids' || sel.ids.length !== 1) throw usage(`rig exec runs on one image: --kernel '${values.kernel}'`);
  }
  let timeoutMs: number | undefined;
  if (values.timeout !== undefined) {
    const seconds = Number(values.timeout);
    if (!Number.isFinite(seconds) || seconds <= 0) throw usage(`--timeout '${values.timeout}' must be a positive number of seconds`);
    timeoutMs = Math.round(seconds * 1000);
  }
  const exec: ExecArgs = {
    load: !values['no-load'],
    ...(timeoutMs !== undefined && { timeoutMs }),
    verbose: values.verbose ?? false,
    command: positionals,
    ...(values.kernel !== undefined && { kernel: values.kernel }),
    ...(values.kmod !== undefined && { kmod: values.kmod }),
    ...(values.logs !== undefined && { logs: values.logs }),
  };
  if (values.logs === '') throw usage('--logs needs a non-empty path');
  return { command: 'exec', args: exec };
}

function parseImages(args: string[]): CliCommand {
  const { values, positionals } = parse('images', args, common);
  if (values.help) return { command: 'help' };
  const [action = 'list', ...ids] = positionals;
  if (action !== 'list' && action !== 'fetch' && action !== 'update') {
    throw usage(`unknown images action '${action}': use list, fetch or update`);
  }
  if (action === 'list' && ids.length > 0) throw usage(`'rig images list' takes no ids (got '${ids[0]}')`);
  for (const id of ids) if (!/^[\w.+-]+$/.test(id)) throw usage(`'${id}' is not an image id`);
  return { command: 'images', action, ids, verbose: values.verbose ?? false };
}

function parseDoctor(args: string[]): CliCommand {
  const { values, positionals } = parse('doctor', args, common);
  if (values.help) return { command: 'help' };
  if (positionals.length > 0) throw usage(`unexpected argument '${positionals[0]}' for 'rig doctor'`);
  return { command: 'doctor', verbose: values.verbose ?? false };
}

/** Parses the arguments after `rig` (process.argv.slice(2)). */
export function parseCli(argv: readonly string[]): CliCommand {
  const [first, ...rest] = argv;
  if (first === undefined || first.startsWith('-')) {
    if (first === '--help' || first === '-h') return { command: 'help' };
    return parseRun([...argv]);
  }
  switch (first as (typeof COMMANDS)[number]) {
    case 'run':
      return parseRun(rest);
    case 'exec':
      return parseExec(rest);
    case 'doctor':
      return parseDoctor(rest);
    case 'images':
      return parseImages(rest);
    case 'help':
      return { command: 'help' };
    default:
      throw usage(`unknown command '${first}': use one of ${COMMANDS.join(', ')}`);
  }
}

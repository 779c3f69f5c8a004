// The option table of `rig`: one record per option; the parser and every command's help are generated from it.
import { parseArgs } from 'node:util';
import { UsageError, exitCodeTable } from '../core/errors.ts';
import { envRows } from '../core/env.ts';
import { rigVersion } from '../core/version.ts';
import { DEFAULT_IMAGE_ID, parseKernels, type KernelSelection } from '../kernels/images.ts';
import { parseFilter, type ScenarioFilter } from '../scenario/filter.ts';
import { BACKENDS, BACKEND_NAMES, isBackendName, type BackendName } from '../scenario/backends/registry.ts';
import { DEFAULT_EXEC_TIMEOUT_MS } from '../vm/timeouts.ts';
import { DEFAULT_CPUS } from '../vm/qemu-args.ts';
import { DEFAULT_FAULT_INJECTIONS, MAX_FAULT_INJECTIONS } from '../run/fault-inject.ts';

/** The commands, in help order; `run` is the default. */
export const COMMANDS = [
  { name: 'run', operands: '', summary: 'fetch the kernels, build the module, boot guests and run the scenarios; TAP on stdout (the default command)' },
  { name: 'exec', operands: '-- CMD [ARGS...]', summary: 'boot one fresh guest, load the module, run CMD in it, print its output and the kernel messages' },
  { name: 'shell', operands: '', summary: 'boot a fresh guest with the module built and loaded, and open an interactive shell in it (Ctrl-] q quits)' },
  { name: 'replay', operands: 'BUNDLE', summary: 're-run the failed scenario of a failure bundle (a failed run names one per failure) under the same conditions, and say whether the same failure (kind and title) came back' },
  { name: 'doctor', operands: '', summary: 'check the host tools, KVM and the cache, and say what is missing' },
  { name: 'images', operands: '[list|fetch|update|verify|clear] [ID...]', summary: 'list the images and cached snapshots, fill the cache (fetch), re-pin to the newest Debian packages (update), hash every cached file against its record (verify), or delete cached ready-guest snapshots (clear)' },
  { name: 'bench', operands: '', summary: 'measure boots, restores and runs against the naive way (also: npm run bench)' },
  { name: 'help', operands: '[COMMAND]', summary: 'this help, or the options of one command' },
] as const;
export type CommandName = (typeof COMMANDS)[number]['name'];

export interface OptionSpec {
  /** Long name, without the dashes. */
  readonly name: string;
  readonly short?: string;
  readonly type: 'boolean' | 'string';
  /** A string option that may be given several times. */
  readonly multiple?: boolean;
  /** The value's placeholder in help ("ID", "DIR"). */
  readonly arg?: string;
  readonly commands: readonly CommandName[];
  /** The default, as help shows it. */
  readonly default?: string;
  readonly help: string;
  /** The environment variable with the same effect, if any. */
  readonly env?: string;
}

const EVERY: readonly CommandName[] = COMMANDS.map((c) => c.name);
export const DEFAULT_BENCH_RUNS = 5;
/** The parts of `rig bench`: guests (boots, restores, whole runs in-process), loops (the CLI end to end), matrix (--kernel all through the CLI). */
export const BENCH_PARTS = ['guests', 'loops', 'matrix'] as const;
export type BenchPart = (typeof BENCH_PARTS)[number];

export const OPTIONS = [
  { name: 'help', short: 'h', type: 'boolean', commands: EVERY, help: 'show the help (of this command)' },
  { name: 'version', short: 'V', type: 'boolean', commands: EVERY, help: "print ktest-rig's version" },
  { name: 'verbose', short: 'v', type: 'boolean', commands: ['run', 'exec', 'shell', 'replay', 'doctor', 'images'], help: 'debug logs on stderr, and the whole compiler log of a failed build' },
  { name: 'list', type: 'boolean', commands: ['run'], help: 'print the image and name of every scenario the run would execute (after --only and --shard), then exit' },
  { name: 'kernel', short: 'k', type: 'string', multiple: true, arg: 'ID', commands: ['run'], default: DEFAULT_IMAGE_ID, help: 'images to run on: one id, a comma-separated list (repeatable), or "all" (see: rig images)' },
  { name: 'kernel', short: 'k', type: 'string', arg: 'ID', commands: ['exec', 'shell', 'bench'], default: DEFAULT_IMAGE_ID, help: 'the image to boot (see: rig images)' },
  { name: 'config', type: 'string', arg: 'FILE', commands: ['run', 'exec'], default: './ktest-rig.config.ts if present', help: 'the project file (module, make arguments, parameters, scenarios, guest programs, images, allowed reports); the options below override it' },
  { name: 'param', type: 'string', multiple: true, arg: 'NAME=VALUE', commands: ['run', 'exec'], help: "a module parameter of every load (repeatable); over the project file's moduleParams, under a scenario's own params" },
  { name: 'kmod', type: 'string', arg: 'DIR', commands: ['run', 'exec', 'shell'], default: 'kmod/', help: 'directory of the module under test (a Kbuild or Makefile); copied, never written to' },
  { name: 'scenarios', type: 'string', arg: 'FILE', commands: ['run'], default: 'rig/scenario/ktest.ts', help: 'a TypeScript file whose default export is an array of scenarios' },
  { name: 'only', type: 'string', arg: 'PATTERN', commands: ['run'], help: 'run the scenarios whose name contains PATTERN; /REGEX/ or /REGEX/FLAGS for a regular expression' },
  { name: 'json', type: 'string', arg: 'FILE', commands: ['run'], help: 'write the JSON report to FILE' },
  { name: 'json', type: 'string', arg: 'FILE', commands: ['bench'], help: 'write the measurements as JSON to FILE' },
  { name: 'junit', type: 'string', arg: 'FILE', commands: ['run'], help: 'write a JUnit XML report to FILE' },
  { name: 'logs', type: 'string', arg: 'DIR', commands: ['run'], help: 'keep DIR/<image>/<scenario>.console.log and .dmesg.log for every scenario' },
  { name: 'logs', type: 'string', arg: 'DIR', commands: ['exec'], default: '$TMPDIR/ktest-rig-logs', help: 'where the whole console log goes when the kernel printed a report, and the gdb script (--gdb)' },
  { name: 'jobs', short: 'j', type: 'string', arg: 'N', commands: ['run'], default: 'one per core', help: 'guests running at once' },
  { name: 'shard', type: 'string', arg: 'I/N', commands: ['run'], help: 'run only shard I of N (1 <= I <= N) of the (image, scenario) pairs, for CI matrices' },
  { name: 'target', type: 'string', arg: BACKEND_NAMES.join('|'), commands: ['run'], default: 'guest', help: BACKEND_NAMES.map((b) => `${b}: ${BACKENDS[b].summary}`).join('; ') },
  { name: 'no-snapshot', type: 'boolean', commands: ['run', 'exec'], help: 'cold-boot a guest (for every scenario, or for CMD) instead of restoring the cached ready-guest snapshot' },
  { name: 'cpus', type: 'string', arg: 'N', commands: ['run', 'exec'], default: String(DEFAULT_CPUS), help: 'guest vCPUs (multi-threaded TCG); part of the snapshot key' },
  { name: 'memory', type: 'string', arg: 'MB', commands: ['run', 'exec'], default: "the image's, 256", help: 'guest memory in MB; part of the snapshot key' },
  { name: 'no-debug', type: 'boolean', commands: ['run', 'bench'], help: 'turn off the memory-error detection (slub_debug, KFENCE sampling, slab validation)' },
  { name: 'coverage', type: 'boolean', commands: ['run'], help: "build the module with gcov profiling, read its counters in each scenario's guest, and write lcov tracefiles (the run's and each scenario's) and an HTML report; prints a per-file line, function and branch summary (needs a kernel with gcov: --kernel bookworm-6.1-debug)" },
  { name: 'coverage-dir', type: 'string', arg: 'DIR', commands: ['run'], default: '<--logs DIR>/coverage, else ktest-rig-coverage/ next to --json or --junit, else $TMPDIR/ktest-rig-coverage/run-*', help: 'with --coverage: where DIR/<image>/lcov.info, html/ and scenarios/<scenario>.info go' },
  { name: 'fault-inject', type: 'boolean', commands: ['run'], help: 'after a passing run of each scenario, fail each allocation its client calls meet, one per fresh guest; a kernel report or hang fails the scenario (needs fault injection: --kernel bookworm-6.1-debug)' },
  { name: 'fault-inject-max', type: 'string', arg: 'N', commands: ['run'], default: `${DEFAULT_FAULT_INJECTIONS} (at most ${MAX_FAULT_INJECTIONS})`, help: 'with --fault-inject: injections per scenario (a scenario\'s faultInject.max wins)' },
  { name: 'no-load', type: 'boolean', commands: ['exec', 'shell'], help: 'do not load the module first' },
  { name: 'shell', type: 'boolean', commands: ['replay'], help: 'open a shell in the guest at the moment of failure: restored from the bundle\'s snapshot, or (without one) after re-running the scenario up to its failure; exits as rig shell does' },
  { name: 'gdb', type: 'boolean', commands: ['run', 'exec', 'shell', 'replay'], help: "serve QEMU's gdb stub on a unix socket and write a gdb script that loads the kernel's symbols and the module's at its load addresses; prints the command to attach (gdb -x SCRIPT). run: one guest at a time, a script per scenario, no scenario timeout" },
  { name: 'gdb-dbg', type: 'boolean', commands: ['run', 'exec', 'shell', 'replay'], help: "with --gdb on Debian's stock images: the kernel's DWARF from Debian's -dbg package (855 MB for 6.1: downloaded once, on this option only)" },
  { name: 'gdb-wait', type: 'boolean', commands: ['run', 'exec', 'shell', 'replay'], help: 'as --gdb, and stop the guest once the module is loaded, before CMD, the shell or the rest of the scenario, until your gdb continues: set breakpoints first' },
  { name: 'timeout', type: 'string', arg: 'SECONDS', commands: ['exec'], default: String(DEFAULT_EXEC_TIMEOUT_MS / 1000), help: 'kill CMD after this long (exit 124)' },
  { name: 'parts', type: 'string', arg: 'LIST', commands: ['bench'], default: 'guests,loops,matrix; guests only on a kernel the rig builds', help: 'what to measure, comma-separated: guests (boots, restores, whole runs against a cold boot per scenario), loops (exec and run end to end through the CLI, with where their time goes), matrix (--kernel all, warm)' },
  { name: 'runs', type: 'string', arg: 'N', commands: ['bench'], default: String(DEFAULT_BENCH_RUNS), help: 'samples per measure (the table shows medians)' },
] as const satisfies readonly OptionSpec[];

type Option = (typeof OPTIONS)[number];
/** The option names a command accepts: asking a command's parse result for another one does not compile. */
type OptionOf<C extends CommandName, O = Option> = O extends { readonly name: infer N; readonly commands: readonly (infer Cs)[] } ? (C extends Cs ? N : never) : never;

/** The options of one command, in table order. */
export function optionsOf(command: CommandName): readonly OptionSpec[] {
  return (OPTIONS as readonly OptionSpec[]).filter((o) => o.commands.includes(command));
}

export interface Shard {
  /** 1-based index of this shard. */
  readonly index: number;
  readonly count: number;
}

export interface RunArgs {
  /** The project file given with --config (else ./ktest-rig.config.ts is looked for). */
  readonly config?: string;
  /** --param NAME=VALUE: module parameters of every load. */
  readonly params?: Readonly<Record<string, string>>;
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
  readonly target: BackendName;
  readonly snapshot: boolean;
  readonly debug: boolean;
  /** --list: print the plan and exit. */
  readonly list: boolean;
  /** --fault-inject: the most injections per scenario; undefined: no sweep. */
  readonly faultInject?: number;
  /** Guest vCPUs and memory (undefined: the defaults); both are part of the snapshot key. */
  readonly cpus?: number;
  readonly memoryMb?: number;
  /** --gdb (wait: false) or --gdb-wait (wait: true): one guest at a time. */
  readonly gdb?: { readonly wait: boolean; readonly dbg?: boolean };
  /** --coverage (dir: --coverage-dir, else the default next to the reports). */
  readonly coverage?: { readonly dir?: string };
}

export interface ExecArgs {
  readonly config?: string;
  readonly params?: Readonly<Record<string, string>>;
  /** undefined: the default image. */
  readonly kernel?: string;
  readonly kmod?: string;
  /** Load the module before running the command (false with --no-load). */
  readonly load: boolean;
  /** Kill the command after this long (default DEFAULT_EXEC_TIMEOUT_MS); exit 124 then. */
  readonly timeoutMs?: number;
  readonly verbose: boolean;
  /** Restore from the cached snapshot (false with --no-snapshot: cold boot). */
  readonly snapshot: boolean;
  readonly cpus?: number;
  readonly memoryMb?: number;
  /** The command and its arguments (everything after --). */
  readonly command: readonly string[];
  /** Directory for the full console log of a run that saw a kernel report (and the gdb script). */
  readonly logs?: string;
  /** --gdb (wait: false) or --gdb-wait (wait: true). */
  readonly gdb?: { readonly wait: boolean; readonly dbg?: boolean };
}

export interface ReplayArgs {
  readonly bundle: string;
  readonly shell: boolean;
  readonly verbose: boolean;
  /** --gdb (wait: false) or --gdb-wait (wait: true). */
  readonly gdb?: { readonly wait: boolean; readonly dbg?: boolean };
}

export interface ShellArgs {
  /** undefined: the default image. */
  readonly kernel?: string;
  readonly kmod?: string;
  readonly load: boolean;
  readonly verbose: boolean;
  /** --gdb (wait: false) or --gdb-wait (wait: true). */
  readonly gdb?: { readonly wait: boolean; readonly dbg?: boolean };
}

export interface BenchArgs {
  readonly kernel: string;
  readonly runs: number;
  /** undefined: the image's default parts (see bench.ts defaultParts). */
  readonly parts?: readonly BenchPart[];
  readonly json?: string;
  readonly debug: boolean;
}

export type ImagesAction = 'list' | 'fetch' | 'update' | 'verify' | 'clear';

export type CliCommand =
  | { readonly command: 'run'; readonly args: RunArgs }
  | { readonly command: 'exec'; readonly args: ExecArgs }
  | { readonly command: 'replay'; readonly args: ReplayArgs }
  | { readonly command: 'shell'; readonly args: ShellArgs }
  | { readonly command: 'doctor'; readonly verbose: boolean }
  | { readonly command: 'images'; readonly action: ImagesAction; readonly ids: readonly string[]; readonly verbose: boolean }
  | { readonly command: 'bench'; readonly args: BenchArgs }
  | { readonly command: 'help'; readonly topic?: CommandName }
  | { readonly command: 'version' };

const HINT = 'see: npm run -s rig -- --help';

function usage(message: string, command?: CommandName): UsageError {
  return new UsageError(message, { hint: command ? `see: npm run -s rig -- ${command} --help` : HINT });
}

function isCommand(name: string): name is CommandName {
  return EVERY.includes(name as CommandName);
}

/** node:util parseArgs over the command's rows of the table, its errors turned into one-line UsageErrors. */
function parse<C extends CommandName>(command: C, args: readonly string[]) {
  const config: Record<string, { type: 'boolean' | 'string'; short?: string; multiple?: boolean }> = {};
  for (const o of optionsOf(command)) config[o.name] = { type: o.type, ...(o.short && { short: o.short }), ...(o.multiple && { multiple: true }) };
  let parsed;
  try {
    parsed = parseArgs({ args: [...args], options: config, allowPositionals: true, strict: true, tokens: true });
  } catch (error) {
    const text = error instanceof Error ? error.message.split('\n')[0]! : String(error);
    const option = text.match(/[Uu]nknown option '([^']+)'/)?.[1];
    const message = option ? `unknown option '${option}' for 'rig ${command}'` : `rig ${command}: ${text.replace(/\.$/, '')}`;
    throw new UsageError(message, { hint: `see: npm run -s rig -- ${command} --help`, cause: error });
  }
  const { values, positionals, tokens } = parsed;
  return {
    positionals,
    tokens,
    flag: (name: OptionOf<C>): boolean => values[name] === true,
    string: (name: OptionOf<C>): string | undefined => {
      const v = values[name];
      return typeof v === 'string' ? v : undefined;
    },
    strings: (name: OptionOf<C>): string[] | undefined => {
      const v = values[name];
      return Array.isArray(v) ? v.map(String) : undefined;
    },
  };
}

/** Parses --param NAME=VALUE values into module parameters (a later NAME wins). */
export function parseParams(values: readonly string[] | undefined): Record<string, string> | undefined {
  if (!values || values.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const v of values) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(\S*)$/.exec(v);
    if (!m) throw usage(`--param '${v}' must be NAME=VALUE (a module parameter name, a value without blanks)`);
    out[m[1]!] = m[2]!;
  }
  return out;
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

/** Upper bounds that keep a typo from asking QEMU for a machine this host cannot give. */
export const MAX_CPUS = 64;
export const MIN_MEMORY_MB = 64;
export const MAX_MEMORY_MB = 65536;

/** Parses --cpus N (1..MAX_CPUS). */
export function parseCpus(value: string, command?: CommandName): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > MAX_CPUS) throw usage(`--cpus '${value}' must be an integer from 1 to ${MAX_CPUS}`, command);
  return Number(value);
}

/** Parses --memory MB (MIN_MEMORY_MB..MAX_MEMORY_MB). */
export function parseMemory(value: string, command?: CommandName): number {
  if (!/^\d+$/.test(value) || Number(value) < MIN_MEMORY_MB || Number(value) > MAX_MEMORY_MB) {
    throw usage(`--memory '${value}' must be a number of megabytes from ${MIN_MEMORY_MB} to ${MAX_MEMORY_MB}`, command);
  }
  return Number(value);
}

/** --cpus and --memory of run and exec. */
function machineValues(command: 'run' | 'exec', cpus: string | undefined, memory: string | undefined): { cpus?: number; memoryMb?: number } {
  return {
    ...(cpus !== undefined && { cpus: parseCpus(cpus, command) }),
    ...(memory !== undefined && { memoryMb: parseMemory(memory, command) }),
  };
}

/** --gdb and --gdb-wait (which implies --gdb). */
function gdbValue(gdb: boolean, wait: boolean, dbg = false): { gdb?: { wait: boolean; dbg?: boolean } } {
  if (dbg && !gdb && !wait) throw usage('--gdb-dbg goes with --gdb or --gdb-wait');
  return gdb || wait ? { gdb: { wait, ...(dbg && { dbg }) } } : {};
}

/** --coverage and --coverage-dir DIR (only with --coverage). */
export function coverageValue(on: boolean, dir: string | undefined): { coverage?: { dir?: string } } {
  if (dir !== undefined && !on) throw usage('--coverage-dir needs --coverage', 'run');
  return on ? { coverage: dir !== undefined ? { dir } : {} } : {};
}

/** --fault-inject and --fault-inject-max N (1..MAX_FAULT_INJECTIONS; only with --fault-inject). */
export function faultValues(on: boolean, max: string | undefined): { faultInject?: number } {
  if (max !== undefined && !on) throw usage('--fault-inject-max needs --fault-inject', 'run');
  if (!on) return {};
  if (max === undefined) return { faultInject: DEFAULT_FAULT_INJECTIONS };
  if (!/^\d+$/.test(max) || Number(max) < 1 || Number(max) > MAX_FAULT_INJECTIONS) throw usage(`--fault-inject-max '${max}' must be an integer from 1 to ${MAX_FAULT_INJECTIONS}`, 'run');
  return { faultInject: Number(max) };
}

/** Parses --jobs N (a positive integer). */
export function parseJobs(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw usage(`--jobs '${value}' must be a positive integer`);
  return Number(value);
}

/** Help and version are the same for every command. */
function helpOrVersion(command: CommandName, p: { flag(name: 'help' | 'version'): boolean }): CliCommand | undefined {
  if (p.flag('help')) return { command: 'help', topic: command };
  if (p.flag('version')) return { command: 'version' };
  return undefined;
}

function parseRun(args: readonly string[]): CliCommand {
  const p = parse('run', args);
  const early = helpOrVersion('run', p);
  if (early) return early;
  if (p.positionals.length > 0) throw usage(`unexpected argument '${p.positionals[0]}' for 'rig run'`, 'run');
  const target = p.string('target') ?? 'guest';
  if (!isBackendName(target)) throw usage(`--target '${target}' must be ${BACKEND_NAMES.join(' or ')}`, 'run');
  for (const name of ['config', 'kmod', 'scenarios', 'json', 'junit', 'logs', 'coverage-dir'] as const) {
    if (p.string(name) === '') throw usage(`--${name} needs a non-empty path`, 'run');
  }
  const str = (name: OptionOf<'run'>) => p.string(name);
  const only = str('only');
  const jobs = str('jobs');
  const shard = str('shard');
  const run: RunArgs = {
    kernels: parseKernels(p.strings('kernel')),
    verbose: p.flag('verbose'),
    target,
    snapshot: !p.flag('no-snapshot'),
    debug: !p.flag('no-debug'),
    list: p.flag('list'),
    ...(str('config') !== undefined && { config: str('config') }),
    ...(p.strings('param') !== undefined && { params: parseParams(p.strings('param')) }),
    ...(str('kmod') !== undefined && { kmod: str('kmod') }),
    ...(str('scenarios') !== undefined && { scenarios: str('scenarios') }),
    ...(only !== undefined && { only: parseFilter(only) }),
    ...(str('json') !== undefined && { json: str('json') }),
    ...(str('junit') !== undefined && { junit: str('junit') }),
    ...(str('logs') !== undefined && { logs: str('logs') }),
    ...(jobs !== undefined && { jobs: parseJobs(jobs) }),
    ...(shard !== undefined && { shard: parseShard(shard) }),
    ...faultValues(p.flag('fault-inject'), str('fault-inject-max')),
    ...machineValues('run', str('cpus'), str('memory')),
    ...gdbValue(p.flag('gdb'), p.flag('gdb-wait'), p.flag('gdb-dbg')),
    ...coverageValue(p.flag('coverage'), str('coverage-dir')),
  };
  if (run.coverage && target === 'host') throw usage('--coverage reads the counters in guests: it does not go with --target host', 'run');
  if (run.gdb && target === 'host') throw usage('--gdb debugs a guest: it does not go with --target host', 'run');
  if (run.gdb && run.jobs !== undefined && run.jobs > 1) throw usage(`--gdb runs one guest at a time: --jobs ${run.jobs} does not go with it`, 'run');
  return { command: 'run', args: run };
}

function parseExec(args: readonly string[]): CliCommand {
  const p = parse('exec', args);
  const early = helpOrVersion('exec', p);
  if (early) return early;
  const terminator = p.tokens.find((tok) => tok.kind === 'option-terminator');
  const before = p.tokens.filter((tok) => tok.kind === 'positional' && (!terminator || tok.index < terminator.index));
  if (before.length > 0) throw usage(`put the command after '--': rig exec -- ${before.map((tok) => (tok.kind === 'positional' ? tok.value : '')).join(' ')}`, 'exec');
  if (p.positionals.length === 0) throw usage("rig exec needs a command after '--', e.g. rig exec -- cat /proc/modules", 'exec');
  const kernel = p.string('kernel');
  if (kernel !== undefined) {
    const sel = parseKernels([kernel]);
    if (sel.kind !== 'ids' || sel.ids.length !== 1) throw usage(`rig exec runs on one image: --kernel '${kernel}'`, 'exec');
  }
  const timeout = p.string('timeout');
  let timeoutMs: number | undefined;
  if (timeout !== undefined) {
    const seconds = Number(timeout);
    if (!Number.isFinite(seconds) || seconds <= 0) throw usage(`--timeout '${timeout}' must be a positive number of seconds`, 'exec');
    timeoutMs = Math.round(seconds * 1000);
  }
  const kmod = p.string('kmod');
  const config = p.string('config');
  if (config === '') throw usage('--config needs a non-empty path', 'exec');
  const logs = p.string('logs');
  if (logs === '') throw usage('--logs needs a non-empty path', 'exec');
  const exec: ExecArgs = {
    load: !p.flag('no-load'),
    ...(timeoutMs !== undefined && { timeoutMs }),
    verbose: p.flag('verbose'),
    snapshot: !p.flag('no-snapshot'),
    ...machineValues('exec', p.string('cpus'), p.string('memory')),
    command: p.positionals,
    ...(kernel !== undefined && { kernel }),
    ...(config !== undefined && { config }),
    ...(p.strings('param') !== undefined && { params: parseParams(p.strings('param')) }),
    ...(kmod !== undefined && { kmod }),
    ...(logs !== undefined && { logs }),
    ...gdbValue(p.flag('gdb'), p.flag('gdb-wait'), p.flag('gdb-dbg')),
  };
  return { command: 'exec', args: exec };
}

function parseImages(args: readonly string[]): CliCommand {
  const p = parse('images', args);
  const early = helpOrVersion('images', p);
  if (early) return early;
  const [action = 'list', ...ids] = p.positionals;
  if (action !== 'list' && action !== 'fetch' && action !== 'update' && action !== 'verify' && action !== 'clear') {
    throw usage(`unknown images action '${action}': use list, fetch, update, verify or clear`, 'images');
  }
  if (action === 'list' && ids.length > 0) throw usage(`'rig images list' takes no ids (got '${ids[0]}')`, 'images');
  for (const id of ids) if (!/^[\w.+-]+$/.test(id)) throw usage(`'${id}' is not an image id`, 'images');
  return { command: 'images', action, ids, verbose: p.flag('verbose') };
}

function parseDoctor(args: readonly string[]): CliCommand {
  const p = parse('doctor', args);
  const early = helpOrVersion('doctor', p);
  if (early) return early;
  if (p.positionals.length > 0) throw usage(`unexpected argument '${p.positionals[0]}' for 'rig doctor'`, 'doctor');
  return { command: 'doctor', verbose: p.flag('verbose') };
}

function parseReplay(args: readonly string[]): CliCommand {
  const p = parse('replay', args);
  const early = helpOrVersion('replay', p);
  if (early) return early;
  const [bundle, extra] = p.positionals;
  if (!bundle) throw usage('rig replay needs a BUNDLE directory, e.g. rig replay ktest-rig-bundles/bookworm-6.1--echo', 'replay');
  if (extra !== undefined) throw usage(`unexpected argument '${extra}' for 'rig replay'`, 'replay');
  return { command: 'replay', args: { bundle, shell: p.flag('shell'), verbose: p.flag('verbose'), ...gdbValue(p.flag('gdb'), p.flag('gdb-wait'), p.flag('gdb-dbg')) } };
}

function parseShell(args: readonly string[]): CliCommand {
  const p = parse('shell', args);
  const early = helpOrVersion('shell', p);
  if (early) return early;
  if (p.positionals.length > 0) throw usage(`unexpected argument '${p.positionals[0]}' for 'rig shell' (to run one command: rig exec -- CMD)`, 'shell');
  const kernel = p.string('kernel');
  if (kernel !== undefined) {
    const sel = parseKernels([kernel]);
    if (sel.kind !== 'ids' || sel.ids.length !== 1) throw usage(`rig shell runs on one image: --kernel '${kernel}'`, 'shell');
  }
  const kmod = p.string('kmod');
  if (kmod === '') throw usage('--kmod needs a non-empty path', 'shell');
  return { command: 'shell', args: { load: !p.flag('no-load'), verbose: p.flag('verbose'), ...(kernel !== undefined && { kernel }), ...(kmod !== undefined && { kmod }), ...gdbValue(p.flag('gdb'), p.flag('gdb-wait'), p.flag('gdb-dbg')) } };
}

function parseBench(args: readonly string[]): CliCommand {
  const p = parse('bench', args);
  const early = helpOrVersion('bench', p);
  if (early) return early;
  if (p.positionals.length > 0) throw usage(`unexpected argument '${p.positionals[0]}' for 'rig bench'`, 'bench');
  const runs = p.string('runs') ?? String(DEFAULT_BENCH_RUNS);
  if (!/^\d+$/.test(runs) || Number(runs) < 1) throw usage(`--runs '${runs}' must be a positive integer`, 'bench');
  const kernel = p.string('kernel') ?? DEFAULT_IMAGE_ID;
  parseKernels([kernel]);
  const json = p.string('json');
  const partsArg = p.string('parts');
  let parts: BenchPart[] | undefined;
  if (partsArg !== undefined) {
    parts = partsArg.split(',').map((x) => x.trim()).filter(Boolean) as BenchPart[];
    const bad = parts.find((x) => !(BENCH_PARTS as readonly string[]).includes(x));
    if (bad !== undefined || parts.length === 0) throw usage(`--parts '${partsArg}': ${bad !== undefined ? `unknown part '${bad}'` : 'empty'} (parts: ${BENCH_PARTS.join(', ')})`, 'bench');
  }
  return { command: 'bench', args: { kernel, runs: Number(runs), debug: !p.flag('no-debug'), ...(json !== undefined && { json }), ...(parts && { parts: [...new Set(parts)] }) } };
}

function parseHelp(args: readonly string[]): CliCommand {
  const p = parse('help', args);
  if (p.flag('version')) return { command: 'version' };
  const [topic, extra] = p.positionals;
  if (extra !== undefined) throw usage(`unexpected argument '${extra}' for 'rig help'`, 'help');
  if (topic === undefined) return { command: 'help' };
  if (!isCommand(topic)) throw usage(`unknown command '${topic}': use one of ${EVERY.join(', ')}`);
  return { command: 'help', topic };
}

const PARSERS: { readonly [C in CommandName]: (args: readonly string[]) => CliCommand } = {
  run: parseRun,
  exec: parseExec,
  replay: parseReplay,
  shell: parseShell,
  doctor: parseDoctor,
  images: parseImages,
  bench: parseBench,
  help: parseHelp,
};

/** Parses the arguments after `rig` (process.argv.slice(2)). */
export function parseCli(argv: readonly string[]): CliCommand {
  const [first, ...rest] = argv;
  if (first === undefined || first.startsWith('-')) {
    if (first === '--help' || first === '-h') return { command: 'help' };
    if (first === '--version' || first === '-V') return { command: 'version' };
    return parseRun(argv);
  }
  if (!isCommand(first)) throw usage(`unknown command '${first}': use one of ${EVERY.join(', ')}`);
  return PARSERS[first](rest);
}

// ---- help, generated from the tables above ----

const WIDTH = 100;

/** Wraps `text` at word boundaries; continuation lines are indented, every line assumed to start at column `indent`. */
function wrap(text: string | readonly string[], indent: number, width = WIDTH): string {
  const lines: string[] = [];
  let line = '';
  for (const word of typeof text === 'string' ? text.split(' ') : text) {
    if (line && indent + line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  lines.push(line);
  return lines.join(`\n${' '.repeat(indent)}`);
}

function flagsOf(o: OptionSpec): string {
  const long = `--${o.name}${o.arg ? ` ${o.arg}` : ''}`;
  return o.short ? `-${o.short}, ${long}` : `    ${long}`;
}

/** Two columns: left padded to the widest entry, right wrapped under itself. */
function columns(rows: readonly (readonly [string, string])[]): string {
  const w = Math.max(...rows.map(([l]) => l.length));
  return rows.map(([l, r]) => `  ${l.padEnd(w)}  ${wrap(r, w + 4)}`).join('\n');
}

/** One synopsis line of a command, e.g. "rig exec [-k ID] [--kmod DIR] ... -- CMD [ARGS...]". */
export function synopsis(command: CommandName): string {
  return synopsisWords(command).join(' ');
}

/** The synopsis in groups that a line break must not split ("[--json FILE]"). */
function synopsisWords(command: CommandName): string[] {
  const spec = COMMANDS.find((c) => c.name === command)!;
  const opts = optionsOf(command)
    .filter((o) => o.name !== 'help' && o.name !== 'version')
    .map((o) => `[${o.short ? `-${o.short}` : `--${o.name}`}${o.arg ? ` ${o.arg}` : ''}]`);
  return ['rig', command === 'run' ? '[run]' : command, ...opts, spec.operands].filter(Boolean);
}

function exitCodes(command: 'run' | 'exec' | 'replay'): string {
  return columns(exitCodeTable(command).map((r) => [r.code, r.meaning] as const));
}

/** `rig COMMAND --help`: the command's synopsis, its options with defaults, and its exit codes. */
export function commandHelp(command: CommandName): string {
  const spec = COMMANDS.find((c) => c.name === command)!;
  const rows = optionsOf(command).map((o) => [flagsOf(o), `${o.help}${o.default ? ` (default: ${o.default})` : ''}${o.env ? ` (env: ${o.env})` : ''}`] as const);
  const parts = [`usage: ${wrap(synopsisWords(command), 11)}`, wrap(spec.summary, 0), `options:\n${columns(rows)}`];
  if (command === 'run' || command === 'exec' || command === 'replay') parts.push(`exit codes:\n${exitCodes(command)}`);
  parts.push('environment variables: see rig --help');
  return parts.join('\n\n');
}

/** `rig --help`: the commands, the options every command takes, run's exit codes and the environment. */
export function mainHelp(): string {
  const common = optionsOf('help').map((o) => [flagsOf(o), o.help] as const);
  return [
    `ktest-rig ${rigVersion()}: integration tests for Linux kernel modules on real Debian kernels in QEMU`,
    'usage: rig [COMMAND] [OPTIONS]    (from a checkout: npm run -s rig -- [COMMAND] [OPTIONS])',
    `commands:\n${columns(COMMANDS.map((c) => [c.name, c.summary] as const))}`,
    `rig COMMAND --help shows the options of COMMAND. Every command takes:\n${columns(common)}`,
    `exit codes of run (rig exec --help for exec's):\n${exitCodes('run')}`,
    `environment variables:\n${columns(envRows('rig'))}`,
  ].join('\n\n');
}

/** The help for `topic`, or the main help. */
export function helpText(topic?: CommandName): string {
  return topic === undefined || topic === 'help' ? mainHelp() : commandHelp(topic);
}

// Every environment variable the rig or its tests read, in one table: help and README list it, readers go through it.
import { UsageError } from './errors.ts';

export interface EnvVarSpec {
  readonly name: string;
  /** What it does, one line (printed by `rig --help`). */
  readonly meaning: string;
  /** The allowed values of an enumerated variable; anything else is a UsageError. */
  readonly values?: readonly string[];
  /** What happens when it is unset. */
  readonly default?: string;
  /** 'rig': read by the rig itself; 'tests': only by the project's own tests; 'ci': only by .github/scripts. */
  readonly scope: 'rig' | 'tests' | 'ci';
}

export const ENV_VARS = [
  { name: 'KTEST_RIG_CACHE', scope: 'rig', meaning: 'cache directory: kernels, build roots, busybox, KVM probe verdicts', default: '$XDG_CACHE_HOME/ktest-rig, else ~/.cache/ktest-rig' },
  { name: 'XDG_CACHE_HOME', scope: 'rig', meaning: 'parent of the cache directory when KTEST_RIG_CACHE is unset (absolute paths only)', default: '~/.cache' },
  { name: 'KTEST_RIG_SNAPSHOT_DIR', scope: 'rig', meaning: 'where ready-guest snapshots are kept (another disk, or a private dir)', default: '$KTEST_RIG_CACHE/snapshots' },
  { name: 'KTEST_RIG_SNAPSHOT_CACHE_MB', scope: 'rig', meaning: 'size bound of the snapshot cache in MB: least recently used snapshots are evicted beyond it', default: '1024' },
  { name: 'KTEST_RIG_ACCEL', scope: 'rig', meaning: 'force the accelerator instead of probing KVM', values: ['kvm', 'tcg'], default: 'KVM when a probe boot proves it works, else TCG' },
  { name: 'KTEST_RIG_NO_INSTALL', scope: 'rig', meaning: 'any value but "" or "0": never install missing host packages, only name them (exit 3)', default: 'install with apt-get when root or passwordless sudo' },
  { name: 'KTEST_RIG_DEBIAN_MIRROR', scope: 'rig', meaning: 'Debian archive mirror for kernels and build roots', default: 'http://deb.debian.org/debian' },
  { name: 'KTEST_RIG_DEBIAN_SECURITY_MIRROR', scope: 'rig', meaning: 'Debian security mirror (the -security pockets)', default: 'http://deb.debian.org/debian-security' },
  { name: 'KTEST_RIG_BOOTSTRAP', scope: 'rig', meaning: 'tool that makes the trixie/sid build roots', values: ['mmdebstrap', 'debootstrap'], default: 'mmdebstrap when installed, else debootstrap' },
  { name: 'CI', scope: 'rig', meaning: 'set and not "false": progress as plain lines on stderr instead of one updating line', default: 'an updating line when stderr is a terminal' },
  { name: 'UPDATE_GOLDEN', scope: 'tests', meaning: '"1": the golden tests rewrite the expected reports in test/fixtures/logs/ (refused when CI is set)' },
  { name: 'KTEST_RIG_MATRIX_IMAGES', scope: 'tests', meaning: 'comma-separated image ids the matrix integration test runs on', default: 'every image in images/' },
  { name: 'KTEST_RIG_DEV_HEADERS', scope: 'tests', meaning: 'kernel headers directory for the symbolizer test', default: 'the default image\'s headers' },
  { name: 'KTEST_FUZZ_SECONDS', scope: 'tests', meaning: 'how long the libFuzzer test runs', default: '15' },
  { name: 'KTEST_FUZZ_ARTIFACTS', scope: 'tests', meaning: 'where the libFuzzer test keeps the inputs of crashes it finds', default: '.tap/fuzz-artifacts' },
  { name: 'KTEST_KDIR', scope: 'tests', meaning: 'kernel headers directory for the native module-build test', default: 'the default image\'s headers' },
  { name: 'KTEST_RIG_TEST_GDB_DBG', scope: 'tests', meaning: '"1": the gdb test fetches Debian\'s -dbg package (855 MB) and runs its --gdb-dbg case', default: 'that case runs only where the package was fetched before' },
  { name: 'TMPDIR', scope: 'tests', meaning: 'where the rig puts its temporary files (work dirs, sockets, default logs); tests point it at a directory of their own to find what one run left', default: '/tmp' },
  { name: 'KTEST_KCC', scope: 'tests', meaning: 'compiler for the native module-build test (with KTEST_KDIR)', default: 'gcc-12' },
  { name: 'GITHUB_STEP_SUMMARY', scope: 'ci', meaning: 'file the GitHub job summary (kernel-by-scenario table) is appended to; set by GitHub Actions' },
] as const satisfies readonly EnvVarSpec[];

export type EnvVarName = (typeof ENV_VARS)[number]['name'];
type Enumerated = Extract<(typeof ENV_VARS)[number], { values: readonly string[] }>;
export type EnumEnvVarName = Enumerated['name'];
type EnumValues = { [V in Enumerated as V['name']]: V['values'][number] };
export type EnvValue<N extends EnumEnvVarName> = EnumValues[N];

const PREFIX = 'KTEST_RIG_';

function spec(name: EnvVarName): EnvVarSpec {
  return ENV_VARS.find((v) => v.name === name)!;
}

/** The value of an enumerated variable, or undefined when unset or empty; a value not in its list is a UsageError. */
export function envChoice<N extends EnumEnvVarName>(name: N, env: NodeJS.ProcessEnv = process.env): EnvValue<N> | undefined {
  const value = env[name];
  if (value === undefined || value === '') return undefined;
  const allowed = spec(name).values ?? [];
  if (!allowed.includes(value)) throw new UsageError(`${name}=${value} is not one of: ${allowed.join(', ')}`, { hint: `set ${name} to ${allowed.join(' or ')}, or unset it` });
  return value as EnvValue<N>;
}

/** A flag variable: set to anything but "" or "0". */
export function envFlag(name: EnvVarName, env: NodeJS.ProcessEnv = process.env): boolean {
  const value = env[name];
  return value !== undefined && value !== '' && value !== '0';
}

/** A free-form variable, undefined when unset or empty. */
export function envString(name: EnvVarName, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

/**
 * Checks the whole environment once, before any work: every enumerated variable holds an allowed
 * value, and no KTEST_RIG_* variable is unknown (a misspelt name would otherwise be ignored silently).
 */
export function checkEnv(env: NodeJS.ProcessEnv = process.env): void {
  for (const v of ENV_VARS) if ('values' in v) envChoice(v.name, env);
  const known = new Set<string>(ENV_VARS.map((v) => v.name));
  const unknown = Object.keys(env).filter((k) => k.startsWith(PREFIX) && !known.has(k));
  if (unknown.length > 0) {
    const names = ENV_VARS.filter((v) => v.name.startsWith(PREFIX)).map((v) => v.name);
    throw new UsageError(`unknown environment variable ${unknown.join(', ')}; the rig reads ${names.join(', ')}`, { hint: 'unset it, or fix its name' });
  }
}

/** Name and description of each variable of `scope`, for `rig --help` (the tests' own are in README). */
export function envRows(scope: EnvVarSpec['scope'] = 'rig'): readonly (readonly [string, string])[] {
  const rows: readonly EnvVarSpec[] = ENV_VARS.filter((v) => v.scope === scope);
  return rows.map((v) => [v.name, `${v.meaning}${v.values ? ` (${v.values.join(' | ')})` : ''}${v.default ? `; unset: ${v.default}` : ''}`] as const);
}

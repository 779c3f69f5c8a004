// Typed errors of the rig: each carries its exit code, a one-line hint saying what to do, and its cause.

/** Process exit codes of `npm run rig` (documented in README). */
export const ExitCode = {
  ok: 0,
  scenarioFailed: 1,
  usage: 2,
  infra: 3,
  build: 4,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * `exec`: codes besides CMD's own status (128 + N when CMD died of signal N). Made for `git bisect run`:
 * 125 (untestable) skips a commit, other codes from 1 to 127 mark it bad.
 */
export const ExecExitCode = {
  /** The kernel refused the module (insmod failed): the module's fault, the kernel is fine. */
  moduleRefused: 119,
  /** The kernel crashed, hung or printed a report (bisect: bad). */
  kernelFailed: 120,
  timedOut: 124,
  /** Nothing was tested: the module did not build, or the infrastructure failed (bisect: skip). */
  untestable: 125,
} as const;

/** `rig replay`: the bundle's failure came back (same kind and title), or it did not; errors as for run. */
export const ReplayExitCode = { reproduced: 0, notReproduced: 1 } as const;

/** Exit codes after a signal: guests are killed and temporary files removed first. */
export const SignalExitCode = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 } as const;

/** What each code means: a code added above without its meaning here does not compile. */
const MEANING: { readonly [K in keyof typeof ExitCode]: string } = {
  ok: 'every scenario passed',
  scenarioFailed: 'a scenario failed (assertion, kernel report, hang, panic, kernel messages lost)',
  usage: 'usage or configuration error: bad option or environment variable, unknown kernel, malformed scenario file or image, --kmod without Kbuild or Makefile',
  infra: 'infrastructure error: missing tool, download, QEMU failed or was killed from outside (the signal is named), corrupted cache that cannot be refetched',
  build: 'the module or the guest client did not build (the compiler\'s first error is shown)',
};
const REPLAY_MEANING: { readonly [K in keyof typeof ReplayExitCode]: string } = {
  reproduced: 'the failure came back: same kind and title as in the bundle',
  notReproduced: 'it did not: the scenario passed, or failed another way (both are printed)',
};
const EXEC_MEANING: { readonly [K in keyof typeof ExecExitCode]: string } = {
  moduleRefused: 'the kernel refused to load the module (insmod failed; its message is shown); CMD did not run',
  kernelFailed: 'the kernel crashed, hung, panicked, printed a report or lost messages (git bisect: bad)',
  timedOut: 'CMD timed out (--timeout); its process group was killed',
  untestable: 'untestable: the module did not build, or the infrastructure failed (tools, download, QEMU failed or killed from outside) (git bisect: skip)',
};

export interface ExitCodeRow {
  /** A number, or a description such as "CMD's status". */
  readonly code: string;
  readonly meaning: string;
}

/** The exit code table of one command, for help and README. */
export function exitCodeTable(command: 'run' | 'exec' | 'replay'): readonly ExitCodeRow[] {
  const row = (code: number | string, meaning: string): ExitCodeRow => ({ code: String(code), meaning });
  const signals = row(Object.values(SignalExitCode).join(', '), `interrupted (${Object.keys(SignalExitCode).join(', ')}): guests are killed and temporary files removed first`);
  const failures = [row(ExitCode.usage, 'usage: not a failure bundle (no bundle.json, another format), or its scenario is gone'), ...(['infra', 'build'] as const).map((k) => row(ExitCode[k], MEANING[k]))];
  if (command === 'replay') {
    const shell = row('--shell', `the shell's status, as for rig shell; ${ExecExitCode.kernelFailed} when the kernel reported something during the session or the re-run left no guest to open a shell in`);
    return [...(Object.keys(ReplayExitCode) as (keyof typeof ReplayExitCode)[]).map((k) => row(ReplayExitCode[k], REPLAY_MEANING[k])), ...failures, signals, shell];
  }
  if (command === 'run') return [...(Object.keys(ExitCode) as (keyof typeof ExitCode)[]).map((k) => row(ExitCode[k], MEANING[k])), signals];
  return [
    row('CMD\'s', 'the status CMD exited with, when the kernel stayed healthy'),
    row('128+N', 'CMD died of signal N (named on stderr: 137 SIGKILL, 143 SIGTERM)'),
    ...(Object.keys(ExecExitCode) as (keyof typeof ExecExitCode)[]).map((k) => row(ExecExitCode[k], EXEC_MEANING[k])),
    row(ExitCode.usage, MEANING.usage),
    row(`${SignalExitCode.SIGINT}, ${SignalExitCode.SIGTERM}`, 'the rig itself was interrupted: guests are killed and temporary files removed first'),
  ];
}

/** Exit code of `exec` for an error before or around CMD: usage stays 2; anything else means nothing was tested (125). */
export function execExitCodeOf(error: unknown): number {
  return error instanceof RigError && error.exitCode === ExitCode.usage ? ExitCode.usage : ExecExitCode.untestable;
}

export interface RigErrorOptions {
  readonly cause?: unknown;
  /** What the user should do, one line ("run: " and the install command that the host-tools table gives, say). */
  readonly hint?: string;
}

export class RigError extends Error {
  override name = 'RigError';
  readonly exitCode: ExitCodeValue = ExitCode.infra;
  readonly hint: string | undefined;
  constructor(message: string, options: RigErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.hint = options.hint;
  }
}

/** Bad command line, unknown kernel, malformed scenario or image definition. Exit 2. */
export class UsageError extends RigError {
  override name = 'UsageError';
  override readonly exitCode = ExitCode.usage;
}

/** A scenario file that does not parse: where (FILE:LINE:COLUMN, as editors and terminals link it) and why. Exit 2. */
export class ScenarioSyntaxError extends UsageError {
  override name = 'ScenarioSyntaxError';
  constructor(
    readonly file: string,
    readonly line: number,
    readonly column: number,
    readonly reason: string,
    options: RigErrorOptions = {},
  ) {
    super(`${file}:${line}:${column}: ${reason}`, { hint: 'fix the scenario file at that position (it is TypeScript, transformed by esbuild through tsx)', ...options });
  }
}

/** The host's fault: missing tool, download failure, QEMU failure, corrupted cache. Exit 3. */
export class InfraError extends RigError {
  override name = 'InfraError';
  override readonly exitCode = ExitCode.infra;
}

export class MissingToolError extends InfraError {
  override name = 'MissingToolError';
  constructor(
    readonly tools: readonly string[],
    readonly installCommand: string,
    options: RigErrorOptions = {},
  ) {
    super(`missing host tools: ${tools.join(', ')}`, { hint: `run: ${installCommand}`, ...options });
  }
}

export class DownloadError extends InfraError {
  override name = 'DownloadError';
}

/** A cached file failed verification and could not be refetched. */
export class CacheError extends InfraError {
  override name = 'CacheError';
}

/** A pinned package version has left the Debian archive. */
export class PinGoneError extends InfraError {
  override name = 'PinGoneError';
}

/** A kernel of a 'built' image did not configure or build (exit 3; `exec`: untestable); its log is kept. */
export class KernelBuildError extends InfraError {
  override name = 'KernelBuildError';
}

export class QemuError extends InfraError {
  override name = 'QemuError';
}

/**
 * The rig broke one of its own rules (exec on a guest it closed, a malformed nonce it made, a snapshot
 * while commands run): a bug of the rig, not of the user's command line or scenarios. Exit 3.
 */
export class InternalError extends InfraError {
  override name = 'InternalError';
}

/** The module or the guest client did not compile. Exit 4. */
export class BuildError extends RigError {
  override name = 'BuildError';
  override readonly exitCode = ExitCode.build;
  constructor(
    message: string,
    /** First compiler error line, shown to the user. */
    readonly firstError: string | undefined,
    /** Full compiler output. */
    readonly log: string,
    options: RigErrorOptions = {},
  ) {
    super(firstError ? `${message}: ${firstError}` : message, options);
  }
}

/**
 * The guest kernel's fault (panic, hang, crash during boot): not the host's. Scenario code sees it;
 * the engine turns it into a failed scenario, never into an infrastructure exit.
 */
export class GuestError extends RigError {
  override name = 'GuestError';
  override readonly exitCode = ExitCode.scenarioFailed;
  constructor(
    message: string,
    readonly kind: 'panic' | 'hang' | 'exited' | 'boot',
    /** Last part of the kernel console, for the report. */
    readonly consoleTail: string,
    options: RigErrorOptions = {},
  ) {
    super(message, options);
  }
}

/** A scenario's assertion did not hold. */
export class AssertionFailed extends Error {
  override name = 'AssertionFailed';
  constructor(
    message: string,
    readonly details?: {
      readonly expected?: unknown;
      readonly actual?: unknown;
      /** The scenario's own source position of the failed assertion ("file:line:column"). */
      readonly at?: string;
    },
  ) {
    super(message);
  }
}

/** One line for the terminal: "error: <message> (<hint>)". */
export function formatError(error: unknown): string {
  if (error instanceof RigError) {
    return `error: ${error.message}${error.hint ? `\n  hint: ${error.hint}` : ''}`;
  }
  if (error instanceof Error) return `error: ${error.message}`;
  return `error: ${String(error)}`;
}

export function exitCodeOf(error: unknown): ExitCodeValue {
  return error instanceof RigError ? error.exitCode : ExitCode.infra;
}

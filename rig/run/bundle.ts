// Failure bundles: everything needed to replay one failed scenario elsewhere (manifest, sources, logs, snapshot).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { UsageError } from '../core/errors.ts';
import { projectRoot } from '../core/paths.ts';
import { rigVersion } from '../core/version.ts';
import type { ImageSpec } from '../kernels/spec.ts';
import type { ScenarioFailure } from '../report/results.ts';
import { hashTree } from '../core/tree-hash.ts';

/** Version of the manifest format; a reader refuses others. */
export const BUNDLE_FORMAT = 1;
export const MANIFEST = 'bundle.json';

/** bundle.json. Paths inside are relative to the bundle directory. */
export interface BundleManifest {
  readonly format: typeof BUNDLE_FORMAT;
  readonly createdAt: string;
  /** package.json version, and the git commit of the rig when it runs from a checkout. */
  readonly rig: { readonly version: string; readonly commit?: string };
  readonly image: { readonly id: string; readonly release: string; readonly arch: string; readonly packages: ImageSpec['packages'] };
  readonly scenario: {
    readonly name: string;
    /** The scenario file as given (absolute); absent for the rig's built-in scenarios. */
    readonly file?: string;
    /** Its copy in the bundle. */
    readonly copy?: string;
    readonly params?: Readonly<Record<string, string | number | boolean>>;
  };
  /** The module's sources exactly as built (a copy, symlinks followed) and their hash. */
  readonly module: { readonly name: string; readonly sources: string; readonly sha256: string };
  /** Every option that shaped the run. */
  readonly options: {
    readonly debug: boolean;
    readonly snapshot: boolean;
    readonly accel: string;
    /** Guest vCPUs and memory when the run set them (--cpus, --memory): a snapshot restores only with the same. */
    readonly cpus?: number;
    readonly memoryMb?: number;
    /** From the project file: extra make arguments and default module parameters. */
    readonly makeArgs?: readonly string[];
    readonly moduleParams?: Readonly<Record<string, string | number | boolean>>;
    /** --fault-inject: the fault point failed on purpose (client call, 0-based, and its Nth point). */
    readonly faultInject?: { readonly call: number; readonly nth: number };
  };
  /** The scenario's report entry. */
  readonly failure: ScenarioFailure;
  readonly console: string;
  readonly dmesg?: string;
  /** The guest at the moment the failure was seen (it was still alive), and the initramfs it booted from. */
  readonly guest?: { readonly snapshot: string; readonly initrd: string };
}

/** What the engine hands over for one failed scenario. */
export interface BundleInput {
  readonly image: ImageSpec;
  readonly scenario: { readonly name: string; readonly file?: string; readonly params?: Readonly<Record<string, string | number | boolean>> };
  readonly module: { readonly name: string; readonly sourceDir: string };
  readonly options: BundleManifest['options'];
  readonly failure: ScenarioFailure;
  readonly console: string;
  readonly dmesg: string;
}

/** Where a run's bundles go: --logs DIR/bundles, else beside the --json/--junit report, else a temp dir. Pure. */
export function bundlesRoot(o: { readonly logs?: string; readonly json?: string; readonly junit?: string }, now = new Date()): string {
  if (o.logs) return join(resolve(o.logs), 'bundles');
  const report = o.json ?? o.junit;
  if (report) return join(dirname(resolve(report)), 'ktest-rig-bundles');
  return join(tmpdir(), 'ktest-rig-bundles', `run-${now.toISOString().replace(/[:.]/g, '-')}-${process.pid}`);
}

/** Directory name of one bundle: image and scenario, safe for any file system. Pure. */
export function bundleName(image: string, scenario: string): string {
  return `${image}--${scenario.replace(/[^\w.+-]+/g, '_')}`;
}

/** sha256 over every file of a tree (relative path, then contents), in a stable order. */
export async function treeHash(dir: string): Promise<string> {
  return (await hashTree(createHash('sha256'), dir)).digest('hex');
}

/** The rig's version (package.json), and HEAD when it runs from a git checkout. */
export function rigVersionOf(root = projectRoot): BundleManifest['rig'] {
  const version = rigVersion();
  try {
    const commit = execFileSync('git', ['-C', root, 'rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return /^[0-9a-f]{40}$/.test(commit) ? { version, commit } : { version };
  } catch {
    // an installed package, or no git: the version alone
    return { version };
  }
}

/**
 * Writes a bundle directory (replacing one of the same name). `saveGuest`, when given, writes the guest's
 * snapshot to the path it gets; if it fails the bundle is written without one.
 */
export async function writeBundle(root: string, input: BundleInput, extras: { readonly initrd?: string; readonly saveGuest?: (file: string) => Promise<void> } = {}): Promise<string> {
  const dir = join(root, bundleName(input.image.id, input.scenario.name));
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await cp(input.module.sourceDir, join(dir, 'module'), { recursive: true, dereference: true });
  let copy: string | undefined;
  if (input.scenario.file) {
    copy = `scenario-${basename(input.scenario.file)}`;
    await copyFile(input.scenario.file, join(dir, copy));
  }
  await writeFile(join(dir, 'console.log'), input.console);
  if (input.dmesg) await writeFile(join(dir, 'dmesg.log'), input.dmesg);
  let guest: BundleManifest['guest'];
  if (extras.saveGuest && extras.initrd) {
    try {
      await extras.saveGuest(join(dir, 'failure.snapshot'));
      await copyFile(extras.initrd, join(dir, 'initramfs.cpio'));
      guest = { snapshot: 'failure.snapshot', initrd: 'initramfs.cpio' };
    } catch {
      // The guest died or could not be saved: the bundle replays by re-running instead.
      await rm(join(dir, 'failure.snapshot'), { force: true });
    }
  }
  const manifest: BundleManifest = {
    format: BUNDLE_FORMAT,
    createdAt: new Date().toISOString(),
    rig: rigVersionOf(),
    image: { id: input.image.id, release: input.image.release, arch: input.image.arch, packages: input.image.packages },
    scenario: { name: input.scenario.name, ...(input.scenario.file ? { file: resolve(input.scenario.file), copy } : {}), ...(input.scenario.params ? { params: input.scenario.params } : {}) },
    module: { name: input.module.name, sources: 'module', sha256: await treeHash(join(dir, 'module')) },
    options: input.options,
    failure: input.failure,
    console: 'console.log',
    ...(input.dmesg ? { dmesg: 'dmesg.log' } : {}),
    ...(guest ? { guest } : {}),
  };
  await writeFile(join(dir, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
  return dir;
}

/** Reads and checks a bundle; a directory that is not one is a UsageError naming what is wrong. */
export async function readBundle(dir: string): Promise<BundleManifest> {
  const file = join(dir, MANIFEST);
  if (!existsSync(file)) throw new UsageError(`${dir} is not a failure bundle (no ${MANIFEST})`, { hint: 'pass the directory a failed run printed after "bundle:"' });
  let m: BundleManifest;
  try {
    m = JSON.parse(await readFile(file, 'utf8')) as BundleManifest;
  } catch (cause) {
    throw new UsageError(`${file} is not valid JSON`, { cause });
  }
  if (m.format !== BUNDLE_FORMAT) throw new UsageError(`${file}: bundle format ${String(m.format)}, this rig reads ${BUNDLE_FORMAT}`, { hint: 'replay it with the rig version named in the bundle' });
  if (!m.image?.id || !m.scenario?.name || !m.module?.sources || !m.failure?.kind) throw new UsageError(`${file} lacks image, scenario, module or failure`);
  if (!existsSync(join(dir, m.module.sources))) throw new UsageError(`${dir}: the module sources (${m.module.sources}) are missing`);
  return m;
}

/** The first kernel report's title, else the failure message: what "the same failure" compares. Pure. */
export function failureTitle(f: ScenarioFailure): string {
  return f.reports?.[0]?.title ?? f.message;
}

/** Same kind and same title. Pure. */
export function sameFailure(expected: ScenarioFailure, got: ScenarioFailure | undefined): boolean {
  return !!got && got.kind === expected.kind && failureTitle(got) === failureTitle(expected);
}

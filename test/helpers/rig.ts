// Shared helpers for integration tests: the default image's kernel through the rig's own cache, and the CLI as a user runs it.
import { execa } from 'execa';
import { join } from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { prepareKernel } from '../../rig/fetch.ts';
import { resolveImages, DEFAULT_IMAGE_ID } from '../../rig/images.ts';
import { projectRoot } from '../../rig/paths.ts';
import type { PreparedKernel } from '../../rig/types.ts';

let prepared: Promise<PreparedKernel> | undefined;

/** The default image (bookworm 6.1), fetched into the rig's cache once per process. */
export function defaultKernel(): Promise<PreparedKernel> {
  prepared ??= prepareKernel(resolveImages(DEFAULT_IMAGE_ID)[0]!);
  return prepared;
}

export interface CliRun {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  /** QEMU processes of this run still alive after the CLI exited (must be 0). */
  readonly qemuLeft: number;
}

/**
 * `npm run rig -- ...args` as a user runs it (node + tsx + rig/cli.ts, without npm's banner). The run
 * gets a TMPDIR of its own, so its QEMU processes (their argv names files in it) can be counted after.
 */
export async function rig(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  const tmp = await mkdtemp(join(tmpdir(), 'ktest-rig-cli-'));
  try {
    const r = await execa(process.execPath, ['--import', 'tsx', join(projectRoot, 'rig/cli.ts'), ...args], {
      cwd: projectRoot,
      reject: false,
      env: { ...env, TMPDIR: tmp },
      extendEnv: !('PATH' in env),
      stdin: 'ignore',
      timeout: 20 * 60_000,
    });
    const left = await execa('pgrep', ['-f', `qemu-system-.*${tmp}`], { reject: false });
    return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr, qemuLeft: left.stdout.split('\n').filter(Boolean).length };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

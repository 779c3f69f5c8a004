// Shared helpers for integration tests: the default image's kernel through the rig's own cache, and the CLI as a user runs it.
import { execa } from 'execa';
import { join } from 'node:path';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { buildInitramfs } from '../../rig/build/initramfs.ts';
import { buildGuestPrograms } from '../../rig/build/module.ts';
import { busyboxFor } from '../../rig/build/busybox.ts';
import { tmpdir } from 'node:os';
import { prepareKernel } from '../../rig/kernels/fetch.ts';
import { resolveImages, DEFAULT_IMAGE_ID } from '../../rig/kernels/images.ts';
import { projectRoot } from '../../rig/core/paths.ts';
import type { PreparedKernel } from '../../rig/kernels/spec.ts';
import type { GuestOptions } from '../../rig/vm/guest.ts';

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
 * `npm run rig -- ...args` as a user runs it (node + tsx + rig/cli/main.ts, without npm's banner). The run
 * gets a TMPDIR of its own, so its QEMU processes (their argv names files in it) can be counted after.
 */
export async function rig(args: readonly string[], env: NodeJS.ProcessEnv = {}, input?: string | Buffer): Promise<CliRun> {
  const tmp = await mkdtemp(join(tmpdir(), 'ktest-rig-cli-'));
  try {
    const r = await execa(process.execPath, ['--import', 'tsx', join(projectRoot, 'rig/cli/main.ts'), ...args], {
      cwd: projectRoot,
      reject: false,
      env: { ...env, TMPDIR: tmp },
      extendEnv: !('PATH' in env),
      ...(input === undefined ? { stdin: 'ignore' as const } : { input }),
      timeout: 20 * 60_000,
    });
    const left = await execa('pgrep', ['-f', `qemu-system-.*${tmp}`], { reject: false });
    return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr, qemuLeft: left.stdout.split('\n').filter(Boolean).length };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** The product's initramfs (rig/build/initramfs.ts) with the product's busybox and agent build, for x86_64 guests. */
/**
 * The product initramfs for the default image: agent, busybox, and the image's guest modules (virtio
 * console and its bus, so that the agent finds its results channel).
 */
export async function buildTestInitrd(dir: string, kernel?: PreparedKernel): Promise<string> {
  const k = kernel ?? (await defaultKernel());
  const mods = k.image.qemu.guestModules ?? [];
  const { agent } = await buildGuestPrograms({ arch: 'x86_64', outDir: join(dir, 'bin') });
  const initrd = join(dir, 'initrd.cpio');
  const files = mods.map((m) => ({ path: `/lib/modules/${k.image.release}/${m}`, source: join(k.modulesDir!, m) }));
  await writeFile(initrd, await buildInitramfs({ busybox: await busyboxFor('x86_64'), agent, guestModules: mods, files }));
  return initrd;
}

/** True when the process is gone (or a zombie waiting to be reaped). */
export function gone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return true;
  }
}

/**
 * A temp dir with the product initramfs, GuestOptions for the default kernel, and a list of QEMU pids
 * that the test's teardown kills if they are still alive.
 */
export async function guestFixture(t: { teardown(fn: () => unknown): void }, prefix: string) {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const kernel = await defaultKernel();
  const initrdPath = await buildTestInitrd(dir, kernel);
  const opts: GuestOptions = { kernelPath: kernel.kernelPath, initrdPath, qemu: kernel.image.qemu, accel: 'tcg', workDir: dir };
  const pids: number[] = [];
  t.teardown(() => {
    for (const pid of pids) if (!gone(pid)) process.kill(pid, 'SIGKILL');
  });
  return { dir, opts, pids };
}

/** A temporary directory removed when the test ends. */
export async function tempDir(t: { teardown(fn: () => unknown): void }, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

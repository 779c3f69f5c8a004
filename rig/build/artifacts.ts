// Everything a guest needs for one image: the kernel, the built module(s), the guest programs, the initramfs.
import { readFile, readdir, writeFile, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, basename } from 'node:path';
import { prepareKernel } from '../kernels/fetch.ts';
import { buildModule, buildGuestPrograms } from './module.ts';
import { busyboxFor } from './busybox.ts';
import { buildInitramfs } from './initramfs.ts';
import { guestProgramFiles } from './programs.ts';
import type { ProgramSpec } from '../project/load.ts';
import { stripForGuest } from './strip.ts';
import { requireGcov } from './coverage.ts';
import type { GuestFile } from '../vm/files.ts';
import { GUEST_RECV } from '../vm/files.ts';
import { parseUapiConstants } from '../scenario/api.ts';
import { DEFAULT_KMOD_DIR } from '../core/paths.ts';
import { GUEST_MODULE_DIR } from '../scenario/backends/guest.ts';
import { UsageError } from '../core/errors.ts';
import type { EventSink } from '../core/events.ts';
import type { BuiltModule } from './module.ts';
import type { ImageSpec, PreparedKernel } from '../kernels/spec.ts';

export interface Artifacts {
  readonly kernel: PreparedKernel;
  readonly modules: readonly BuiltModule[];
  /** The module scenarios load (the only one, or the one named like the source dir / "ktest"). */
  readonly module: BuiltModule;
  /** The guest's initramfs: kernel-side modules, agent, tools. Never the module under test (see guestFiles). */
  readonly initrdPath: string;
  /** What every fresh guest receives over the files channel before its scenario: the stripped modules. */
  readonly guestFiles: readonly GuestFile[];
  /** #define constants of the module's uapi header (kmod/ktest_uapi.h or <kmod>/*_uapi.h). */
  readonly uapi: Readonly<Record<string, number>>;
}

export interface ArtifactOptions {
  readonly image: ImageSpec;
  readonly kmodDir: string;
  readonly workDir: string;
  readonly cacheDir?: string;
  /** Extra make arguments for the module (project file). */
  readonly makeArgs?: readonly string[];
  /** --coverage: refuse a kernel without gcov support (exit 2), and build the module with gcov profiling. */
  readonly coverage?: boolean;
  /** The project's guest programs, on PATH in the guest. */
  readonly programs?: readonly ProgramSpec[];
  readonly onEvent: EventSink;
}

export { DEFAULT_KMOD_DIR };

export async function prepareArtifacts(o: ArtifactOptions): Promise<Artifacts> {
  if (!existsSync(o.kmodDir)) throw new UsageError(`module directory ${o.kmodDir} does not exist`, { hint: 'pass --kmod DIR with a Kbuild or Makefile' });
  const kernel = await prepareKernel(o.image, { cacheDir: o.cacheDir, onEvent: o.onEvent });
  if (o.coverage) await requireGcov(kernel);
  const modules = await buildModule({ kernel, sourceDir: o.kmodDir, outDir: join(o.workDir, 'kmod'), makeArgs: o.makeArgs, coverage: o.coverage, onEvent: o.onEvent });
  const module = pickModule(modules, o.kmodDir);
  o.onEvent({ type: 'stage', image: o.image.id, stage: 'build', message: `building guest programs for ${o.image.arch}` });
  const programs = await buildGuestPrograms({ arch: o.image.arch, outDir: join(o.workDir, 'guest') });
  const userPrograms = await guestProgramFiles(o.programs ?? [], { arch: o.image.arch, outDir: join(o.workDir, 'programs'), cacheDir: o.cacheDir });
  o.onEvent({ type: 'stage', image: o.image.id, stage: 'initramfs', message: 'packing the initramfs' });
  const busybox = await busyboxFor(o.image.arch, { cacheDir: o.cacheDir, onEvent: o.onEvent });
  // Kernel modules the image needs before the agent (arm64: virtio_console) keep their path under
  // /lib/modules/<release>/; the init loads them in the order the image lists them.
  const guestModules = o.image.qemu.guestModules ?? [];
  const cpio = await buildInitramfs({
    busybox,
    agent: programs.agent,
    guestModules,
    files: [
      { path: '/bin/nlclient', source: programs.nlclient, mode: 0o755 },
      ...(programs.recv ? [{ path: GUEST_RECV, source: programs.recv, mode: 0o755 }] : []),
      ...guestModules.map((rel) => ({ path: `/lib/modules/${o.image.release}/${rel}`, source: kernelModule(kernel, rel) })),
    ],
  });
  await mkdir(o.workDir, { recursive: true });
  const initrdPath = join(o.workDir, 'initramfs.cpio');
  await writeFile(initrdPath, cpio);
  // The module and the project's programs stay out of the initramfs, hence out of snapshots: an edit
  // of either needs no new snapshot (they reach each fresh guest through rig/vm/files.ts).
  const stripped = await stripForGuest(modules, o.image.arch, join(o.workDir, 'guest-kmod'));
  const guestFiles: GuestFile[] = [
    ...userPrograms,
    ...(await Promise.all(modules.map(async (m) => ({ path: `${GUEST_MODULE_DIR}/${m.name}.ko`, source: await readFile(stripped.get(m.name)!) })))),
  ];
  return { kernel, modules, module, initrdPath, guestFiles, uapi: await readUapi(o.kmodDir) };
}

/** The module under test among the built .ko files: the only one, else ktest, else the one named like its directory. Pure. */
export function pickModule(modules: readonly BuiltModule[], kmodDir: string): BuiltModule {
  if (modules.length === 1) return modules[0]!;
  const dirName = basename(kmodDir);
  return modules.find((m) => m.name === 'ktest') ?? modules.find((m) => m.name === dirName) ?? modules[0]!;
}

function kernelModule(kernel: PreparedKernel, rel: string): string {
  const path = kernel.modulesDir && join(kernel.modulesDir, rel);
  if (!path || !existsSync(path)) throw new UsageError(`image ${kernel.image.id}: guest module ${rel} is not in the kernel package (${path ?? 'no modules dir'})`);
  return path;
}

/** Constants of the module's uapi header; the ktest defaults when the module has none. */
export async function readUapi(kmodDir: string): Promise<Record<string, number>> {
  for (const dir of [kmodDir, DEFAULT_KMOD_DIR]) {
    const header = (await readdir(dir).catch(() => [] as string[])).find((f) => f.endsWith('_uapi.h'));
    if (header) return parseUapiConstants(await readFile(join(dir, header), 'utf8'));
  }
  return {};
}

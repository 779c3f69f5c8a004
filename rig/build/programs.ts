// The project's guest programs as guest files: C sources built statically for the image's arch, other files copied.
import { relative } from 'node:path';
import { buildGuestProgram } from './module.ts';
import type { InitramfsFile } from './initramfs.ts';
import type { ProgramSpec } from '../project/load.ts';
import type { Arch } from '../platform/arch/index.ts';

/** Where guest programs land; on the guest's PATH (guest/init), before busybox's applets in /usr/bin. */
export const GUEST_PROGRAM_DIR = '/bin';

export interface ProgramBuildOptions {
  readonly arch: Arch;
  /** Directory for the built binaries. */
  readonly outDir: string;
  readonly cacheDir?: string;
}

/**
 * Every guest program as a file for the guest, built with nlclient's toolchain and cache (a compile error
 * is a BuildError: exit 4 with the first compiler error). The one place that decides how programs reach
 * the guest: today the caller puts the files into the initramfs.
 */
export async function guestProgramFiles(programs: readonly ProgramSpec[], o: ProgramBuildOptions): Promise<InitramfsFile[]> {
  const files: InitramfsFile[] = [];
  for (const p of programs) {
    const path = `${GUEST_PROGRAM_DIR}/${p.name}`;
    if (p.kind === 'file') {
      files.push({ path, source: p.path, mode: 0o755 });
      continue;
    }
    const rel = (abs: string) => relative(p.root, abs) || '.';
    const binary = await buildGuestProgram(p.name, { sources: p.sources.map(rel), includes: p.includes.map(rel), cflags: p.cflags }, { arch: o.arch, outDir: o.outDir, cacheDir: o.cacheDir, sourceRoot: p.root });
    files.push({ path, source: binary, mode: 0o755 });
  }
  return files;
}

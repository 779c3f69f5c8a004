// What --gdb tells the user, and where its files go: light enough for the CLI's entry to import eagerly.
import { join } from 'node:path';
import type { GdbSetup } from './gdb.ts';

/** A fresh directory name for one command's gdb script and module copy, under the logs dir. */
export function gdbDir(logsDir: string, imageId: string): string {
  return join(logsDir, `gdb-${imageId}-${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}`);
}

/** The line that tells the user how to attach (the exact command), and what --gdb-wait holds. Pure. */
export function gdbReadyLine(setup: GdbSetup, wait: boolean, before: string): string {
  const kernel = setup.kernel.dwarf ? 'kernel with DWARF' : 'kernel symbols only';
  return wait
    ? `ktest-rig: gdb: the guest is stopped before ${before} (${kernel}); attach with: ${setup.command}  then set breakpoints and continue\n`
    : `ktest-rig: gdb: attach with: ${setup.command}  (${kernel})\n`;
}

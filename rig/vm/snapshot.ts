// Snapshots of a ready guest: save one with QMP migrate to a file, restore fresh guests from it.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Guest, type GuestOptions } from './guest.ts';

/** A saved ready guest that fresh guests are restored from. */
export interface Snapshot {
  readonly file: string;
  readonly options: GuestOptions;
  /** A fresh guest in the saved state, agent answering. */
  restore(): Promise<Guest>;
  /** Delete the snapshot file (idempotent). */
  remove(): Promise<void>;
}

/**
 * Boot a guest once, wait until its agent answers, save it to `<dir>/<name>.snapshot` and end it.
 * Restores use the same options, hence exactly the same device argv.
 */
export async function takeSnapshot(options: GuestOptions, dir: string, name = 'ready'): Promise<Snapshot> {
  const file = join(dir, `${name}.snapshot`);
  const guest = await Guest.boot(options);
  try {
    await guest.saveSnapshot(file);
  } finally {
    await guest.close();
  }
  return {
    file,
    options,
    restore: () => Guest.restore(options, file),
    remove: () => rm(file, { force: true }),
  };
}

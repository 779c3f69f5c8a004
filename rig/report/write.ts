// Atomic file writes for reports: a temp file in the same directory, then rename over the target.
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { InfraError } from '../core/errors.ts';

/** Writes `data` to `path` so that readers see the old file or the whole new one, never a part. */
export async function writeFileAtomic(path: string, data: string | Buffer): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await mkdir(dir, { recursive: true });
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true }).catch(() => {});
    throw new InfraError(`cannot write report ${path}`, { cause: error, hint: 'check that the directory is writable' });
  }
}

/** Writes a guest's whole console log (kept beside a kernel report of exec, shell or replay --shell) into dir; returns its path. */
export async function keepConsole(dir: string, imageId: string, text: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = join(dir, `exec-${imageId}-${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}.console.log`);
  await writeFile(file, text);
  return file;
}

// The one walk that hashes a directory tree: relative path, then contents, of every regular file in a
// stable order. The module build key and a failure bundle's source hash both use it.
import type { Hash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';

/** Feed every regular file under `dir` into `h` (symlinks and special files are not followed). */
export async function hashTree(h: Hash, dir: string): Promise<Hash> {
  const walk = async (d: string): Promise<void> => {
    for (const e of (await readdir(d, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) h.update(`${relative(dir, p)}\0`).update(await readFile(p)).update('\0');
    }
  };
  await walk(dir);
  return h;
}

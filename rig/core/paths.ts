// Where the rig keeps its cache: $KTEST_RIG_CACHE, else $XDG_CACHE_HOME/ktest-rig, else ~/.cache/ktest-rig.
import { homedir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.KTEST_RIG_CACHE) return resolve(env.KTEST_RIG_CACHE);
  const xdg = env.XDG_CACHE_HOME && env.XDG_CACHE_HOME.startsWith('/') ? env.XDG_CACHE_HOME : join(homedir(), '.cache');
  return join(xdg, 'ktest-rig');
}

/** Root of this checkout (the directory holding package.json). */
export const projectRoot: string = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

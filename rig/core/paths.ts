// Where the rig keeps its cache: $KTEST_RIG_CACHE, else $XDG_CACHE_HOME/ktest-rig, else ~/.cache/ktest-rig.
import { homedir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { envString } from './env.ts';

export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  const own = envString('KTEST_RIG_CACHE', env);
  if (own) return resolve(own);
  const xdg = envString('XDG_CACHE_HOME', env)?.startsWith('/') ? env.XDG_CACHE_HOME! : join(homedir(), '.cache');
  return join(xdg, 'ktest-rig');
}

/** Root of this checkout (the directory holding package.json). */
export const projectRoot: string = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Where a module's own sources appear in its debug info: the build dir is temporary (and a cached .ko
 * outlives it), so the compiler maps it to this fixed prefix and the symboliser maps it back to --kmod.
 */
export const MODULE_DEBUG_PREFIX = '/ktest-rig/kmod';

/** The ktest module of this checkout: what runs when no --kmod is given. */
export const DEFAULT_KMOD_DIR: string = join(projectRoot, 'kmod');

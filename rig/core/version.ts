// The rig's own version: package.json's, read once. Reports and bundles carry it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from './paths.ts';

let cached: string | undefined;

/** package.json "version" of this checkout (or installed package). */
export function rigVersion(): string {
  cached ??= (JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { version: string }).version;
  return cached;
}

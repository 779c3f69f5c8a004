// Loads a user's scenario file (a TypeScript module whose default export, or `scenarios`, is the list), validated.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { UsageError } from '../core/errors.ts';
import { validateScenarios, type Scenario } from './api.ts';

/** Scenarios of a user file: its default export (or `scenarios`), validated. */
export async function loadScenarioFile(file: string): Promise<Scenario[]> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(resolve(file)).href)) as Record<string, unknown>;
  } catch (error) {
    throw new UsageError(`cannot load scenarios from ${file}: ${error instanceof Error ? error.message.split('\n')[0] : error}`, { cause: error });
  }
  return validateScenarios(mod.default ?? mod.scenarios, file);
}

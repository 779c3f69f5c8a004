// Loads a user's scenario file (a TypeScript module whose default export, or `scenarios`, is the list), validated.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ScenarioSyntaxError, UsageError } from '../core/errors.ts';
import { validateScenarios, type Scenario } from './api.ts';

/**
 * The first located error of an esbuild transform failure, as tsx passes it on: the message is
 * "Transform failed with N error(s):" followed by one "FILE:LINE:COLUMN: ERROR: text" line per error
 * (the error object's own `errors` array does not survive tsx's loader thread, the message does).
 * esbuild counts columns from 0; the result counts them from 1, as compilers and editors do.
 */
export function transformErrorLocation(message: string): { file: string; line: number; column: number; reason: string } | undefined {
  const m = /^(.+?):(\d+):(\d+): (?:ERROR: )?(.+)$/m.exec(message.split('\n').slice(1).join('\n'));
  return m ? { file: m[1], line: Number(m[2]), column: Number(m[3]) + 1, reason: m[4] } : undefined;
}

/**
 * The first located error of a TypeScript diagnostic, as ts-node's loader passes it on when it is the
 * one that compiled the file (under node-tap's TypeScript plugin): "⨯ Unable to compile TypeScript:"
 * followed by "FILE(LINE,COLUMN): error TSnnnn: text" lines, both counted from 1.
 */
export function diagnosticLocation(message: string): { file: string; line: number; column: number; reason: string } | undefined {
  const m = /^(.+?)\((\d+),(\d+)\): error TS\d+: (.+)$/m.exec(message.split('\n').slice(1).join('\n'));
  return m ? { file: m[1], line: Number(m[2]), column: Number(m[3]), reason: m[4] } : undefined;
}

/** Where a loader's compile error points, whichever loader compiled the file (tsx/esbuild or ts-node). */
export function compileErrorLocation(message: string): ReturnType<typeof transformErrorLocation> {
  if (/^Transform failed/.test(message)) return transformErrorLocation(message);
  if (/Unable to compile TypeScript/.test(message.split('\n')[0] ?? '')) return diagnosticLocation(message);
  return undefined;
}

/** Scenarios of a user file: its default export (or `scenarios`), validated. */
export async function loadScenarioFile(file: string): Promise<Scenario[]> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(resolve(file)).href)) as Record<string, unknown>;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const at = compileErrorLocation(message);
    // The user's spelling of the path when the error is in that file itself (esbuild names it absolutely).
    if (at) throw new ScenarioSyntaxError(resolve(at.file) === resolve(file) ? file : at.file, at.line, at.column, at.reason, { cause: error });
    throw new UsageError(`cannot load scenarios from ${file}: ${message.split('\n')[0]}`, { cause: error });
  }
  return validateScenarios(mod.default ?? mod.scenarios, file);
}

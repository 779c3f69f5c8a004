// Finds and loads the project file (./ktest-rig.config.ts or --config FILE) into a Project with absolute paths.
import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { UsageError } from '../core/errors.ts';
import { programName, validateConfig, type AllowedReport, type ProjectConfig } from './config.ts';
import type { ModuleParams } from '../scenario/api.ts';

/** The name the rig looks for in the current directory. */
export const PROJECT_FILE = 'ktest-rig.config.ts';

/** A guest program ready to build or copy: absolute paths. */
export type ProgramSpec =
  | { readonly kind: 'c'; readonly name: string; readonly root: string; readonly sources: readonly string[]; readonly includes: readonly string[]; readonly cflags: readonly string[] }
  | { readonly kind: 'file'; readonly name: string; readonly path: string };

/** A project file after validation, paths resolved against its directory. */
export interface Project {
  readonly file: string;
  readonly dir: string;
  readonly moduleDir: string;
  readonly makeArgs: readonly string[];
  readonly moduleParams: ModuleParams;
  readonly scenarioFiles: readonly string[];
  readonly programs: readonly ProgramSpec[];
  /** Image ids (or ['all']); undefined: the default image. */
  readonly images?: readonly string[];
  readonly allowedReports: readonly AllowedReport[];
}

/** The project file to use: --config FILE, else ./ktest-rig.config.ts when present, else none. */
export function findProjectFile(configOption: string | undefined, cwd = process.cwd()): string | undefined {
  if (configOption !== undefined) {
    const file = resolve(cwd, configOption);
    if (!existsSync(file) || !statSync(file).isFile()) throw new UsageError(`--config ${configOption}: no such file`, { hint: `create it, or run where ${PROJECT_FILE} is` });
    return file;
  }
  const file = join(cwd, PROJECT_FILE);
  return existsSync(file) ? file : undefined;
}

/** Imports and validates a project file, then resolves its paths. */
export async function loadProject(file: string): Promise<Project> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (error) {
    throw new UsageError(`cannot load the project file ${file}: ${error instanceof Error ? error.message.split('\n')[0] : error}`, { cause: error });
  }
  return resolveProject(validateConfig(mod.default, file), file);
}

/** A validated config with every path made absolute (relative to the project file) and checked to exist. */
export function resolveProject(c: ProjectConfig, file: string): Project {
  const dir = dirname(file);
  const path = (field: string, p: string, kind: 'file' | 'dir'): string => {
    const abs = resolve(dir, p);
    const ok = existsSync(abs) && (kind === 'dir' ? statSync(abs).isDirectory() : statSync(abs).isFile());
    if (!ok) throw new UsageError(`${file}: ${field} '${p}' is not a ${kind === 'dir' ? 'directory' : 'file'} (${abs})`);
    return abs;
  };
  const moduleDir = path('module', c.module ?? '.', 'dir');
  const list = (v: string | readonly string[] | undefined): readonly string[] => (v === undefined ? [] : typeof v === 'string' ? [v] : v);
  const programs = (c.programs ?? []).map((p, i): ProgramSpec => {
    const field = `programs[${i}]`;
    const name = programName(p);
    if (typeof p === 'string') {
      const abs = path(field, p, 'file');
      return p.endsWith('.c') ? { kind: 'c', name, root: dir, sources: [abs], includes: [dirname(abs), moduleDir], cflags: [] } : { kind: 'file', name, path: abs };
    }
    if ('file' in p) return { kind: 'file', name, path: path(`${field}.file`, p.file, 'file') };
    return {
      kind: 'c',
      name,
      root: dir,
      sources: p.sources.map((s, j) => path(`${field}.sources[${j}]`, s, 'file')),
      includes: p.includes ? p.includes.map((d, j) => path(`${field}.includes[${j}]`, d, 'dir')) : [moduleDir],
      cflags: p.cflags ?? [],
    };
  });
  return {
    file,
    dir,
    moduleDir,
    makeArgs: c.makeArgs ?? [],
    moduleParams: c.moduleParams ?? {},
    scenarioFiles: list(c.scenarios).map((s, i) => path(typeof c.scenarios === 'string' ? 'scenarios' : `scenarios[${i}]`, s, 'file')),
    programs,
    ...(c.images !== undefined && { images: list(c.images) }),
    allowedReports: c.allowedReports ?? [],
  };
}

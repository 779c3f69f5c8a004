// The project file (ktest-rig.config.ts) as types, defineConfig, and its validator: errors name the bad field.
import { inspect } from 'node:util';
import { UsageError } from '../core/errors.ts';
import type { ModuleParams } from '../scenario/api.ts';
import type { AllowedReport } from '../detect/allowed.ts';

export type { AllowedReport } from '../detect/allowed.ts';

/** A static C program for the guest, built from several sources. */
export interface GuestProgramSources {
  /** Command name in the guest (on PATH). */
  readonly name: string;
  /** C sources, relative to the project file. */
  readonly sources: readonly string[];
  /** Include directories, relative to the project file (default: the module directory). */
  readonly includes?: readonly string[];
  /** Extra compiler flags (-DFOO, -Wall ...). */
  readonly cflags?: readonly string[];
}

/** A file copied into the guest as it is (a script, a data file), on PATH under `name`. */
export interface GuestProgramFile {
  readonly name: string;
  readonly file: string;
}

/**
 * A guest program: a path (`tests/mytest.c` is compiled statically and named `mytest`; any other file is
 * copied and keeps its name), or one of the object forms.
 */
export type GuestProgram = string | GuestProgramSources | GuestProgramFile;

/** ktest-rig.config.ts: what the rig tests in a module's repository. Paths are relative to this file. */
export interface ProjectConfig {
  /** Directory with the module's Kbuild or Makefile (default: the project file's directory). */
  readonly module?: string;
  /** Extra `make` arguments for the module build (`EXTRA_CFLAGS=-DDEBUG`, `CONFIG_MYDEV_FOO=y`). */
  readonly makeArgs?: readonly string[];
  /** Module parameters of every load; a scenario's own `params` override them one by one. */
  readonly moduleParams?: ModuleParams;
  /** Scenario files (TypeScript, default export: Scenario[]). */
  readonly scenarios?: string | readonly string[];
  /** Programs put on PATH in the guest, for scenarios to run with t.exec. */
  readonly programs?: readonly GuestProgram[];
  /** Images to test: ids (`bookworm-6.1`), or 'all' (default: the default image). */
  readonly images?: string | readonly string[];
  /** Known kernel reports that do not fail a scenario. */
  readonly allowedReports?: readonly AllowedReport[];
}

/** Identity, for types and completion in the project file: `export default defineConfig({ ... })`. */
export function defineConfig(config: ProjectConfig): ProjectConfig {
  return config;
}

const FIELDS = ['module', 'makeArgs', 'moduleParams', 'scenarios', 'programs', 'images', 'allowedReports'] as const;
/** Command names a guest program may not take: the guest's own machinery. */
export const RESERVED_PROGRAM_NAMES: readonly string[] = ['sh', 'busybox', 'init', 'ktest-agent', 'nlclient', 'insmod', 'rmmod', 'dmesg'];
const PROGRAM_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;
const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Checks a project file's default export; every error names the field, like `programs[1].sources`. */
export function validateConfig(value: unknown, file: string): ProjectConfig {
  const bad = (field: string, what: string, got: unknown): never => {
    throw new UsageError(`${file}: ${field} ${what} (got ${inspect(got, { breakLength: Infinity, depth: 2 })})`, {
      hint: 'see the project file reference in the README; the types come from defineConfig in ktest-rig',
    });
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) bad('the default export', 'must be an object: export default defineConfig({ ... })', value);
  const c = value as Record<string, unknown>;
  for (const key of Object.keys(c)) if (!(FIELDS as readonly string[]).includes(key)) bad(key, `is not a project file field (fields: ${FIELDS.join(', ')})`, c[key]);
  const text = (field: string, v: unknown): string => (typeof v === 'string' && v.trim() !== '' ? v : bad(field, 'must be a non-empty string', v));
  const texts = (field: string, v: unknown): readonly string[] => (Array.isArray(v) ? v.map((x, i) => text(`${field}[${i}]`, x)) : bad(field, 'must be an array of strings', v));
  const textOrTexts = (field: string, v: unknown): string | readonly string[] => (typeof v === 'string' ? text(field, v) : texts(field, v));
  const out: { -readonly [K in keyof ProjectConfig]: ProjectConfig[K] } = {};
  if (c.module !== undefined) out.module = text('module', c.module);
  if (c.makeArgs !== undefined) {
    out.makeArgs = texts('makeArgs', c.makeArgs);
    out.makeArgs.forEach((a, i) => (/^(-C|M=|modules$|-j)/.test(a) ? bad(`makeArgs[${i}]`, 'is set by the rig (-C, M=, -j, modules); give variables like EXTRA_CFLAGS=...', a) : undefined));
  }
  if (c.moduleParams !== undefined) out.moduleParams = moduleParams(c.moduleParams, bad);
  if (c.scenarios !== undefined) out.scenarios = textOrTexts('scenarios', c.scenarios);
  if (c.images !== undefined) out.images = textOrTexts('images', c.images);
  if (c.programs !== undefined) out.programs = programs(c.programs, bad, text, texts);
  if (c.allowedReports !== undefined) out.allowedReports = allowedReports(c.allowedReports, bad, text);
  return out;
}

type Bad = (field: string, what: string, got: unknown) => never;

function moduleParams(v: unknown, bad: Bad): ModuleParams {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return bad('moduleParams', 'must be an object of name: value', v);
  for (const [k, x] of Object.entries(v)) {
    if (!PARAM_NAME.test(k)) bad(`moduleParams.${k}`, 'is not a module parameter name', k);
    if (typeof x === 'string' ? /\s/.test(x) : typeof x !== 'number' && typeof x !== 'boolean') bad(`moduleParams.${k}`, 'must be a number, a boolean or a string without blanks', x);
  }
  return v as ModuleParams;
}

function programs(v: unknown, bad: Bad, text: (f: string, v: unknown) => string, texts: (f: string, v: unknown) => readonly string[]): readonly GuestProgram[] {
  if (!Array.isArray(v)) return bad('programs', 'must be an array', v);
  const names = new Set<string>();
  return v.map((p, i): GuestProgram => {
    const field = `programs[${i}]`;
    let program: GuestProgram;
    if (typeof p === 'string') program = text(field, p);
    else if (typeof p !== 'object' || p === null) return bad(field, 'must be a path or { name, sources } or { name, file }', p);
    else {
      const o = p as Record<string, unknown>;
      const name = text(`${field}.name`, o.name);
      for (const key of Object.keys(o)) if (!['name', 'sources', 'includes', 'cflags', 'file'].includes(key)) bad(`${field}.${key}`, 'is not a program field (name, sources, includes, cflags; or name, file)', o[key]);
      if (o.file !== undefined) {
        if (o.sources !== undefined) bad(field, 'has both file and sources: one program is either copied or compiled', p);
        program = { name, file: text(`${field}.file`, o.file) };
      } else {
        const sources = texts(`${field}.sources`, o.sources);
        if (sources.length === 0 || sources.some((s) => !s.endsWith('.c'))) bad(`${field}.sources`, 'must list one or more .c files', o.sources);
        program = {
          name,
          sources,
          ...(o.includes !== undefined && { includes: texts(`${field}.includes`, o.includes) }),
          ...(o.cflags !== undefined && { cflags: texts(`${field}.cflags`, o.cflags) }),
        };
      }
    }
    const name = programName(program);
    if (!PROGRAM_NAME.test(name)) bad(`${field}`, `gives the command name '${name}', which is not a plain file name`, p);
    if (RESERVED_PROGRAM_NAMES.includes(name)) bad(`${field}`, `would replace the guest's own '${name}'`, p);
    if (names.has(name)) bad(`${field}`, `repeats the command name '${name}'`, p);
    names.add(name);
    return program;
  });
}

/** The command name a program gets in the guest. Pure. */
export function programName(p: GuestProgram): string {
  if (typeof p !== 'string') return p.name;
  const base = p.slice(p.lastIndexOf('/') + 1);
  return base.endsWith('.c') ? base.slice(0, -2) : base;
}

function allowedReports(v: unknown, bad: Bad, text: (f: string, v: unknown) => string): readonly AllowedReport[] {
  if (!Array.isArray(v)) return bad('allowedReports', 'must be an array of { title, reason }', v);
  return v.map((a, i) => {
    const field = `allowedReports[${i}]`;
    if (typeof a !== 'object' || a === null) return bad(field, 'must be { title, reason }', a);
    const o = a as Record<string, unknown>;
    for (const key of Object.keys(o)) if (key !== 'title' && key !== 'reason') bad(`${field}.${key}`, 'is not a field (title, reason)', o[key]);
    const title = o.title instanceof RegExp ? o.title : text(`${field}.title`, o.title);
    return { title, reason: text(`${field}.reason`, o.reason) };
  });
}

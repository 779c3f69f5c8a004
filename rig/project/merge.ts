// What a run uses: the command line over the project file over the defaults (ktest and its scenarios). Pure.
import { resolve } from 'node:path';
import { UsageError } from '../core/errors.ts';
import { parseKernels, type KernelSelection } from '../kernels/images.ts';
import type { AllowedReport } from './config.ts';
import type { Project, ProgramSpec } from './load.ts';
import type { ModuleParams } from '../scenario/api.ts';

export interface Settings {
  readonly kmodDir: string;
  /** Scenario files (empty when the project file lists none); undefined: the built-in ktest scenarios. */
  readonly scenarioFiles?: readonly string[];
  readonly kernels: KernelSelection;
  readonly makeArgs: readonly string[];
  readonly programs: readonly ProgramSpec[];
  readonly moduleParams: ModuleParams;
  readonly allowedReports: readonly AllowedReport[];
}

export interface CommandLine {
  readonly kmod?: string;
  readonly params?: ModuleParams;
  readonly scenarios?: string;
  readonly kernels: KernelSelection;
}

export function mergeSettings(cli: CommandLine, project: Project | undefined, defaultKmodDir: string, cwd = process.cwd()): Settings {
  const kmodDir = cli.kmod !== undefined ? resolve(cwd, cli.kmod) : (project?.moduleDir ?? defaultKmodDir);
  let scenarioFiles: readonly string[] | undefined;
  if (cli.scenarios !== undefined) scenarioFiles = [resolve(cwd, cli.scenarios)];
  else if (project) scenarioFiles = project.scenarioFiles;
  let kernels = cli.kernels;
  if (kernels.kind === 'default' && project?.images) {
    try {
      kernels = parseKernels(project.images);
    } catch (error) {
      throw new UsageError(`${project.file}: images: ${error instanceof Error ? error.message.replace(/^--kernel /, '') : error}`, { cause: error });
    }
  }
  return {
    kmodDir,
    ...(scenarioFiles && { scenarioFiles }),
    kernels,
    makeArgs: project?.makeArgs ?? [],
    programs: project?.programs ?? [],
    moduleParams: { ...project?.moduleParams, ...cli.params },
    allowedReports: project?.allowedReports ?? [],
  };
}

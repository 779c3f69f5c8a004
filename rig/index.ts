// The package's public entry (`import type { Scenario } from 'ktest-rig'`): what a module's own repository may use.
// Everything else under rig/ is internal and may move; scenario files and project files import from here only.
/// <reference types="node" />
export type { Scenario, ScenarioContext, ModuleControl, ModuleParams } from './scenario/api.ts';
export type { ClientCall, ClientReply, ClientResult } from './scenario/client.ts';
export type { ExecOptions, ExecResult } from './vm/types.ts';
export type { KernelReport, StackFrame } from './detect/kernel-report.ts';
export { defineConfig } from './project/config.ts';
export type { ProjectConfig, AllowedReport, GuestProgram, GuestProgramSources, GuestProgramFile } from './project/config.ts';

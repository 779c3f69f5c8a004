#!/usr/bin/env node
// `npx ktest-rig ...`: the rig's TypeScript CLI through tsx, from any directory and wherever the package is installed.
// Node resolves this file's symlinks (node_modules/.bin, a file: dependency), so the imports below find the
// rig's own sources and its own tsx; tsx is registered for the whole process, so the caller's project file
// and scenario files (TypeScript) load too.
import { register as registerEsm } from 'tsx/esm/api';
import { register as registerCjs } from 'tsx/cjs/api';

// Both loaders: a project file in a repository without "type": "module" is compiled as CommonJS.
registerEsm();
registerCjs();
const { runCli } = await import('../rig/cli/main.ts');
runCli(process.argv.slice(2));

// Finding and loading project files: paths resolved against the file, missing paths and bad exports named; CLI over project over defaults.
import t from 'tap';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findProjectFile, loadProject, resolveProject, PROJECT_FILE } from '../../../rig/project/load.ts';
import { mergeSettings } from '../../../rig/project/merge.ts';

const dir = mkdtempSync(join(tmpdir(), 'ktest-rig-project-'));
for (const d of ['mod', 'tests', 'inc']) mkdirSync(join(dir, d));
for (const f of ['mod/Kbuild', 'tests/probe.c', 'tests/run.sh', 'a.ts', 'x.c']) writeFileSync(join(dir, f), '');
const file = join(dir, PROJECT_FILE);

t.test('find: --config, else the file in cwd, else none', async (t) => {
  t.equal(findProjectFile(undefined, dir), undefined);
  writeFileSync(file, 'export default {};\n');
  t.equal(findProjectFile(undefined, dir), file);
  t.equal(findProjectFile('ktest-rig.config.ts', dir), file);
  t.throws(() => findProjectFile('nope.ts', dir), /--config nope\.ts: no such file/);
});

t.test('paths are resolved against the project file and must exist', async (t) => {
  const p = resolveProject({ module: 'mod', scenarios: 'a.ts', programs: ['tests/probe.c', 'tests/run.sh', { name: 'm', sources: ['x.c'], includes: ['inc'], cflags: ['-O2'] }] }, file);
  t.equal(p.moduleDir, join(dir, 'mod'));
  t.strictSame(p.scenarioFiles, [join(dir, 'a.ts')]);
  t.strictSame(p.programs, [
    { kind: 'c', name: 'probe', root: dir, sources: [join(dir, 'tests/probe.c')], includes: [join(dir, 'tests'), join(dir, 'mod')], cflags: [] },
    { kind: 'file', name: 'run.sh', path: join(dir, 'tests/run.sh') },
    { kind: 'c', name: 'm', root: dir, sources: [join(dir, 'x.c')], includes: [join(dir, 'inc')], cflags: ['-O2'] },
  ]);
  t.equal(resolveProject({}, file).moduleDir, dir, 'the module defaults to the project directory');
  t.throws(() => resolveProject({ module: 'nope' }, file), /module 'nope' is not a directory/);
  t.throws(() => resolveProject({ scenarios: ['a.ts', 'b.ts'] }, file), /scenarios\[1\] 'b\.ts' is not a file/);
  t.throws(() => resolveProject({ programs: [{ name: 'm', sources: ['y.c'] }] }, file), /programs\[0\]\.sources\[0\] 'y\.c' is not a file/);
});

t.test('load imports the TypeScript file and validates its default export', async (t) => {
  writeFileSync(file, "import { defineConfig } from '../../../../rig/project/config.ts';\nexport default defineConfig({ module: 'mod', scenarios: ['a.ts'], allowedReports: [{ title: /W/, reason: 'r' }] });\n".replace('../../../../rig', `${process.cwd()}/rig`));
  const p = await loadProject(file);
  t.equal(p.moduleDir, join(dir, 'mod'));
  t.match(p.allowedReports[0]!.title, /W/);
  // Other names: a module once imported stays in the loader's cache.
  writeFileSync(join(dir, 'typo.config.ts'), 'export default { modle: 1 };\n');
  await t.rejects(loadProject(join(dir, 'typo.config.ts')), /typo\.config\.ts: modle is not a project file field/);
  writeFileSync(join(dir, 'syntax.config.ts'), 'export default {;\n');
  await t.rejects(loadProject(join(dir, 'syntax.config.ts')), /cannot load the project file/);
});

t.test('merge: the command line over the project file over the defaults', async (t) => {
  const p = resolveProject({ module: 'mod', scenarios: 'a.ts', images: ['bookworm-6.1', 'sid-7'], moduleParams: { n: 1 }, makeArgs: ['A=1'] }, file);
  const none = mergeSettings({ kernels: { kind: 'default' } }, undefined, '/rig/kmod', dir);
  t.strictSame(none, { kmodDir: '/rig/kmod', kernels: { kind: 'default' }, makeArgs: [], programs: [], moduleParams: {}, allowedReports: [] }, 'no project: today\'s defaults');
  const fromProject = mergeSettings({ kernels: { kind: 'default' } }, p, '/rig/kmod', dir);
  t.equal(fromProject.kmodDir, join(dir, 'mod'));
  t.strictSame(fromProject.scenarioFiles, [join(dir, 'a.ts')]);
  t.strictSame(fromProject.kernels, { kind: 'ids', ids: ['bookworm-6.1', 'sid-7'] });
  t.strictSame(fromProject.moduleParams, { n: 1 });
  const cli = mergeSettings({ kmod: 'other', scenarios: 's.ts', kernels: { kind: 'all' } }, p, '/rig/kmod', '/cwd');
  t.equal(cli.kmodDir, '/cwd/other');
  t.strictSame(cli.scenarioFiles, ['/cwd/s.ts']);
  t.strictSame(cli.kernels, { kind: 'all' });
  t.throws(() => mergeSettings({ kernels: { kind: 'default' } }, resolveProject({ images: ['all', 'sid-7'] }, file), '/k', dir), /images: all cannot be combined/);
});

t.test('--param over the project file', async (t) => {
  const p = resolveProject({ module: 'mod', moduleParams: { capacity: 64, verbose: true } }, file);
  t.strictSame(mergeSettings({ kernels: { kind: 'default' }, params: { capacity: '16' } }, p, '/k', dir).moduleParams, { capacity: '16', verbose: true });
});

// The package as another repository gets it: `npm install` by path, the ktest-rig command, the public types.
import t from 'tap';
import { execa } from 'execa';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../../rig/core/paths.ts';

// npm and two compiler runs on a shared, loaded machine.
t.setTimeout(240_000);

const pkg = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as Record<string, unknown>;

t.equal(pkg.private, true, 'never publishable by accident (installs by path, tarball or git URL work without publishing)');
t.same(pkg.bin, { 'ktest-rig': 'bin/ktest-rig.js' }, 'the command');

const dir = await mkdtemp(join(tmpdir(), 'ktest-rig-pkg-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'my-module', private: true, devDependencies: { 'ktest-rig': `file:${projectRoot}` } }));
const install = await execa('npm', ['install', '--offline', '--no-audit', '--no-fund'], { cwd: dir, reject: false });
t.equal(install.exitCode, 0, `npm install by path: ${install.stderr}`);

t.test('npx ktest-rig runs the CLI from the caller directory', async (t) => {
  const help = await execa('npx', ['--no-install', 'ktest-rig', '--help'], { cwd: dir, reject: false });
  t.equal(help.exitCode, 0, help.stderr);
  t.match(help.stdout, /usage:/);
  const bad = await execa('npx', ['--no-install', 'ktest-rig', '--no-such-option'], { cwd: dir, reject: false });
  t.equal(bad.exitCode, 2, 'usage errors keep their exit code through the launcher');
  t.match(bad.stderr, /unknown option '--no-such-option'/);
});

t.test('the scenario types import by package name and type-check in the caller repository', async (t) => {
  await writeFile(
    join(dir, 'scenarios.ts'),
    `import type { Scenario } from 'ktest-rig';
export default [{ name: 'probe', description: 'x', async run(t) { const r = await t.exec(['true']); t.equal(r.exitCode, 0, 'exit'); } }] satisfies Scenario[];
`,
  );
  await writeFile(
    join(dir, 'wrong.ts'),
    `import type { Scenario } from 'ktest-rig';
export default [{ name: 'probe', description: 'x', async run(t) { t.exec('not an argv'); } }] satisfies Scenario[];
`,
  );
  const compilerOptions = { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, allowImportingTsExtensions: true, skipLibCheck: true };
  await writeFile(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['scenarios.ts', 'wrong.ts'] }));
  // One compiler run for both files: the right one must be clean, the wrong call must be caught (real types, not any).
  const tsc = await execa(join(projectRoot, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.json'], { cwd: dir, reject: false });
  const errors = tsc.stdout.split('\n').filter((l) => /error TS\d+/.test(l));
  t.strictSame(errors.filter((l) => !l.startsWith('wrong.ts')), [], 'no error outside wrong.ts (the types resolve through the package name)');
  t.ok(errors.some((l) => l.startsWith('wrong.ts') && /not assignable/.test(l)), `the wrong call is caught: ${tsc.stdout}`);
});

t.test('a project file loads in a repository without "type": "module" (compiled as CommonJS)', async (t) => {
  await writeFile(join(dir, 'ktest-rig.config.ts'), "import { defineConfig } from 'ktest-rig';\nexport default defineConfig({ scenarios: ['scenarios.ts'] });\n");
  const list = await execa('npx', ['--no-install', 'ktest-rig', '--list'], { cwd: dir, reject: false });
  t.equal(list.exitCode, 0, list.stderr);
  t.match(list.stdout, /^bookworm-6\.1 probe$/m, 'the project file and its scenarios, through the package name');
});

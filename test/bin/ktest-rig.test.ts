// The package as another repository gets it: `npm install` by path, the ktest-rig command, the public types.
import t from 'tap';
import { execa } from 'execa';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../../rig/core/paths.ts';

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
  await writeFile(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['scenarios.ts'] }));
  await writeFile(join(dir, 'tsconfig.wrong.json'), JSON.stringify({ compilerOptions, files: ['wrong.ts'] }));
  const tsc = join(projectRoot, 'node_modules', '.bin', 'tsc');
  const ok = await execa(tsc, ['-p', 'tsconfig.json'], { cwd: dir, reject: false });
  t.equal(ok.exitCode, 0, `tsc: ${ok.stdout}`);
  const wrong = await execa(tsc, ['-p', 'tsconfig.wrong.json'], { cwd: dir, reject: false });
  t.not(wrong.exitCode, 0, 'a wrong call is caught: the types are real, not any');
  t.match(wrong.stdout, /wrong\.ts.*not assignable/);
});

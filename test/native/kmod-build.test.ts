// Compiles kmod/ and the fixture modules against a kernel headers tree: no warnings, and broken-compile fails.
import t from 'tap';
import { readFile } from 'node:fs/promises';
import { defaultKernel } from '../helpers/rig.ts';
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from '../../rig/core/paths.ts';

const run = promisify(execFile);

/** Headers tree: $KTEST_KDIR (compiler $KTEST_KCC), else the default image's, through the rig's own cache. */
const kdir = process.env.KTEST_KDIR ?? (await defaultKernel()).headersDir;
const cc = process.env.KTEST_KCC ?? 'gcc-12';
const skip = false;

interface Build {
  ok: boolean;
  output: string;
  dir: string;
}

// Six kbuild runs of 2-10 s each on a busy 2-core machine: more than the 60 s default.
t.setTimeout(240_000);

const work = await mkdtemp(join(tmpdir(), 'kmod-build-'));
t.teardown(() => rm(work, { recursive: true, force: true }));

/** Copies a module dir (symlinks followed, as the rig does) and runs kbuild on it. */
async function build(source: string, name: string): Promise<Build> {
  const dir = join(work, name);
  await cp(source, dir, { recursive: true, dereference: true });
  try {
    const { stdout, stderr } = await run('make', ['-C', kdir!, `M=${dir}`, `CC=${cc}`, 'modules'], { maxBuffer: 1 << 24 });
    return { ok: true, output: stdout + stderr, dir };
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string };
    return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}`, dir };
  }
}

async function hasKo(dir: string, module: string): Promise<boolean> {
  return stat(join(dir, `${module}.ko`)).then(() => true, () => false);
}

t.test('kmod builds without warnings', { skip }, async (t) => {
  const b = await build(join(projectRoot, 'kmod'), 'kmod');
  t.ok(b.ok, `build succeeds\n${b.output}`);
  t.notMatch(b.output, /warning:/, 'no compiler warnings');
  t.ok(await hasKo(b.dir, 'ktest'), 'ktest.ko produced');
});

const fixtures = join(projectRoot, 'test', 'fixtures', 'kmods');
const variants = kdir ? (await readdir(fixtures)).filter((d) => d !== 'broken-compile') : [];

for (const variant of variants) {
  t.test(`fixture ${variant} builds without warnings`, { skip }, async (t) => {
    const b = await build(join(fixtures, variant), variant);
    t.ok(b.ok, `build succeeds\n${b.output}`);
    t.notMatch(b.output, /warning:/, 'no compiler warnings');
    // The module the fixture's Kbuild names (obj-m := NAME.o): ktest for most, crasher, debugbugs, ...
    const kbuild = await readFile(join(fixtures, variant, 'Kbuild'), 'utf8');
    const module = /^obj-m\s*:?=\s*(\S+)\.o/m.exec(kbuild)?.[1] ?? 'ktest';
    t.ok(await hasKo(b.dir, module), `${module}.ko produced`);
  });
}

t.test('fixture broken-compile fails with a compiler error', { skip }, async (t) => {
  const b = await build(join(fixtures, 'broken-compile'), 'broken-compile');
  t.notOk(b.ok, 'build fails');
  t.match(b.output, /broken\.c:\d+:\d+: error: /, 'names the error in broken.c');
});

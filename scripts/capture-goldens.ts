// Maintainer command: boots a fixture module on each image, triggers every fault and writes the console logs as golden logs.
//
//   npm run capture-goldens -- [--fixture crasher|debugbugs] [--kernel ID[,ID...]|all] [--only SCENARIO[,SCENARIO...]]
//
// crasher (the default) runs on every stock Debian kernel of images/; debugbugs, the bugs only a debug
// kernel reports (KASAN, kmemleak, lockdep, UBSAN, atomic sleep), on the kernels the rig builds.
// For each image (default: every stock Debian kernel of images/) it runs the rig as a user does (`rig --kmod
// test/fixtures/kmods/crasher --scenarios test/fixtures/scenarios/crasher.ts --logs DIR`, under nice),
// then writes test/fixtures/logs/<kind>-<arch>-<major.minor>-<scenario>.log: a header saying where
// the log came from (image, kernel release, fault, this script) and what the detector finds in it
// (kind, title, module frames: what test/rig/detect/golden.test.ts compares), then the guest's console
// log of that scenario, unedited. Logs this script wrote earlier for the same image and scenario are
// replaced. It exits 1 when a scenario's first report is not the expected kind and title
// (test/fixtures/scenarios/crasher.ts): the log is still written, for a human to look at.
import { $ } from 'zx';
import { mkdtemp, readFile, readdir, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { projectRoot } from '../rig/core/paths.ts';
import { loadImages, resolveImages } from '../rig/kernels/images.ts';
import { findReports } from '../rig/detect/parse.ts';
import type { ImageSpec } from '../rig/kernels/spec.ts';
import { expectations as crasherExpectations, type FaultExpectation } from '../test/fixtures/scenarios/crasher.ts';
import { expectations as debugbugsExpectations } from '../test/fixtures/scenarios/debugbugs.ts';
import { parseGolden, renderGolden, summary, type Golden } from '../test/helpers/golden.ts';

export const CAPTURED_BY = 'scripts/capture-goldens.ts';
const LOGS = join(projectRoot, 'test/fixtures/logs');

/** A fixture module whose faults become golden logs: its module, scenarios, expectations and images. */
interface Fixture {
  readonly module: string;
  readonly kmod: string;
  readonly scenarios: string;
  readonly expectations: (image: ImageSpec) => Record<string, FaultExpectation>;
  readonly images: () => ImageSpec[];
}

export const FIXTURES: Readonly<Record<string, Fixture>> = {
  crasher: { module: 'crasher', kmod: 'test/fixtures/kmods/crasher', scenarios: 'test/fixtures/scenarios/crasher.ts', expectations: crasherExpectations, images: () => stockImages() },
  debugbugs: { module: 'debugbugs', kmod: 'test/fixtures/kmods/debugbugs', scenarios: 'test/fixtures/scenarios/debugbugs.ts', expectations: () => debugbugsExpectations, images: () => builtImages() },
};

/** The stock Debian kernels of images/ (a kernel the rig builds, `kind: built`, is the debug kernel's business). */
export const stockImages = (): ImageSpec[] => loadImages().filter((image) => image.kind !== 'built');
/** The kernels the rig builds itself (the debug kernel). */
export const builtImages = (): ImageSpec[] => loadImages().filter((image) => image.kind === 'built');

/** `6.1.0-50-amd64` -> `6.1`. */
export const majorMinor = (release: string): string => /^(\d+\.\d+)/.exec(release)?.[1] ?? release;

/** The golden log's file name for one scenario on one image. */
export const goldenName = (kind: string, image: Pick<ImageSpec, 'arch' | 'release'>, scenario: string): string =>
  `${kind}-${image.arch}-${majorMinor(image.release)}-${scenario}.log`;

/** The golden log for one scenario's console log (pure). */
export function goldenFor(
  image: Pick<ImageSpec, 'id' | 'arch' | 'release'>,
  scenario: string,
  fault: string,
  consoleLog: string,
  command: string,
  fixture: Pick<Fixture, 'module' | 'kmod' | 'scenarios'> = FIXTURES.crasher!,
): { name: string; text: string } {
  const found = findReports(consoleLog, { module: fixture.module }).map(summary);
  const golden: Golden = {
    comments: [],
    provenance: {
      source: 'captured',
      'captured-by': `${CAPTURED_BY} (${command})`,
      image: image.id,
      kernel: image.release,
      fault: `${fault} (scenario ${scenario} of ${fixture.scenarios}, module ${fixture.kmod})`,
    },
    module: fixture.module,
    expected: found,
    body: consoleLog,
  };
  return { name: goldenName(found[0]?.kind ?? 'none', image, scenario), text: renderGolden(golden, found) };
}

/** Logs this script wrote for that image and scenario (any kind: the kind may have changed). */
async function previousCaptures(image: ImageSpec, scenario: string): Promise<string[]> {
  const suffix = `-${image.arch}-${majorMinor(image.release)}-${scenario}.log`;
  const out: string[] = [];
  for (const file of (await readdir(LOGS)).filter((f) => f.endsWith(suffix))) {
    const g = parseGolden(await readFile(join(LOGS, file), 'utf8'), file);
    if (g.provenance['captured-by']?.startsWith(CAPTURED_BY) && g.provenance.image === image.id) out.push(file);
  }
  return out;
}

async function captureImage(fixtureName: string, image: ImageSpec, only: readonly string[] | undefined): Promise<string[]> {
  const fixture = FIXTURES[fixtureName]!;
  const expected = Object.entries(fixture.expectations(image)).filter(([name]) => !only || only.includes(name));
  const work = await mkdtemp(join(tmpdir(), 'ktest-rig-capture-'));
  const problems: string[] = [];
  try {
    const onlyArg = `/^(${expected.map(([name]) => name).join('|')})$/`;
    const command = `npm run capture-goldens -- --fixture ${fixtureName} --kernel ${image.id}`;
    process.stderr.write(`== ${image.id} (${image.release}): ${expected.length} faults\n`);
    // Every fault scenario fails on purpose: exit 1 is the expected outcome, 2-4 are not.
    const run = await $({ cwd: projectRoot, nothrow: true, stdio: ['ignore', 'ignore', 'inherit'] })`nice -n 15 node --import tsx rig/cli/main.ts --kernel ${image.id} --kmod ${fixture.kmod} --scenarios ${fixture.scenarios} --only ${onlyArg} --logs ${work} --json ${join(work, 'r.json')}`;
    if (run.exitCode !== 0 && run.exitCode !== 1) return [`${image.id}: the rig exited ${run.exitCode}`];
    for (const [scenario, exp] of expected) {
      const consoleLog = await readFile(join(work, image.id, `${scenario}.console.log`), 'utf8').catch(() => undefined);
      if (consoleLog === undefined) {
        problems.push(`${image.id} ${scenario}: no console log`);
        continue;
      }
      for (const old of await previousCaptures(image, scenario)) await unlink(join(LOGS, old));
      const { name, text } = goldenFor(image, scenario, exp.fault, consoleLog, command, fixture);
      await writeFile(join(LOGS, name), text);
      const first = findReports(consoleLog, { module: fixture.module })[0];
      // A leak found after rmmod names no function in the log alone (raw addresses): the rig names it from the load it recorded.
      const ok = first?.kind === exp.kind && (first.title === exp.title || (exp.kind === 'memory-leak' && first.title === 'memory leak'));
      process.stderr.write(`${ok ? 'ok  ' : 'DIFF'} ${relative(projectRoot, join(LOGS, name))}: ${first ? `${first.kind} "${first.title}"` : 'no report'}\n`);
      if (!ok) problems.push(`${image.id} ${scenario}: got ${first ? `${first.kind} "${first.title}"` : 'no report'}, expected ${exp.kind} "${exp.title}"`);
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return problems;
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { fixture: { type: 'string', default: 'crasher' }, kernel: { type: 'string', default: 'all' }, only: { type: 'string' } } });
  const fixture = values.fixture;
  if (!FIXTURES[fixture]) throw new Error(`unknown --fixture ${fixture} (${Object.keys(FIXTURES).join(', ')})`);
  const images = values.kernel === 'all' ? FIXTURES[fixture]!.images() : resolveImages(values.kernel);
  const only = values.only?.split(',').filter(Boolean);
  const problems: string[] = [];
  for (const image of images) problems.push(...(await captureImage(fixture, image, only)));
  for (const p of problems) process.stderr.write(`capture-goldens: ${p}\n`);
  return problems.length ? 1 : 0;
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  $.verbose = false;
  main().then(
    (code) => (process.exitCode = code),
    (error: unknown) => {
      process.stderr.write(`capture-goldens: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 2;
    },
  );
}

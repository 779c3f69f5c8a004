import t from 'tap';
import { mkdtemp, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main, planRun, loadScenarioFile } from '../../../rig/cli/main.ts';
import { loadImages } from '../../../rig/kernels/images.ts';
import { validateScenarios } from '../../../rig/scenario/api.ts';
import { UsageError } from '../../../rig/core/errors.ts';

const run = async () => {};
const scenarios = validateScenarios(['a', 'b', 'c'].map((name) => ({ name, run })), 'test');

t.test('planRun: every image with every scenario, or the shard of (image, scenario) pairs', async (t) => {
  const images = loadImages().filter((i) => ['bookworm-6.1', 'bullseye-5.10'].includes(i.id));
  t.same(planRun(images, scenarios, {}).map((p) => [p.image.id, p.scenarios.length]), images.map((i) => [i.id, 3]));
  const shards = [1, 2, 3, 4].map((i) => planRun(images, scenarios, { shard: { index: i, count: 4 } }));
  const pairs = shards.flatMap((plan) => plan.flatMap((p) => p.scenarios.map((s) => `${p.image.id}/${s.name}`)));
  t.equal(pairs.length, 6, 'the shards together hold every pair');
  t.equal(new Set(pairs).size, 6, 'and each once');
});

t.test('loadScenarioFile: default export validated; a broken file is a usage error', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ktest-cli-'));
  await writeFile(join(dir, 'ok.ts'), 'export default [{ name: "mine", description: "d", async run() {} }];\n');
  t.same((await loadScenarioFile(join(dir, 'ok.ts'))).map((s) => s.name), ['mine']);
  await writeFile(join(dir, 'syntax.ts'), 'export default [ {;\n');
  await t.rejects(loadScenarioFile(join(dir, 'syntax.ts')), { name: 'ScenarioSyntaxError', exitCode: 2, message: /syntax\.ts:1:19: Expected identifier but found ";"/ });
  await t.rejects(loadScenarioFile(join(dir, 'none.ts')), /cannot load scenarios from/);
  await writeFile(join(dir, 'obj.ts'), 'export default { name: "x" };\n');
  await t.rejects(loadScenarioFile(join(dir, 'obj.ts')), /scenarios must be an array/);
});

t.test('main: help, and usage errors surface as UsageError', async (t) => {
  let out = '';
  t.equal(await main(['--help'], { write: (s) => (out += String(s)) }), 0);
  t.match(out, /^ktest-rig \d+\.\d+\.\d+: /);
  out = '';
  t.equal(await main(['exec', '--help'], { write: (s) => (out += String(s)) }), 0);
  t.match(out, /^usage: rig exec /);
  out = '';
  t.equal(await main(['--version'], { write: (s) => (out += String(s)) }), 0);
  t.equal(out, `${JSON.parse(await readFile('package.json', 'utf8')).version}\n`);
  await t.rejects(main(['--kernel', 'nope']), UsageError);
});

t.test('main: a misspelt environment variable or value is a usage error before any work', async (t) => {
  const none = { write: () => true };
  await t.rejects(main(['--list'], none, none, { KTEST_RIG_ACCEL: 'kvmm' }), { name: 'UsageError', message: /KTEST_RIG_ACCEL=kvmm is not one of: kvm, tcg/ });
  await t.rejects(main(['doctor'], none, none, { [`KTEST_RIG_${'NOINSTALL'}`]: '1' }), { name: 'UsageError', message: /unknown environment variable/ });
});

t.test('main --list: the (image, scenario) pairs after --only and --shard, nothing run', async (t) => {
  const list = async (argv: string[]) => {
    let out = '';
    t.equal(await main(argv, { write: (s) => (out += String(s)) }, { write: () => true }, {}), 0, argv.join(' '));
    return out.trimEnd().split('\n');
  };
  const echo = await list(['--list', '--only', 'echo-']);
  t.ok(echo.length >= 4 && echo.every((l) => /^bookworm-6\.1 echo-/.test(l)), 'default image, filtered');
  const both = await list(['--list', '--kernel', 'bookworm-6.1,bullseye-5.10', '--only', '/^(load|roundtrip)$/']);
  t.strictSame(both, ['bookworm-6.1 load', 'bookworm-6.1 roundtrip', 'bullseye-5.10 load', 'bullseye-5.10 roundtrip']);
  const shards = [await list(['--list', '--kernel', 'bookworm-6.1,bullseye-5.10', '--only', '/^(load|roundtrip)$/', '--shard', '1/2']),
    await list(['--list', '--kernel', 'bookworm-6.1,bullseye-5.10', '--only', '/^(load|roundtrip)$/', '--shard', '2/2'])];
  t.strictSame(shards.flat().sort(), both, 'the shards together list every pair once');
  t.ok(shards.every((s) => s.length === 2));
  t.strictSame(await list(['--list', '--target', 'host', '--only', 'roundtrip']), ['host roundtrip']);
});

t.test("main --list: a scenario's backends decide which targets run it", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ktest-cli-'));
  const file = join(dir, 'backends.ts');
  await writeFile(file, `export default [
  { name: 'anywhere', async run() {} },
  { name: 'guest-only', backends: ['guest'], async run() {} },
  { name: 'host-only', backends: ['host'], async run() {} },
];\n`);
  const list = async (...argv: string[]) => {
    let out = '';
    t.equal(await main(['--list', '--scenarios', file, ...argv], { write: (s) => (out += String(s)) }, { write: () => true }, {}), 0, argv.join(' '));
    return out.trimEnd().split('\n');
  };
  t.strictSame(await list(), ['bookworm-6.1 anywhere', 'bookworm-6.1 guest-only']);
  t.strictSame(await list('--target', 'host'), ['host anywhere', 'host host-only']);
});

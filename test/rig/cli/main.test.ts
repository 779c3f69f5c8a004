import t from 'tap';
import { mkdtemp, writeFile } from 'node:fs/promises';
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
  await t.rejects(loadScenarioFile(join(dir, 'syntax.ts')), UsageError);
  await t.rejects(loadScenarioFile(join(dir, 'none.ts')), /cannot load scenarios from/);
  await writeFile(join(dir, 'obj.ts'), 'export default { name: "x" };\n');
  await t.rejects(loadScenarioFile(join(dir, 'obj.ts')), /scenarios must be an array/);
});

t.test('main: help, and usage errors surface as UsageError', async (t) => {
  let out = '';
  t.equal(await main(['--help'], { write: (s) => (out += String(s)) }), 0);
  t.match(out, /^usage:/);
  await t.rejects(main(['--kernel', 'nope']), UsageError);
});

// The workflows' glue: matrix and summary scripts, and the files and commands the YAML relies on.
import t from 'tap';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { matrixOutput } from '../../.github/scripts/matrix.ts';
import { runsOfReport, summarize } from '../../.github/scripts/summary.ts';
import { UsageError } from '../../rig/core/errors.ts';
import { loadImages } from '../../rig/kernels/images.ts';
import { projectRoot } from '../../rig/core/paths.ts';
import type { RunSummary } from '../../rig/report/results.ts';

const workflowsDir = join(projectRoot, '.github', 'workflows');
const workflows = Object.fromEntries(
  readdirSync(workflowsDir)
    .filter((f) => f.endsWith('.yml'))
    .map((f) => [f, readFileSync(join(workflowsDir, f), 'utf8')]),
);

t.test('matrix script: every Debian-kernel image by default, from images/*.json', async (t) => {
  const images = loadImages();
  const line = matrixOutput('all', '1', images);
  const stock = images.filter((i) => i.kind !== 'built');
  t.match(line, /^matrix=\{/);
  const m = JSON.parse(line.slice('matrix='.length)) as { include: { image: string; arch: string }[] };
  t.same(m.include.map((e) => e.image).sort(), stock.map((i) => i.id).sort());
  const debug = JSON.parse(matrixOutput('bookworm-6.1-debug', '1', images).slice(7)) as { include: { image: string }[] };
  t.same(debug.include.map((e) => e.image), ['bookworm-6.1-debug'], 'a built image runs when named');
  t.same(JSON.parse(matrixOutput('', '', images).slice(7)), m, 'empty inputs mean all, one shard');
  const two = JSON.parse(matrixOutput(`${images[0].id}`, '2', images).slice(7)) as { include: { shard: string }[] };
  t.same(two.include.map((e) => e.shard), ['1/2', '2/2']);
  t.throws(() => matrixOutput('no-such-kernel', '1', images), UsageError);
  t.throws(() => matrixOutput('all', 'x', images), UsageError);
});

const run: RunSummary = {
  image: 'img',
  kernel: 'k',
  arch: 'x86_64',
  accel: 'kvm',
  passed: 1,
  failed: 1,
  scenarios: [
    { image: 'img', name: 'ok-one', status: 'pass', durationMs: 1 },
    { image: 'img', name: 'bad-one', status: 'fail', durationMs: 1, failure: { kind: 'assertion', message: 'expected 1' } },
  ],
};

t.test('summary script: one run, several runs, broken and missing reports', async (t) => {
  t.same(runsOfReport(JSON.stringify(run)), [run]);
  t.same(runsOfReport(JSON.stringify({ runs: [run, { ...run, image: 'other' }], passed: 2, failed: 2 })).map((r) => r.image), ['img', 'other']);
  t.throws(() => runsOfReport('{"foo": 1}'));
  const files: Record<string, string> = { 'a.json': JSON.stringify(run), 'b.json': '{broken' };
  const s = summarize(['a.json', 'b.json'], (f) => files[f]);
  t.match(s.markdown, /\| bad-one \| ❌ FAIL \|/);
  t.match(s.markdown, /Missing reports[\s\S]*b\.json/);
  t.equal(s.annotations.filter((a) => a.startsWith('::error ')).length, 1);
  t.equal(s.annotations.filter((a) => a.startsWith('::warning ')).length, 1);
  t.match(summarize([], () => '').markdown, /no report was written/);
});

t.test('workflows use only files and commands that exist', async (t) => {
  const all = Object.values(workflows).join('\n');
  for (const path of all.match(/\.github\/scripts\/[\w-]+\.ts|rig\/[\w-]+\.ts|\.ci\/run/g) ?? []) {
    t.ok(existsSync(join(projectRoot, path)), `${path} exists`);
  }
  for (const m of all.matchAll(/uses: \.\/(\.github\/workflows\/[\w-]+\.yml)/g)) t.ok(existsSync(join(projectRoot, m[1])), `${m[1]} exists`);
  const scripts = (JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  for (const m of all.matchAll(/npm run (?:-s )?([\w:-]+)/g)) t.ok(scripts[m[1]], `npm script ${m[1]} exists`);
});

t.test('no kernel list copied into the YAML: it comes from images/', async (t) => {
  for (const [file, text] of Object.entries(workflows)) {
    const code = text.split('\n').filter((l) => !/^\s*#/.test(l)).join('\n'); // usage comments may name kernels
    for (const image of loadImages()) t.notOk(code.includes(image.id), `${file} does not name ${image.id}`);
  }
});

t.test('the reusable workflow documents every input', async (t) => {
  const text = workflows['ktest-rig.yml'];
  t.ok(text, 'ktest-rig.yml exists');
  t.match(text, /on:\n  workflow_call:\n    inputs:/);
  const block = text.split('    inputs:\n')[1].split('\npermissions:')[0];
  const inputs = [...block.matchAll(/^      ([\w-]+):$/gm)].map((m) => m[1]);
  t.ok(inputs.includes('module-path') && inputs.includes('kernels'), 'module path and kernels are inputs');
  for (const name of inputs) {
    const body = block.split(`      ${name}:\n`)[1].split(/\n      [\w-]+:\n/)[0];
    t.match(body, /description: \S/, `${name} has a description`);
    t.match(body, /type: (string|number|boolean)/, `${name} has a type`);
  }
});

t.test('the reusable workflow serves a real module repository', async (t) => {
  const text = workflows['ktest-rig.yml']!;
  const block = text.split('    inputs:\n')[1]!.split('\npermissions:')[0]!;
  const inputs = [...block.matchAll(/^      ([\w-]+):$/gm)].map((m) => m[1]);
  for (const name of ['project-file', 'module-path', 'scenarios', 'module-params', 'extra-packages', 'submodules']) t.ok(inputs.includes(name), `input ${name}`);
  t.notOk(inputs.some((i) => /^rig-(ref|repository)$/.test(i!)), 'no rig ref kept equal to the uses: line by hand');
  const checkouts = [...text.matchAll(/uses: actions\/checkout@\S+\n\s+with:\n((?:\s{10}.*\n)+)/g)].map((m) => m[1]!);
  const rig = checkouts.filter((c) => c.includes('path: ktest-rig'));
  t.ok(rig.length >= 2 && rig.every((c) => c.includes('repository: ${{ job.workflow_repository }}') && c.includes('ref: ${{ job.workflow_sha }}')), "the rig's checkout is the workflow's own commit");
  t.ok(checkouts.some((c) => c.includes('path: src') && c.includes('submodules: ${{ inputs.submodules }}')), 'submodules where asked');
  t.match(text, /key: ktest-rig-\$\{\{ runner\.os \}\}-\$\{\{ runner\.arch \}\}-\$\{\{ matrix\.image \}\}-v\$\{\{ steps\.keys\.outputs\.version \}\}-\$\{\{ hashFiles\(format\('ktest-rig\/images\/\{0\}\.json', matrix\.image\), format\('ktest-rig\/images\/\{0\}\/\*\*', matrix\.image\), 'ktest-rig\/rig\/build\/buildroot\.ts', 'ktest-rig\/rig\/build\/kernel\.ts'\) \}\}/, 'cache key: image, runner arch, rig version, that image\'s pins, a built kernel\'s fragments and patches, the build-root and kernel-build recipes');
  t.ok(existsSync(join(projectRoot, 'rig/build/kernel.ts')), 'the kernel-build recipe the key hashes exists');
  t.match(text, /name: ktest-rig-\$\{\{ matrix\.image \}\}-\$\{\{ job\.check_run_id \}\}/, 'artifact names unique per job, even when called twice');
  t.match(text, /summary\.ts --root "\$GITHUB_WORKSPACE\/src"/, 'annotations at the module source lines');
  t.ok(existsSync(join(projectRoot, 'rig/build/buildroot.ts')), 'the recipe file the key hashes exists');
});

t.test('current majors of the actions and a supported Node', async (t) => {
  const current: Record<string, number> = { 'actions/checkout': 7, 'actions/setup-node': 7, 'actions/cache': 6, 'actions/upload-artifact': 7 };
  for (const [file, text] of Object.entries(workflows)) {
    for (const m of text.matchAll(/uses: (actions\/[\w-]+)@v(\d+)/g)) t.equal(Number(m[2]), current[m[1]!], `${file}: ${m[1]}@v${m[2]}`);
    for (const m of text.matchAll(/node-version: (\d+)/g)) t.ok(['22', '24'].includes(m[1]!), `${file}: node ${m[1]}`);
    for (const m of text.matchAll(/image: node:(\d+)/g)) t.ok(['22', '24'].includes(m[1]!), `${file}: container node ${m[1]}`);
  }
});

t.test('summary script: --root gives annotations a file and line', async (t) => {
  const crash: RunSummary = {
    ...run,
    scenarios: [{ image: 'img', name: 'oops', status: 'fail', durationMs: 1, failure: { kind: 'kernel', message: 'oops', reports: [{ kind: 'oops', title: 'BUG', frames: [], moduleFrames: [{ symbol: 'f', file: '/w/src/mod.c', line: 7 }], fatal: false, raw: '' }] } }],
  };
  t.match(summarize(['a.json'], () => JSON.stringify(crash), '/w/src').annotations[0], /^::error file=mod\.c,line=7,/);
});

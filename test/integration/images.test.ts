// Every image in images/ boots with the real module and client: `--kernel all` on a few scenarios, in parallel.
import t from 'tap';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { rig, tempDir } from '../helpers/rig.ts';
import { loadImages } from '../../rig/kernels/images.ts';

// Cold, this fetches every kernel and makes the trixie and sid build roots (minutes); warm, about a minute.
t.setTimeout(30 * 60_000);

interface Runs {
  runs: { image: string; arch: string; kernel: string; scenarios: { name: string; status: string; failure?: { message: string } }[] }[];
  passed: number;
  failed: number;
}

t.test('--kernel all: load, roundtrip and echo-4k pass on every image', async (t) => {
  const out = await tempDir(t, 'ktest-rig-images-');
  const r = await rig(['--kernel', 'all', '--only', '/^(load|roundtrip|echo-4k)$/', '--jobs', '2', '--json', join(out, 'all.json'), '--junit', join(out, 'all.xml')]);
  t.equal(r.exitCode, 0, 'exit code', { stderr: r.stderr.slice(-3000) });
  t.equal(r.qemuLeft, 0, 'no QEMU left behind');
  const report = JSON.parse(await readFile(join(out, 'all.json'), 'utf8')) as Runs;
  const ids = loadImages().filter((i) => i.kind !== 'built').map((i) => i.id).sort();
  t.same(report.runs.map((x) => x.image).sort(), ids, 'one run per image in images/');
  for (const run of report.runs) {
    t.same(run.scenarios.map((s) => `${s.name}:${s.status}`), ['load:pass', 'roundtrip:pass', 'echo-4k:pass'], `${run.image} (${run.arch}, ${run.kernel})`, {
      failures: run.scenarios.filter((s) => s.failure).map((s) => s.failure!.message),
    });
  }
  t.equal(report.failed, 0);
  t.equal(report.passed, ids.length * 3);
  t.ok(report.runs.some((x) => x.arch === 'arm64'), 'an arm64 guest ran');
  // The kernel-by-scenario table closes a several-image run.
  for (const id of ids) t.match(r.stderr, new RegExp(id.replace(/\./g, '\\.')), `summary table names ${id}`);
  const junit = await readFile(join(out, 'all.xml'), 'utf8');
  t.equal(junit.match(/<testsuite /g)?.length, ids.length, 'one JUnit testsuite per image');
});

// Tests failure bundles without a guest: where they go, their manifest, reading them back, "the same failure".
import t from 'tap';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleName, bundlesRoot, readBundle, sameFailure, treeHash, writeBundle, MANIFEST } from '../../../rig/run/bundle.ts';
import { verdict } from '../../../rig/cli/replay.ts';
import { resolveImages } from '../../../rig/kernels/images.ts';
import { UsageError } from '../../../rig/core/errors.ts';
import type { ScenarioFailure } from '../../../rig/report/results.ts';

const dir = await mkdtemp(join(tmpdir(), 'ktest-rig-bundle-unit-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));

t.test('bundlesRoot: --logs, then beside the reports, then a temp dir', async (t) => {
  t.equal(bundlesRoot({ logs: '/l' }), '/l/bundles');
  t.equal(bundlesRoot({ json: '/r/out.json', junit: '/x/j.xml' }), '/r/ktest-rig-bundles');
  t.equal(bundlesRoot({ junit: '/x/j.xml' }), '/x/ktest-rig-bundles');
  t.match(bundlesRoot({}, new Date('2026-01-02T03:04:05Z')), /\/ktest-rig-bundles\/run-2026-01-02T03-04-05-000Z-\d+$/);
  t.equal(bundleName('bookworm-6.1', 'echo over/max'), 'bookworm-6.1--echo_over_max');
});

const kernelFailure = (title: string): ScenarioFailure => ({ message: `kernel reported ${title}`, kind: 'kernel', reports: [{ kind: 'warning', title, frames: [], moduleFrames: [], fatal: false, raw: '' }] });

t.test('the same failure is the same kind and title', async (t) => {
  t.ok(sameFailure(kernelFailure('WARNING in f'), kernelFailure('WARNING in f')));
  t.notOk(sameFailure(kernelFailure('WARNING in f'), kernelFailure('WARNING in g')));
  t.notOk(sameFailure(kernelFailure('WARNING in f'), { message: 'kernel reported WARNING in f', kind: 'assertion' }));
  t.notOk(sameFailure(kernelFailure('WARNING in f'), undefined));
  t.match(verdict(kernelFailure('WARNING in f'), kernelFailure('WARNING in f')), { reproduced: true, line: 'reproduced: kernel: WARNING in f' });
  t.match(verdict(kernelFailure('WARNING in f'), undefined), { reproduced: false, line: /^not reproduced: the scenario passed/ });
  t.match(verdict(kernelFailure('WARNING in f'), kernelFailure('BUG in g')), { reproduced: false, line: /^not reproduced: it failed differently: kernel: BUG in g/ });
});

t.test('writeBundle then readBundle; a failed guest save leaves a bundle without snapshot', async (t) => {
  const src = join(dir, 'mod');
  await mkdir(src, { recursive: true });
  await writeFile(join(src, 'Kbuild'), 'obj-m := m.o\n');
  await writeFile(join(src, 'm.c'), 'int x;\n');
  const scen = join(dir, 'my-scenarios.ts');
  await writeFile(scen, 'export default [];\n');
  const [image] = resolveImages('bookworm-6.1');
  const input = {
    image: image!,
    scenario: { name: 'a b', file: scen, params: { proto: 31 } },
    module: { name: 'm', sourceDir: src },
    options: { debug: true, snapshot: false, accel: 'tcg' },
    failure: kernelFailure('WARNING in f'),
    console: 'boot\nWARNING\n',
    dmesg: '',
  };
  const out = await writeBundle(join(dir, 'b'), input, { initrd: join(src, 'm.c'), saveGuest: async () => Promise.reject(new Error('dead')) });
  t.equal(out, join(dir, 'b', 'bookworm-6.1--a_b'));
  const m = await readBundle(out);
  t.equal(m.scenario.copy, 'scenario-my-scenarios.ts');
  t.strictSame(m.scenario.params, { proto: 31 });
  t.equal(m.module.sha256, await treeHash(src), 'hash of the sources as they were');
  t.equal(m.guest, undefined, 'no snapshot when saving failed');
  t.notOk(existsSync(join(out, 'failure.snapshot')));
  t.equal(await readFile(join(out, 'console.log'), 'utf8'), input.console);
  const saved = await writeBundle(join(dir, 'b'), input, { initrd: join(src, 'm.c'), saveGuest: (f) => writeFile(f, 'ram') });
  t.strictSame((await readBundle(saved)).guest, { snapshot: 'failure.snapshot', initrd: 'initramfs.cpio' });
  await t.rejects(readBundle(dir), UsageError, 'a directory without bundle.json');
  await writeFile(join(out, MANIFEST), '{"format": 99}');
  await t.rejects(readBundle(out), /bundle format 99/);
});

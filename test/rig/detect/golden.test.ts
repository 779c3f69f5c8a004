// Golden tests: every test/fixtures/logs/*.log carries its expected reports in a header; UPDATE_GOLDEN=1 rewrites them (never in CI).
import t from 'tap';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findReports } from '../../../rig/detect/parse.ts';
import { inCI, lineDiff, parseGolden, renderGolden, summary, type Golden } from '../../helpers/golden.ts';
import { loadImages } from '../../../rig/kernels/images.ts';
import { expectations } from '../../fixtures/scenarios/crasher.ts';
import { CAPTURED_BY, builtImages, goldenName, stockImages } from '../../../scripts/capture-goldens.ts';
import { expectations as debugbugsExpectations } from '../../fixtures/scenarios/debugbugs.ts';

const dir = join(import.meta.dirname, '..', '..', 'fixtures', 'logs');
const update = process.env.UPDATE_GOLDEN === '1';

const files = readdirSync(dir).filter((f) => f.endsWith('.log')).sort();
t.ok(files.length >= 20, 'the golden corpus has logs');

if (update && inCI()) {
  // A rewrite in CI would turn every wrong expectation into a pass.
  t.fail('UPDATE_GOLDEN=1 refuses to run under CI (CI is set): rewrite headers on a workstation and review the diff');
} else {
  for (const file of files) {
    t.test(file, async (t) => {
      const text = readFileSync(join(dir, file), 'utf8');
      const golden = parseGolden(text, file);
      const found = findReports(golden.body, golden.module ? { module: golden.module } : {}).map(summary);
      if (update) {
        const next = renderGolden(golden, found);
        if (next !== text) {
          const diff = lineDiff(text.slice(0, text.indexOf('\n---\n')), next.slice(0, next.indexOf('\n---\n'))).filter((l) => !l.startsWith('  '));
          process.stderr.write(`UPDATE_GOLDEN: rewrote the header of ${file}:\n${diff.join('\n')}\n`);
          t.comment(`rewrote ${file}:\n${diff.join('\n')}`);
          writeFileSync(join(dir, file), next);
        }
      } else t.strictSame(found, golden.expected, 'reports match the header');
      t.match(file, /^[a-z0-9-]+-(?:x86_64|arm64)-\d+\.\d+(?:-[a-z0-9-]+)?\.log$/, 'named <kind>-<arch>-<kernel>[-variant].log');
    });
  }
}

const goldens = new Map<string, Golden>(files.map((f) => [f, parseGolden(readFileSync(join(dir, f), 'utf8'), f)]));
const byScript = [...goldens].filter(([, g]) => g.provenance.source === 'captured' && g.provenance['captured-by']?.startsWith(CAPTURED_BY));

t.test('every golden log says where it came from', async (t) => {
  const images = new Map(loadImages().map((i) => [i.id, i]));
  for (const [file, g] of goldens) {
    const p = g.provenance;
    t.ok(p.source === 'captured' || p.source === 'hand-written', `${file}: # source: captured or hand-written (got ${p.source})`);
    if (p.source === 'captured') t.ok(p['captured-by'], `${file}: # captured-by: says how`);
    if (p.source === 'hand-written') t.ok(p.why, `${file}: # why: says why no available kernel can produce it`);
    if (p['captured-by']?.startsWith(CAPTURED_BY)) {
      const image = images.get(p.image ?? '');
      t.ok(image, `${file}: # image: ${p.image} is in images/`);
      t.equal(p.kernel, image?.release, `${file}: # kernel: is that image's release`);
      t.ok(p.fault, `${file}: # fault: names the crasher fault`);
    }
  }
});

t.test('hand-written logs only for kinds no script capture has on that arch', async (t) => {
  const arch = (file: string): string => /-(x86_64|arm64)-/.exec(file)?.[1] ?? '';
  const captured = new Set(byScript.flatMap(([file, g]) => g.expected.map((e) => `${arch(file)} ${e.kind}`)));
  for (const [file, g] of goldens) {
    if (g.provenance.source !== 'hand-written') continue;
    for (const e of g.expected) t.notOk(captured.has(`${arch(file)} ${e.kind}`), `${file}: a real ${arch(file)} kernel produced ${e.kind}: capture it, do not write it`);
  }
});

t.test('every stock kernel in images/ has a captured log of every crasher fault', async (t) => {
  for (const image of stockImages()) {
    for (const [scenario, e] of Object.entries(expectations(image))) {
      const suffix = goldenName('', image, scenario).slice(1);
      const found = byScript.find(([file, g]) => file.endsWith(`-${suffix}`) && g.provenance.image === image.id);
      // The capture shows the fault's expected first report: kind and exact title.
      t.same(found && { kind: found[1].expected[0]?.kind, title: found[1].expected[0]?.title }, { kind: e.kind, title: e.title }, `${image.id}: ${scenario} captured (*-${suffix})`);
    }
  }
});

t.test('every kernel the rig builds has a captured log of every debugbugs fault', async (t) => {
  for (const image of builtImages()) {
    for (const [scenario, e] of Object.entries(debugbugsExpectations)) {
      const suffix = goldenName('', image, scenario).slice(1);
      const found = byScript.find(([file, g]) => file.endsWith(`-${suffix}`) && g.provenance.image === image.id);
      const first = found?.[1].expected[0];
      t.equal(first?.kind, e.kind, `${image.id}: ${scenario} captured (*-${suffix}) as ${e.kind}`);
      // A leak found after rmmod shows raw addresses: the log alone cannot name the function (the rig
      // names it from the load addresses it recorded; test/integration/debug-kernel.test.ts checks that).
      if (e.kind === 'memory-leak') t.equal(first?.title, 'memory leak', `${scenario}: the raw log's title`);
      else t.equal(first?.title, e.title, `${image.id}: ${scenario}: "${e.title}"`);
    }
  }
});

t.test('the header diff UPDATE_GOLDEN prints', async (t) => {
  t.same(lineDiff('# kind: a\n# title: old', '# kind: a\n# title: new'), ['  # kind: a', '- # title: old', '+ # title: new']);
  t.same(inCI({ CI: 'true' }), true);
  t.same(inCI({ CI: '' }), false);
  t.same(inCI({}), false);
});

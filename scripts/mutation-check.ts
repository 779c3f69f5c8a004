// Maintainer command: breaks the tree on purpose (in a temporary copy) and shows that the matching test fails each time.
//
//   npm run mutation-check [-- --quick]
//
// Mutations, each applied to a fresh copy of the working tree (node_modules and native/build are
// linked, the kernel cache is shared):
//   - every `/* @fault NAME */` statement of the crasher fixture neutralised at once (kept as dead
//     code, `if (0) { ... }`, so the mutant still builds with -Werror): the detector test must fail
//     for each fault scenario by name (one guest run covers them all);
//   - the crash-on-ack fault statement in kmod/ktest.c neutralised: the crash-on-ack test must fail;
//   - guest/agent.c made uncompilable: the agent tests must fail (not skip) with the compiler error;
//   - one golden log's expected title changed: the golden test must fail on that file, and
//     UPDATE_GOLDEN=1 under CI must refuse without rewriting it;
//   - clang hidden from PATH: the fuzz test must fail naming the package, not skip.
// The unmutated copy runs the same tests first and must pass. --quick leaves out the two that boot
// guests (the fault lines). Exit 0 when the baseline passes and every mutation was caught. A module
// mutant that does not build is said so plainly (THE MUTANT DOES NOT BUILD, with the compiler's
// error) and counts as not caught: a test that fails on the build proves nothing.
// A maintainer script, not part of npm test: the guest runs take minutes, and it tests the tests.
import { $ } from 'zx';
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { projectRoot } from '../rig/core/paths.ts';
import { faultLines } from '../test/helpers/fault-lines.ts';
import { expectations } from '../test/fixtures/scenarios/crasher.ts';
import { DEFAULT_IMAGE_ID, resolveImages } from '../rig/kernels/images.ts';

interface Outcome {
  readonly mutation: string;
  readonly test: string;
  readonly caught: boolean;
  readonly detail: string;
}

/** A copy of the working tree (tracked and untracked, not ignored files), with node_modules linked. */
async function copyTree(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ktest-rig-mutant-'));
  const files = (await $({ cwd: projectRoot })`git ls-files -co --exclude-standard`).stdout.split('\n').filter(Boolean);
  for (const file of files) {
    await mkdir(dirname(join(dir, file)), { recursive: true });
    await cp(join(projectRoot, file), join(dir, file), { verbatimSymlinks: true }).catch(() => undefined); // deleted but tracked
  }
  await symlink(join(projectRoot, 'node_modules'), join(dir, 'node_modules'));
  await mkdir(join(dir, 'native'), { recursive: true });
  await symlink(join(projectRoot, 'native', 'build'), join(dir, 'native', 'build')).catch(() => undefined);
  return dir;
}

/**
 * Makes the marked statement of `name` do nothing (the marker stays), in a way the fixture still
 * builds with -Werror: the statement stays in the source as dead code (`if (0) { ... }`), so every
 * variable and function it used is still used (a plain `barrier();` left `ptr`, `end` and `ref`
 * unused, and the mutant did not build). A marked `if (cond)` header becomes `if (0 && (cond))`.
 */
export function neutralise(source: string, name: string): string {
  const lines = source.split('\n');
  const mark = new RegExp(`/\\*\\s*@fault\\s+${name.replace(/[.]/g, '\\.')}\\s*\\*/`);
  const i = lines.findIndex((l) => mark.test(l));
  if (i < 0) throw new Error(`no @fault ${name}`);
  const line = lines[i]!;
  const indent = /^\s*/.exec(line)![0];
  const statement = line.replace(mark, '').trim();
  // The marker exactly as it was: the tests look the fault's line up by it (test/helpers/fault-lines.ts).
  const marker = `/* mutated */ /* @fault ${name} */`;
  let mutated: string;
  if (/^volatile char pad/.test(statement)) {
    // recursion's marked line is pad[]'s declaration: keep it and make the recursion finite instead.
    mutated = `${statement} if (depth > 16) return 0;`;
  } else if (/^if\s*\(.*\)$/.test(statement)) {
    mutated = statement.replace(/^if\s*\((.*)\)$/, 'if (0 && ($1))');
  } else if (/;$/.test(statement)) {
    mutated = `if (0) { ${statement} }`;
  } else {
    throw new Error(`@fault ${name}: cannot neutralise "${statement}" (a statement ending in ';' or an if header)`);
  }
  lines[i] = `${indent}${mutated}\t${marker}`;
  return lines.join('\n');
}

/** The rig's message when a module does not build, with the compiler's first error (null: it built). */
export function buildFailure(output: string): string | null {
  return /module build failed for [\w.-]+: (.*)/.exec(output)?.[1]?.trim() ?? null;
}

async function tap(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ exitCode: number; output: string }> {
  // node and tap by absolute path: a mutation may take PATH away.
  const tapBin = join(projectRoot, 'node_modules', 'tap', 'dist', 'esm', 'run.mjs');
  const r = await $({ cwd, nothrow: true, env: { ...process.env, ...env } })`/usr/bin/nice -n 15 ${process.execPath} ${tapBin} ${args}`;
  return { exitCode: r.exitCode ?? -1, output: `${r.stdout}\n${r.stderr}` };
}

async function mutant(mutation: string, apply: (dir: string) => Promise<void>, check: (dir: string) => Promise<Omit<Outcome, 'mutation'>[]>): Promise<Outcome[]> {
  const dir = await copyTree();
  try {
    await apply(dir);
    return (await check(dir)).map((o) => ({ mutation, ...o }));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const BASELINE = '(none: the tree as it is)';

async function main(): Promise<number> {
  const started = Date.now();
  const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false } } });
  const outcomes: Outcome[] = [];
  const crasher = 'test/fixtures/kmods/crasher';

  // First the unmutated tree: a test that already fails would "catch" every mutation.
  const baseline = [['test/rig/vm/agent-protocol.test.ts'], ['test/rig/detect/golden.test.ts'], ['test/native/fuzz.test.ts'],
    ...(values.quick ? [] : [['test/integration/detectors.test.ts'], ['test/integration/rig.test.ts', '--grep=oopses']])];
  outcomes.push(
    ...(await mutant(BASELINE, async () => {}, async (d) => {
      const results = [];
      for (const args of baseline) {
        const r = await tap(d, args);
        results.push({ test: `${args.join(' ')} passes`, caught: r.exitCode === 0, detail: `exit ${r.exitCode}` });
      }
      return results;
    })),
  );

  outcomes.push(
    ...(await mutant('guest/agent.c does not compile', async (d) => writeFile(join(d, 'guest/agent.c'), `${await readFile(join(d, 'guest/agent.c'), 'utf8')}\nint mutant(void) { return }\n`), async (d) => {
      const r = await tap(d, ['test/rig/vm/agent-protocol.test.ts']);
      return [{ test: 'test/rig/vm/agent-protocol.test.ts', caught: r.exitCode !== 0 && /guest\/agent\.c does not build/.test(r.output) && !/# SKIP/.test(r.output), detail: `exit ${r.exitCode}` }];
    })),
  );

  const golden = 'test/fixtures/logs/warning-x86_64-6.1-warn.log';
  outcomes.push(
    ...(await mutant(`a wrong title in ${golden}`, async (d) => {
      const text = await readFile(join(d, golden), 'utf8');
      await writeFile(join(d, golden), text.replace(/^# title: .*$/m, '# title: WARNING in crasher_mutant'));
    }, async (d) => {
      const r = await tap(d, ['test/rig/detect/golden.test.ts']);
      const before = await readFile(join(d, golden), 'utf8');
      const ci = await tap(d, ['test/rig/detect/golden.test.ts'], { UPDATE_GOLDEN: '1', CI: 'true' });
      const after = await readFile(join(d, golden), 'utf8');
      return [
        { test: 'test/rig/detect/golden.test.ts', caught: r.exitCode !== 0 && new RegExp(`not ok \\d+ - ${golden.split('/').pop()!.replace(/\./g, '\\.')}`).test(r.output), detail: `exit ${r.exitCode}` },
        { test: 'UPDATE_GOLDEN=1 CI=true golden.test.ts', caught: ci.exitCode !== 0 && before === after && /refuses to run under CI/.test(ci.output), detail: `exit ${ci.exitCode}, header ${before === after ? 'kept' : 'REWRITTEN'}` },
      ];
    })),
  );

  outcomes.push(
    ...(await mutant('clang missing from PATH', async () => {}, async (d) => {
      const bin = join(d, '.mutant-bin');
      await mkdir(bin);
      await symlink(process.execPath, join(bin, 'node'));
      const r = await tap(d, ['test/native/fuzz.test.ts'], { PATH: bin });
      return [{ test: 'test/native/fuzz.test.ts', caught: r.exitCode !== 0 && /missing host tools: clang/.test(r.output) && !/# SKIP/.test(r.output), detail: `exit ${r.exitCode}` }];
    })),
  );

  if (!values.quick) {
    const marks = faultLines(join(projectRoot, crasher));
    outcomes.push(
      ...(await mutant('every @fault statement of the crasher neutralised', async (d) => {
        let source = await readFile(join(d, crasher, 'crasher.c'), 'utf8');
        for (const name of marks.keys()) source = neutralise(source, name);
        await writeFile(join(d, crasher, 'crasher.c'), source);
      }, async (d) => {
        const r = await tap(d, ['test/integration/detectors.test.ts']);
        const unbuilt = buildFailure(r.output);
        return Object.entries(expectations(resolveImages(DEFAULT_IMAGE_ID)[0]!)).map(([scenario, e]) => ({
          test: `detectors.test.ts: ${scenario} (@fault ${e.fault})`,
          // A mutant that does not build fails the test for that reason alone: not a caught mutation.
          caught: !unbuilt && new RegExp(`not ok \\d+ - ${scenario}(?: fails|: )`).test(r.output),
          detail: unbuilt ? `THE MUTANT DOES NOT BUILD: ${unbuilt}` : `exit ${r.exitCode}`,
        }));
      })),
    );
    outcomes.push(
      ...(await mutant('the crash-on-ack fault statement neutralised', async (d) => {
        // crash-on-ack/ktest.c links to kmod/ktest.c; the copy keeps the link, so mutate its target.
        await writeFile(join(d, 'kmod/ktest.c'), neutralise(await readFile(join(d, 'kmod/ktest.c'), 'utf8'), 'oops_on_ack'));
      }, async (d) => {
        const r = await tap(d, ['test/integration/rig.test.ts', '--grep=oopses']);
        const unbuilt = buildFailure(r.output);
        return [{ test: 'rig.test.ts: crash-on-ack', caught: !unbuilt && r.exitCode !== 0 && /not ok \d+ - a module that oopses/.test(r.output), detail: unbuilt ? `THE MUTANT DOES NOT BUILD: ${unbuilt}` : `exit ${r.exitCode}` }];
      })),
    );
  }

  const width = Math.max(...outcomes.map((o) => o.mutation.length));
  process.stdout.write(`${'mutation'.padEnd(width)}  ok      test (the baseline must pass, each mutation must be caught)\n`);
  for (const o of outcomes) process.stdout.write(`${o.mutation.padEnd(width)}  ${o.caught ? 'yes   ' : 'NO    '}  ${o.test} (${o.detail})\n`);
  const unbuilt = outcomes.filter((o) => o.detail.startsWith('THE MUTANT DOES NOT BUILD'));
  if (unbuilt.length) process.stdout.write(`${new Set(unbuilt.map((o) => o.mutation)).size} mutant(s) did not build: their tests failed on the build, which proves nothing about the tests (counted as NOT caught)\n`);
  const missed = outcomes.filter((o) => !o.caught);
  const baselineRuns = outcomes.filter((o) => o.mutation === BASELINE).length;
  const mutations = new Set(outcomes.filter((o) => o.mutation !== BASELINE).map((o) => o.mutation)).size;
  const minutes = ((Date.now() - started) / 60_000).toFixed(1);
  process.stdout.write(missed.length
    ? `${missed.length} check(s) failed (a failing baseline, or a mutation NOT caught) in ${minutes} min\n`
    : `baseline passes (${baselineRuns} test runs); ${mutations} mutants, all ${outcomes.length - baselineRuns} checks caught; ${minutes} min\n`);
  return missed.length ? 1 : 0;
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  $.verbose = false;
  main().then(
    (code) => (process.exitCode = code),
    (error: unknown) => {
      process.stderr.write(`mutation-check: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 2;
    },
  );
}

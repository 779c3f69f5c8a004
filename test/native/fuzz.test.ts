// Builds the libFuzzer target native/fuzz/fuzz_decode.c with clang and fuzzes it for a bounded time; a crash fails and keeps its input.
import t from 'tap';
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from '../../rig/core/paths.ts';
import { missingTools } from '../helpers/host-tools.ts';

const run = promisify(execFile);
const FUZZ_SECONDS = Number(process.env.KTEST_FUZZ_SECONDS ?? 15);
/**
 * Where a crashing input is kept (gitignored; CI uploads it): copy it into native/fuzz/corpus/ once
 * the bug is fixed. KTEST_FUZZ_ARTIFACTS overrides it.
 */
const ARTIFACT_DIR = process.env.KTEST_FUZZ_ARTIFACTS ?? join(projectRoot, '.tap', 'fuzz-artifacts');

function fuzz(exe: string, args: string[], cwd: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(exe, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk: Buffer): void => {
      output = (output + chunk.toString()).slice(-20000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

t.test('fuzz_decode survives a bounded fuzzing run', async (t) => {
  // Never a skip: a missing clang or libFuzzer runtime fails, naming the package (npm test's pretest installs both).
  const missing = await missingTools('clang', 'libFuzzer runtime');
  if (missing) {
    t.fail(missing);
    return;
  }
  const clang = 'clang';
  t.setTimeout((FUZZ_SECONDS + 45) * 1000);
  const dir = await mkdtemp(join(tmpdir(), 'ktnl-fuzz-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const lib = join(projectRoot, 'native', 'lib');
  const sources = (await readdir(lib)).filter((f) => f.endsWith('.c')).map((f) => join(lib, f));
  const exe = join(dir, 'fuzz_decode');
  await run(clang, [
    '-g', '-O1', '-fsanitize=fuzzer,address,undefined', '-fno-sanitize-recover=all',
    '-I', join(projectRoot, 'native', 'include'), '-I', join(projectRoot, 'kmod'),
    join(projectRoot, 'native', 'fuzz', 'fuzz_decode.c'), ...sources, '-o', exe,
  ]);
  const work = join(dir, 'corpus');
  await mkdir(work);
  const corpus = join(projectRoot, 'native', 'fuzz', 'corpus');
  t.ok((await readdir(corpus)).length > 0, 'the committed corpus has seeds');
  // New inputs go to the first (temporary) corpus dir; the committed one is only read.
  await mkdir(ARTIFACT_DIR, { recursive: true });
  const before = new Set(await readdir(ARTIFACT_DIR));
  const { code, output } = await fuzz(
    exe,
    [`-max_total_time=${FUZZ_SECONDS}`, '-timeout=10', '-rss_limit_mb=2048', '-max_len=20000',
      `-artifact_prefix=${ARTIFACT_DIR}/`, work, corpus],
    dir,
  );
  const artifacts = (await readdir(ARTIFACT_DIR)).filter((f) => !before.has(f)).map((f) => join(ARTIFACT_DIR, f));
  t.same(artifacts, [], `no crashing input written (a crash keeps it here: add it to native/fuzz/corpus/ with the fix)`);
  t.notMatch(output, /ERROR: (libFuzzer|AddressSanitizer)|runtime error:|check failed/, 'no crash reported');
  t.equal(code, 0, `fuzzer exit status\n${output.slice(-3000)}`);
  t.match(output, /Done \d+ runs/, 'the fuzzer ran to its time limit');
});

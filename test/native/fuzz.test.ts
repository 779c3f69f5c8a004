// Builds the libFuzzer target native/fuzz/fuzz_decode.c with clang and fuzzes it for a bounded time; a crash fails.
import t from 'tap';
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from '../../rig/core/paths.ts';

const run = promisify(execFile);
const FUZZ_SECONDS = Number(process.env.KTEST_FUZZ_SECONDS ?? 15);

async function findClang(): Promise<string | undefined> {
  for (const name of ['clang', 'clang-16', 'clang-15', 'clang-14']) {
    try {
      await run(name, ['--version']);
      return name;
    } catch {
      // try the next one
    }
  }
  return undefined;
}

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

const clang = await findClang();
const skip = clang ? false : 'clang not installed (apt-get install clang-14 libclang-rt-14-dev)';

t.test('fuzz_decode survives a bounded fuzzing run', { skip }, async (t) => {
  if (!clang) return;
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
  const { code, output } = await fuzz(
    exe,
    [`-max_total_time=${FUZZ_SECONDS}`, '-timeout=10', '-rss_limit_mb=2048', '-max_len=20000',
      `-artifact_prefix=${dir}/`, work, corpus],
    dir,
  );
  t.notMatch(output, /ERROR: (libFuzzer|AddressSanitizer)|runtime error:|check failed/, 'no crash reported');
  t.equal(code, 0, `fuzzer exit status\n${output.slice(-3000)}`);
  t.match(output, /Done \d+ runs/, 'the fuzzer ran to its time limit');
});

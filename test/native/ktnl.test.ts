// Builds test/native/ktnl_selftest.c against native/lib with ASan/UBSan and runs it; a failed build is a failure.
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from '../../rig/core/paths.ts';

const run = promisify(execFile);

async function librarySources(): Promise<string[]> {
  const dir = join(projectRoot, 'native', 'lib');
  return (await readdir(dir)).filter((f) => f.endsWith('.c')).map((f) => join(dir, f));
}

async function build(out: string, extra: string[]): Promise<void> {
  await run('cc', [
    '-std=gnu11', '-Wall', '-Wextra', '-Werror', '-g', ...extra,
    '-I', join(projectRoot, 'native', 'include'), '-I', join(projectRoot, 'kmod'),
    join(projectRoot, 'test', 'native', 'ktnl_selftest.c'), ...(await librarySources()),
    '-o', out,
  ]);
}

t.test('the C library passes its unit checks', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ktnl-selftest-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const exe = join(dir, 'selftest');
  // No fallback without sanitizers: gcc (a host-tools row) ships libasan and libubsan, so a failed build is ours.
  const built = await build(exe, ['-fsanitize=address,undefined', '-fno-sanitize-recover=all']).then(
    () => undefined,
    (error: { stderr?: string; message?: string }) => String(error.stderr || error.message),
  );
  if (built !== undefined) {
    t.fail(`the sanitizer build of ktnl_selftest.c failed:\n${built}`);
    return;
  }
  const result = await run(exe, []).catch((error: { stdout?: string; stderr?: string; code?: number }) => error);
  const stdout = String(result.stdout ?? '');
  const lines = stdout.split('\n');
  const oks = lines.filter((l) => l.startsWith('ok '));
  const notOks = lines.filter((l) => l.startsWith('not ok '));
  for (const line of notOks) t.fail(line);
  t.same(notOks, [], 'no failed checks');
  t.ok(oks.length >= 20, `ran the checks (${oks.length})`);
  t.match(stdout, new RegExp(`1\\.\\.${oks.length}\\n`), 'plan matches, no crash midway');
  t.equal('code' in result ? result.code : 0, 0, `exit status (stderr: ${String(result.stderr ?? '')})`);
});

// Which kernels can count a module's lines: read from the kernels' own configurations and the images' fragments.
import t from 'tap';
import { readFile } from 'node:fs/promises';
import { configHasGcov, gcovImages, gcovTool, kernelConfigPath, noGcovError, requireGcov } from '../../../rig/build/coverage.ts';
import { ExitCode, UsageError } from '../../../rig/core/errors.ts';
import { defaultKernel } from '../../helpers/rig.ts';

t.test('the images whose fragments turn gcov on', async (t) => {
  t.same(await gcovImages(), ['bookworm-6.1-debug'], 'the debug image, read from images/bookworm-6.1-debug/*.config');
});

t.test('a stock kernel is refused with one line naming the image that can', async (t) => {
  const kernel = await defaultKernel();
  const config = await readFile(kernelConfigPath(kernel.headersDir), 'utf8');
  t.match(config, /^# CONFIG_GCOV_KERNEL is not set$/m, "Debian's 6.1 configuration (its headers' .config)");
  t.notOk(configHasGcov(config));
  const error = await requireGcov(kernel).then(() => undefined, (e: unknown) => e);
  t.ok(error instanceof UsageError, 'a usage error');
  t.equal((error as UsageError).exitCode, ExitCode.usage, 'exit 2');
  t.equal((error as UsageError).message, '--coverage: the kernel of bookworm-6.1 has no gcov support (CONFIG_GCOV_KERNEL is not set); bookworm-6.1-debug has it');
  t.equal((error as UsageError).hint, 'npm run rig -- --kernel bookworm-6.1-debug --coverage');
});

t.test('pure parts', async (t) => {
  t.ok(configHasGcov('CONFIG_X=y\nCONFIG_GCOV_KERNEL=y\n'));
  t.notOk(configHasGcov('CONFIG_GCOV_KERNEL=m\n'));
  t.equal(gcovTool({ cc: 'gcc-12' }), 'gcov-12');
  t.equal(gcovTool({ cc: 'gcc-12', crossCompile: 'aarch64-linux-gnu-' }), 'aarch64-linux-gnu-gcov-12');
  t.match(noGcovError('x', []).hint, /CONFIG_GCOV_KERNEL=y/);
});

// The debug image's config on the real source: every option its fragments ask for survives olddefconfig.
import t from 'tap';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configureSource, builtPaths } from '../../rig/build/kernel.ts';
import { loadImages } from '../../rig/kernels/images.ts';
import { cacheRoot } from '../../rig/core/paths.ts';
import type { BuiltImageSpec } from '../../rig/kernels/spec.ts';

// Downloads linux-source-6.1 (139 MB) once into the cache, unpacks it (about 30 s) and configures it.
t.setTimeout(10 * 60_000);

const image = loadImages().find((i) => i.id === 'bookworm-6.1-debug') as BuiltImageSpec;

t.test('bookworm-6.1-debug: fragments on allnoconfig, olddefconfig keeps every asked option, the patch applies', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ktest-kconfig-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const config = await configureSource(image, { cacheDir: cacheRoot() }, dir);
  for (const [name, value] of [
    ['CONFIG_KASAN', 'y'], ['CONFIG_KASAN_GENERIC', 'y'], ['CONFIG_DEBUG_KMEMLEAK', 'y'], ['CONFIG_PROVE_LOCKING', 'y'],
    ['CONFIG_DEBUG_ATOMIC_SLEEP', 'y'], ['CONFIG_UBSAN_BOUNDS', 'y'], ['CONFIG_UBSAN_SHIFT', 'y'], ['CONFIG_FAILSLAB', 'y'],
    ['CONFIG_FAIL_PAGE_ALLOC', 'y'], ['CONFIG_FAULT_INJECTION_DEBUG_FS', 'y'], ['CONFIG_DEBUG_INFO_DWARF5', 'y'],
    ['CONFIG_GDB_SCRIPTS', 'y'], ['CONFIG_GCOV_KERNEL', 'y'], ['CONFIG_PVH', 'y'], ['CONFIG_MODULE_UNLOAD', 'y'],
  ] as const) {
    t.equal(config.get(name), value, `${name}=${value} in the resulting .config`);
  }
  // 6.1 has no failslab stack filter on x86_64 (fail-nth is used instead): the fragments must not ask for it.
  t.not(config.get('CONFIG_FAULT_INJECTION_STACKTRACE_FILTER'), 'y');
  const dotConfig = await readFile(join(builtPaths(dir).out, '.config'), 'utf8');
  t.match(dotConfig, /^CONFIG_LOCALVERSION="-ktest-debug"$/m);
  const kmemleak = await readFile(join(builtPaths(dir).src, 'mm', 'kmemleak.c'), 'utf8');
  t.match(kmemleak, /module_param_named\(min_age_ms, kmemleak_min_age_ms, uint, 0600\)/, 'the min-age patch applied');
});

// The kernel builder's pure parts: fragments, .config checks, progress lines, the cache key (the entry's lock and atomic rename are rig/core/cache.ts's).
import t from 'tap';
import {
  buildKey,
  isObjectLine,
  lastErrorLine,
  missingOptions,
  parseDotConfig,
  parseFragment,
  readInputs,
} from '../../../rig/build/kernel.ts';
import { imagesDir, loadImages } from '../../../rig/kernels/images.ts';
import { isBuiltImage, type BuiltImageSpec } from '../../../rig/kernels/spec.ts';

const debug = loadImages().find((i) => i.id === 'bookworm-6.1-debug') as BuiltImageSpec;

t.test('fragments: set and unset options, comments skipped, garbage refused', async (t) => {
  t.same(parseFragment('# comment\nCONFIG_A=y\n\nCONFIG_B="x y"\n# CONFIG_C is not set\n'), [
    { name: 'CONFIG_A', value: 'y' },
    { name: 'CONFIG_B', value: '"x y"' },
    { name: 'CONFIG_C', value: 'n' },
  ]);
  t.throws(() => parseFragment('KASAN=y\n'), /not a config line/);
});

t.test('missingOptions: what olddefconfig dropped or changed; the last ask wins', async (t) => {
  const config = parseDotConfig('CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_N=16000\n');
  t.same(missingOptions(parseFragment('CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_N=16000\n'), config), []);
  t.same(missingOptions(parseFragment('CONFIG_B=y\nCONFIG_MISSING=y\n# CONFIG_ABSENT is not set\n'), config), [
    { name: 'CONFIG_B', value: 'y' },
    { name: 'CONFIG_MISSING', value: 'y' },
  ], 'an unset option absent from .config counts as not set');
  t.same(missingOptions(parseFragment('CONFIG_A=n\nCONFIG_A=y\n'), config), []);
});

t.test('progress counts compiled objects only', async (t) => {
  t.ok(isObjectLine('  CC      mm/kasan/common.o'));
  t.ok(isObjectLine('  AS      arch/x86/entry/entry_64.o'));
  t.notOk(isObjectLine('  AR      fs/built-in.a'));
  t.notOk(isObjectLine('  HOSTCC  scripts/basic/fixdep'));
  t.notOk(isObjectLine('  LD      vmlinux.o'));
  t.equal(lastErrorLine('  CC x.o\nx.c:1:2: error: expected ;\nmake: *** [x.o] Error 1\n'), 'x.c:1:2: error: expected ;');
  t.equal(lastErrorLine('a\nb\n'), 'b');
});

t.test('the debug image: fragments and patch exist, the key changes with every input', async (t) => {
  t.ok(isBuiltImage(debug));
  const inputs = await readInputs(debug, imagesDir);
  t.ok(inputs.fragments.length >= 2 && inputs.patches.length >= 1);
  t.match(inputs.toolchainVersion, /gcc/);
  const asked = inputs.fragments.flatMap((f) => parseFragment(f.text)).map((o) => o.name);
  for (const o of ['CONFIG_KASAN', 'CONFIG_DEBUG_KMEMLEAK', 'CONFIG_PROVE_LOCKING', 'CONFIG_DEBUG_ATOMIC_SLEEP', 'CONFIG_UBSAN_BOUNDS', 'CONFIG_UBSAN_SHIFT', 'CONFIG_FAILSLAB', 'CONFIG_FAIL_PAGE_ALLOC', 'CONFIG_FAULT_INJECTION_DEBUG_FS', 'CONFIG_GDB_SCRIPTS', 'CONFIG_DEBUG_LIST', 'CONFIG_GCOV_KERNEL', 'CONFIG_PVH']) {
    t.ok(asked.includes(o), `the fragments ask for ${o}`);
  }
  const key = buildKey(debug, inputs);
  t.match(key, /^bookworm-6\.1-debug-[0-9a-f]{12}$/);
  t.equal(buildKey(debug, inputs), key, 'stable');
  const changed = (what: string, other: string) => t.not(other, key, `${what} changes the key`);
  changed('a fragment', buildKey(debug, { ...inputs, fragments: [...inputs.fragments, { name: 'x.config', text: 'CONFIG_X=y\n' }] }));
  changed('a patch', buildKey(debug, { ...inputs, patches: [] }));
  changed('the compiler version', buildKey(debug, { ...inputs, toolchainVersion: 'gcc-12 (Debian 12.2.0-99) 12.2.0' }));
  changed('the source pin', buildKey({ ...debug, packages: { source: { ...debug.packages.source, sha256: 'f'.repeat(64) } } }, inputs));
});

// Tests the environment table: every variable the code reads is in it, enumerated values are checked, misspelt names are errors.
import t from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ENV_VARS, checkEnv, envChoice, envFlag, envString, envRows } from '../../../rig/core/env.ts';
import { projectRoot } from '../../../rig/core/paths.ts';

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : files(path);
    return /\.(ts|js|c|yml)$|^init$|^run$/.test(e.name) ? [path] : [];
  });
}

/** Variables of the system, not settings of the rig. */
const SYSTEM = new Set(['PATH', 'HOME']);

t.test('every environment variable read in rig/, guest/, bin/, test/, .ci/ and .github/ is in the table', async (t) => {
  const known = new Set<string>(ENV_VARS.map((v) => v.name));
  const sources = ['rig', 'guest', 'bin', 'test', '.ci', '.github'].flatMap((d) => files(join(projectRoot, d)));
  const read = /(?:process\.)?\benv(?:\.|\[')([A-Z][A-Z0-9_]+)|\benv(?:Choice|Flag|String)\('([A-Z0-9_]+)'|\$\{?(KTEST_[A-Z0-9_]+)/g;
  const named = new Set(sources.flatMap((f) => [...readFileSync(f, 'utf8').matchAll(read)].map((m) => (m[1] ?? m[2] ?? m[3])!)));
  for (const name of named) if (!SYSTEM.has(name)) t.ok(known.has(name), `${name} is in ENV_VARS (rig/core/env.ts)`);
  for (const name of ['KTEST_RIG_ACCEL', 'KTEST_RIG_CACHE', 'CI', 'UPDATE_GOLDEN']) t.ok(named.has(name), `the scan finds ${name}`);
  for (const v of ENV_VARS) t.ok(named.has(v.name), `${v.name} is read somewhere (no stale row)`);
});

t.test('enumerated values: unset is undefined, a misspelt value is a usage error naming the allowed ones', async (t) => {
  t.equal(envChoice('KTEST_RIG_ACCEL', {}), undefined);
  t.equal(envChoice('KTEST_RIG_ACCEL', { KTEST_RIG_ACCEL: '' }), undefined);
  t.equal(envChoice('KTEST_RIG_ACCEL', { KTEST_RIG_ACCEL: 'kvm' }), 'kvm');
  t.throws(() => envChoice('KTEST_RIG_ACCEL', { KTEST_RIG_ACCEL: 'TCG' }), { name: 'UsageError', exitCode: 2, message: 'KTEST_RIG_ACCEL=TCG is not one of: kvm, tcg' });
  t.throws(() => envChoice('KTEST_RIG_BOOTSTRAP', { KTEST_RIG_BOOTSTRAP: 'cdebootstrap' }), /not one of: mmdebstrap, debootstrap/);
});

t.test('flags and strings', async (t) => {
  t.ok(envFlag('KTEST_RIG_NO_INSTALL', { KTEST_RIG_NO_INSTALL: 'yes' }));
  t.notOk(envFlag('KTEST_RIG_NO_INSTALL', { KTEST_RIG_NO_INSTALL: '0' }));
  t.notOk(envFlag('KTEST_RIG_NO_INSTALL', { KTEST_RIG_NO_INSTALL: '' }));
  t.equal(envString('KTEST_RIG_DEBIAN_MIRROR', { KTEST_RIG_DEBIAN_MIRROR: '' }), undefined);
  t.equal(envString('KTEST_RIG_DEBIAN_MIRROR', { KTEST_RIG_DEBIAN_MIRROR: 'http://m/debian' }), 'http://m/debian');
});

t.test('checkEnv: bad values and unknown KTEST_RIG_ names fail before any work', async (t) => {
  t.doesNotThrow(() => checkEnv({ KTEST_RIG_ACCEL: 'tcg', KTEST_RIG_CACHE: '/x', PATH: '/bin', KTEST_RIG_MATRIX_IMAGES: 'a' }));
  t.throws(() => checkEnv({ KTEST_RIG_ACCEL: 'hax' }), { name: 'UsageError', message: /KTEST_RIG_ACCEL=hax/ });
  const misspelt = `KTEST_RIG_${'ACEL'}`; // built, so that the scan above does not find it in this file
  t.throws(() => checkEnv({ [misspelt]: 'tcg' }), { name: 'UsageError', message: new RegExp(`unknown environment variable ${misspelt}; the rig reads .*KTEST_RIG_ACCEL`) });
});

t.test('help rows: the rig\'s variables with their values and defaults', async (t) => {
  const rows = new Map(envRows('rig'));
  t.match(rows.get('KTEST_RIG_ACCEL'), /\(kvm \| tcg\); unset: /);
  t.notOk(rows.has('UPDATE_GOLDEN'), 'test-only variables are not in the rig\'s help');
  t.ok(new Map(envRows('tests')).has('UPDATE_GOLDEN'));
});

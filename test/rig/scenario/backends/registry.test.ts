import t from 'tap';
import { BACKENDS, BACKEND_NAMES, isBackendName, runsOn } from '../../../../rig/scenario/backends/registry.ts';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../../../rig/core/paths.ts';

t.test('every registered backend has its implementation beside the registry', async (t) => {
  t.strictSame(BACKEND_NAMES, Object.keys(BACKENDS));
  for (const name of BACKEND_NAMES) t.ok(existsSync(join(projectRoot, 'rig', 'scenario', 'backends', `${name}.ts`)), `${name}.ts`);
});

t.test('isBackendName and runsOn', async (t) => {
  t.ok(isBackendName('guest') && isBackendName('host'));
  t.notOk(isBackendName('qemu') || isBackendName('toString') || isBackendName(undefined));
  t.ok(runsOn({}, 'guest') && runsOn({}, 'host'), 'no backends: runs everywhere');
  t.ok(runsOn({ backends: ['host'] }, 'host'));
  t.notOk(runsOn({ backends: ['host'] }, 'guest'));
});

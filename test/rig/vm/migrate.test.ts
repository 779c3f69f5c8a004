import t from 'tap';
import { migrateToFile, MIGRATE_MAX_BANDWIDTH, waitMigration } from '../../../rig/vm/migrate.ts';
import { QemuError } from '../../../rig/core/errors.ts';

/** A scripted QMP: records commands, answers query-migrate from a list of statuses. */
function fakeQmp(statuses: (string | undefined)[], errorDesc?: string) {
  const calls: { command: string; args?: Record<string, unknown> }[] = [];
  return {
    calls,
    async execute<T>(command: string, args?: Record<string, unknown>): Promise<T> {
      calls.push({ command, args });
      if (command !== 'query-migrate') return {} as T;
      const status = statuses.length > 1 ? statuses.shift() : statuses[0];
      return (status === undefined ? {} : { status, ...(errorDesc ? { 'error-desc': errorDesc } : {}) }) as T;
    },
  };
}

t.test('migrateToFile: stop, unthrottle, migrate to exec:cat > file, poll to completion', async (t) => {
  const qmp = fakeQmp(['setup', 'active', 'active', 'completed']);
  await migrateToFile(qmp, "/w/it's.snap", 5000);
  t.same(
    qmp.calls.map((c) => c.command),
    ['stop', 'migrate-set-parameters', 'migrate', 'query-migrate', 'query-migrate', 'query-migrate', 'query-migrate'],
  );
  t.same(qmp.calls[1]!.args, { 'max-bandwidth': MIGRATE_MAX_BANDWIDTH });
  t.same(qmp.calls[2]!.args, { uri: `exec:cat > '/w/it'\\''s.snap'` });
});

t.test('waitMigration: failure and timeout are QemuErrors', async (t) => {
  await t.rejects(waitMigration(fakeQmp(['active', 'failed'], 'disk full'), Date.now() + 5000, 'saving'), {
    name: 'QemuError',
    message: /saving: migration failed: disk full/,
  });
  await t.rejects(waitMigration(fakeQmp(['active']), Date.now() + 30, 'restoring'), QemuError);
  await t.resolves(waitMigration(fakeQmp([undefined, 'active', 'completed']), Date.now() + 5000, 'restoring'), 'no status yet on an incoming QEMU is waited out');
});

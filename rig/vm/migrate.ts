// QMP migration to and from a file: the primitive under snapshots (save a stopped VM, wait for a restore).
import { QemuError } from '../core/errors.ts';
import { migrateToFileUri } from './qemu-args.ts';
import type { QmpClient } from './qmp.ts';

/** No throttling: the default max-bandwidth (32 MiB/s) would make a 60 MB save take 2 s. */
export const MIGRATE_MAX_BANDWIDTH = 64 * 1024 * 1024 * 1024;
const POLL_MS = 5;

interface MigrateInfo {
  readonly status?: string;
  readonly 'error-desc'?: string;
}

/**
 * Stop the VM and write its state to `file` (QEMU 7.2 has no file: URI: `exec:cat > FILE`).
 * The VM stays stopped; the caller kills QEMU afterwards.
 */
export async function migrateToFile(qmp: Pick<QmpClient, 'execute'>, file: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  await qmp.execute('stop');
  await qmp.execute('migrate-set-parameters', { 'max-bandwidth': MIGRATE_MAX_BANDWIDTH });
  await qmp.execute('migrate', { uri: migrateToFileUri(file) });
  await waitMigration(qmp, deadline, `saving snapshot ${file}`);
}

/** Poll query-migrate until the migration completed; throw on failure or when `deadline` passes. */
export async function waitMigration(qmp: Pick<QmpClient, 'execute'>, deadline: number, what: string): Promise<void> {
  for (;;) {
    const info = await qmp.execute<MigrateInfo>('query-migrate');
    if (info.status === 'completed') return;
    if (info.status === 'failed' || info.status === 'cancelled') {
      throw new QemuError(`${what}: migration ${info.status}${info['error-desc'] ? `: ${info['error-desc']}` : ''}`);
    }
    if (Date.now() >= deadline) throw new QemuError(`${what}: migration timed out (status ${info.status ?? 'none'})`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

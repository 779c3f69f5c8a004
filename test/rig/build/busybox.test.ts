// Unit tests for the guest busybox: static checks and the per-arch cache (no network: the cache is pre-filled).
import t from 'tap';
import { missingTools } from '../../helpers/host-tools.ts';
import { writeRecord } from '../../../rig/core/cache.ts';
import { existsSync } from 'node:fs';
import { fakeElf } from '../../helpers/elf.ts';
import { createHash } from 'node:crypto';
import { mkdtemp, mkdir, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUSYBOX_KEY, busyboxFor, isStaticFor, newest } from '../../../rig/build/busybox.ts';
import { MissingToolError } from '../../../rig/core/errors.ts';

t.test('isStaticFor on real host binaries', { skip: process.arch === 'x64' ? false : 'the host-tools table assumes an amd64 host' }, async (t) => {
  const missing = await missingTools('busybox');
  if (missing) return void t.fail(missing);
  t.ok(await isStaticFor('/bin/busybox', 'x86_64'), 'busybox-static is static');
  t.notOk(await isStaticFor('/bin/busybox', 'arm64'), 'wrong arch');
  t.notOk(await isStaticFor('/bin/ls', 'x86_64'), 'ls is dynamic');
  t.notOk(await isStaticFor('/nonexistent', 'x86_64'));
});

t.test('busyboxFor: native arch uses the host busybox, if static', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'arch-test-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'static'), fakeElf(62, false));
  await writeFile(join(dir, 'dynamic'), fakeElf(62, true));
  t.equal(await busyboxFor('x86_64', { host: 'x86_64', hostBusybox: join(dir, 'static') }), join(dir, 'static'));
  await t.rejects(busyboxFor('x86_64', { host: 'x86_64', hostBusybox: join(dir, 'dynamic') }), MissingToolError);
  await t.rejects(busyboxFor('x86_64', { host: 'x86_64', hostBusybox: join(dir, 'missing') }), MissingToolError);
});

t.test('busyboxFor: foreign arch comes from the cache when a verified copy is there', async (t) => {
  const cache = await mkdtemp(join(tmpdir(), 'arch-test-'));
  t.teardown(() => rm(cache, { recursive: true, force: true }));
  const bin = fakeElf(183, false);
  const sha256 = createHash('sha256').update(bin).digest('hex');
  const entry = join(cache, 'busybox', 'arm64', `1.35-${sha256.slice(0, 12)}`);
  await mkdir(entry, { recursive: true });
  await writeFile(join(entry, 'busybox'), bin);
  await writeFile(join(entry, 'busybox.json'), JSON.stringify({ package: 'busybox-static', version: '1.35', debSha256: 'x', sha256 }));
  await writeRecord(entry, BUSYBOX_KEY);
  // A half-written entry (no record) is removed, saying so, and never used.
  await mkdir(join(cache, 'busybox', 'arm64', 'zz-half'), { recursive: true });
  await writeFile(join(cache, 'busybox', 'arm64', 'zz-half', 'busybox'), bin);
  const events: unknown[] = [];
  const got = await busyboxFor('arm64', { host: 'x86_64', cacheDir: cache, onEvent: (e) => events.push(e) });
  t.equal(got, join(entry, 'busybox'));
  t.match(events, [{ type: 'log', level: 'warn', message: /busybox zz-half is damaged \(no verification record/ }], 'no download, one line');
  t.notOk(existsSync(join(cache, 'busybox', 'arm64', 'zz-half')));
});

t.test('newest: Debian version order, no dpkg', async (t) => {
  const rec = (version: string) => ({ version }) as Parameters<typeof newest>[0][number];
  t.equal(newest([rec('1:1.35.0-4'), rec('1:1.35.0-4+b3'), rec('1:1.30.1-6')])?.version, '1:1.35.0-4+b3');
  t.equal(newest([rec('1.36~rc1-1'), rec('1.35-1')])?.version, '1.36~rc1-1');
  t.equal(newest([]), undefined);
});

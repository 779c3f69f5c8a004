// The agent's kernel-log records, captured from a real 6.1 guest (user-space writes, an escaped line, a kernel record, then dmesg -c): parse, split by facility, judge only the kernel's.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatRecord, parseKmsg, splitByFacility, unescapeKmsg } from '../../../rig/detect/kmsg.ts';
import { findReports } from '../../../rig/detect/parse.ts';
import { projectRoot } from '../../../rig/core/paths.ts';

const captured = readFileSync(join(projectRoot, 'test/fixtures/kmsg/user-and-kernel-x86_64-6.1.txt'), 'utf8');

t.test('records and the reader state', async (t) => {
  const read = parseKmsg(captured);
  t.equal(read.next, 369);
  t.equal(read.lost, 0);
  t.same(read.records.map((r) => [r.seq, r.facility]), [[365, 1], [366, 1], [367, 1], [368, 0]], 'writes to /dev/kmsg are facility 1, the kernel\'s own 0');
  t.equal(read.records[1]!.text, 'back\\slash café tab\there', 'the kernel\'s \\xNN escapes decoded (backslash, UTF-8, tab)');
  t.equal(formatRecord(read.records[0]!), '[    9.905089] Kernel panic - not syncing: written by user space');
});

t.test('user space\'s panic and WARNING text is never judged as a kernel report', async (t) => {
  const split = splitByFacility(parseKmsg(captured).records);
  t.ok(findReports(split.all).length > 0, 'the text does look like reports');
  t.same(findReports(split.kernel), [], 'the kernel\'s own records hold none');
  t.match(split.kernel, /sysrq: HELP/);
  t.match(findReports(split.user).map((r) => r.kind), ['panic']);
});

t.test('malformed answers are refused; lines that are not records are skipped', async (t) => {
  t.throws(() => parseKmsg('hello\n'), /not a kernel-log answer/);
  t.same(parseKmsg('#kmsg next=5 first=0 lost=2 dropped=1\ngarbage\n6,4,10,-;x\n'), { next: 5, lost: 2, dropped: 1, records: [{ seq: 4, facility: 0, level: 6, usec: 10, text: 'x' }] });
  t.equal(unescapeKmsg('no escapes'), 'no escapes');
  t.equal(unescapeKmsg('\\xzz stays'), '\\xzz stays');
});

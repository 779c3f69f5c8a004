// The detector table's kinds: unique, and a type (CrashKind) derived from the rows, so a misspelt kind does not
// compile. The type-level half is checked by tsc (npm test runs it first): each @ts-expect-error below must
// meet an error, or tsc fails with "Unused '@ts-expect-error' directive".
import t from 'tap';
import { PATTERNS, RIG_REPORT_KINDS, type CrashKind, type PatternKind, type ReportPattern } from '../../../rig/detect/patterns.ts';
import type { KernelReport } from '../../../rig/detect/kernel-report.ts';
import type { AllowedReportMatch } from '../../../rig/detect/allowed.ts';

t.test('every row has its own kind; the kinds the rig reports itself are no row', async (t) => {
  const kinds = PATTERNS.map((p) => p.kind);
  t.same(kinds.filter((k, i) => kinds.indexOf(k) !== i), [], 'no kind twice');
  for (const k of RIG_REPORT_KINDS) t.notOk((kinds as readonly string[]).includes(k), `${k} is not a row's kind`);
});

t.test('attachTo names kinds of the table', async (t) => {
  const kinds = new Set<string>(PATTERNS.map((p) => p.kind));
  for (const p of PATTERNS) if (Array.isArray(p.attachTo)) for (const k of p.attachTo) t.ok(kinds.has(k), `${p.kind} attaches to ${k}`);
});

t.test('kinds are types: known ones compile, misspelt ones do not', async (t) => {
  const report = (kind: CrashKind): KernelReport => ({ kind, title: 't', frames: [], moduleFrames: [], fatal: false, raw: '' });
  const ok: CrashKind[] = ['soft-lockup', 'kasan', 'lost-messages'];
  // @ts-expect-error: no row has the kind 'softlockup'
  const misspelt: CrashKind = 'softlockup';
  // @ts-expect-error: a report's kind is a CrashKind, not any string
  const bad: KernelReport = { ...report('oops'), kind: 'opps' };
  // @ts-expect-error: an allowed report's kind too
  const allowed: AllowedReportMatch = { title: 't', kind: 'warn', pattern: '"t"', reason: 'r' };
  // @ts-expect-error: 'lost-messages' is the rig's own report: no console pattern has it
  const row: PatternKind = 'lost-messages';
  // @ts-expect-error: a row may attach only to kinds of the table
  const attach: ReportPattern<PatternKind> = { ...PATTERNS[0]!, attachTo: ['refcnt'] };
  t.same(ok.map(report).map((r) => r.kind), ok);
  t.ok([misspelt, bad, allowed, row, attach].every((x) => x !== undefined));
});

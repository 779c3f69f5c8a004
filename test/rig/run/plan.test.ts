// Unit tests for the matrix: stable work items, shard coverage, GitHub matrix, summary and annotations.
import t from 'tap';
import { githubMatrix, shard, workItems } from '../../../rig/run/plan.ts';
import { annotations, escapeCell, summaryMarkdown } from '../../../rig/report/github.ts';
import { UsageError } from '../../../rig/core/errors.ts';
import type { ImageSpec } from '../../../rig/kernels/spec.ts';
import type { RunSummary } from '../../../rig/report/results.ts';

function image(id: string, arch: ImageSpec['arch'] = 'x86_64'): ImageSpec {
  const pin = { name: `p-${id}`, version: '1', arch: 'amd64', sha256: '0'.repeat(64) };
  return {
    id,
    description: id,
    arch,
    suite: 'bookworm',
    release: `${id}-release`,
    packages: { image: pin, headers: pin, headersCommon: pin, kbuild: pin },
    toolchain: { kind: 'host', cc: 'gcc-12' },
    qemu: { binary: 'q', machine: 'pc', cpu: 'max', console: 'ttyS0', commandChannel: 'serial', commandPort: 'ttyS1' },
  };
}

t.test('workItems: every pair once, in the same order whatever the input order', async (t) => {
  const a = workItems([image('sid-7'), image('bookworm-6.1'), image('bookworm-6.1-arm64', 'arm64')], ['b', 'a', 'c']);
  const b = workItems([image('bookworm-6.1-arm64', 'arm64'), image('sid-7'), image('bookworm-6.1')], ['c', 'a', 'b', 'a']);
  t.same(a, b);
  t.equal(a.length, 9);
  t.same(a.slice(0, 3).map((w) => `${w.image}/${w.scenario}`), ['bookworm-6.1/a', 'bookworm-6.1/b', 'bookworm-6.1/c']);
  t.equal(a.find((w) => w.image === 'bookworm-6.1-arm64')?.arch, 'arm64');
  t.same(workItems([], ['a']), []);
  t.same(workItems([image('x')], []), []);
  t.throws(() => workItems([image('x'), image('x')], ['a']), UsageError);
});

t.test('shard: the shards together hold every item exactly once', async (t) => {
  for (let total = 0; total <= 23; total++) {
    const items = Array.from({ length: total }, (_, k) => `item-${k}`);
    for (let count = 1; count <= 8; count++) {
      const seen = new Map<string, number>();
      const sizes: number[] = [];
      for (let index = 1; index <= count; index++) {
        const part = shard(items, index, count);
        sizes.push(part.length);
        t.same(part, shard(items, index, count), 'deterministic');
        for (const item of part) seen.set(item, (seen.get(item) ?? 0) + 1);
      }
      t.equal(seen.size, total, `${total} items in ${count} shards: all covered`);
      t.ok([...seen.values()].every((n) => n === 1), 'none twice');
      t.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, 'balanced');
    }
  }
});

t.test('shard: spreads one image across shards', async (t) => {
  const items = workItems([image('a'), image('b')], ['s1', 's2', 's3', 's4']);
  const first = shard(items, 1, 2);
  t.same(first.map((w) => `${w.image}/${w.scenario}`), ['a/s1', 'a/s3', 'b/s1', 'b/s3']);
});

t.test('shard: bad index or count is a usage error', async (t) => {
  t.throws(() => shard([1, 2], 0, 2), UsageError);
  t.throws(() => shard([1, 2], 3, 2), UsageError);
  t.throws(() => shard([1, 2], 1, 0), UsageError);
  t.throws(() => shard([1, 2], 1.5, 2), UsageError);
});

t.test('githubMatrix: one include entry per image, sorted, with arch', async (t) => {
  const m = githubMatrix([image('sid-7'), image('bookworm-6.1-arm64', 'arm64')]);
  t.same(m, {
    include: [
      { image: 'bookworm-6.1-arm64', arch: 'arm64', suite: 'bookworm', release: 'bookworm-6.1-arm64-release' },
      { image: 'sid-7', arch: 'x86_64', suite: 'bookworm', release: 'sid-7-release' },
    ],
  });
  t.same(JSON.parse(JSON.stringify(m)), m, 'plain JSON');
});

function run(imageId: string, results: RunSummary['scenarios']): RunSummary {
  return {
    image: imageId,
    kernel: `${imageId}-k`,
    arch: 'x86_64',
    accel: 'tcg',
    scenarios: results,
    passed: results.filter((r) => r.status === 'pass').length,
    failed: results.filter((r) => r.status === 'fail').length,
  };
}

const summaries: RunSummary[] = [
  run('sid-7', [
    { image: 'sid-7', name: 'echo', status: 'pass', durationMs: 5 },
    {
      image: 'sid-7',
      name: 'oops|pipe',
      status: 'fail',
      durationMs: 9,
      failure: {
        kind: 'kernel',
        message: 'BUG: kernel NULL pointer dereference\nmore, 100%: done',
        reports: [{ kind: 'oops', title: 'BUG: NULL deref in ktest_rcv', frames: [], moduleFrames: [], fatal: false, raw: '' }],
      },
    },
  ]),
  run('bookworm-6.1', [
    { image: 'bookworm-6.1', name: 'echo', status: 'pass', durationMs: 5 },
    { image: 'bookworm-6.1', name: 'oops|pipe', status: 'skip', durationMs: 0 },
  ]),
];

t.test('summaryMarkdown: scenario rows, kernel columns, failures listed', async (t) => {
  const md = summaryMarkdown(summaries);
  const lines = md.split('\n');
  t.match(md, /1 failed on 2 kernels/);
  const header = lines.find((l) => l.startsWith('| scenario |'));
  t.ok(header && header.indexOf('bookworm-6.1') < header.indexOf('sid-7'), 'columns sorted by image');
  t.ok(lines.includes('| echo | ✅ pass | ✅ pass |'));
  t.ok(lines.includes('| oops\\|pipe | ⏭️ skip | ❌ FAIL |'), 'pipe escaped, statuses per column');
  t.match(md, /### Failures/);
  t.match(md, /\*\*sid-7\*\* `oops\|pipe`: kernel: BUG: kernel NULL pointer dereference\n/);
  const rows = lines.filter((l) => l.startsWith('| ') && !l.startsWith('| scenario'));
  t.ok(rows.every((l) => l.split(/(?<!\\)\|/).length === 2 + 3), 'every row has one cell per column');
  t.notMatch(summaryMarkdown([summaries[1]]), /Failures/);
  t.match(summaryMarkdown([]), /No runs/);
});

t.test('summaryMarkdown: a scenario missing on one kernel shows a dash', async (t) => {
  const md = summaryMarkdown([run('a', [{ image: 'a', name: 'only-a', status: 'pass', durationMs: 1 }]), run('b', [])]);
  t.ok(md.includes('| only-a | ✅ pass | — |'));
});

t.test('annotations: one escaped ::error line per failure', async (t) => {
  const lines = annotations(summaries);
  t.equal(lines.length, 1);
  t.equal(
    lines[0],
    '::error title=sid-7 (sid-7-k)%3A oops|pipe::kernel: BUG: kernel NULL pointer dereference%0Amore, 100%25: done%0ABUG: NULL deref in ktest_rcv',
  );
  t.same(annotations([summaries[1]]), []);
});

t.test('escapeCell', async (t) => {
  t.equal(escapeCell('a|b\nc'), 'a\\|b c');
});

t.test('githubMatrix: shards multiply the entries', async (t) => {
  const m = githubMatrix([image('b'), image('a')], 3);
  t.same(m.include.map((e) => `${e.image} ${e.shard}`), ['a 1/3', 'a 2/3', 'a 3/3', 'b 1/3', 'b 2/3', 'b 3/3']);
  t.notOk('shard' in githubMatrix([image('a')], 1).include[0], 'no shard key for one shard');
  t.throws(() => githubMatrix([image('a')], 0), UsageError);
});

t.test('annotations carry file= and line= of the first module frame inside the checkout', async (t) => {
  const frame = (file: string, line: number) => ({ symbol: 'mailbox_ioctl', module: 'mailbox', file, line });
  const report = (...moduleFrames: ReturnType<typeof frame>[]) => ({ kind: 'oops' as const, title: 'BUG: x in mailbox_ioctl', frames: [], moduleFrames, fatal: false, raw: '' });
  const failed = (reports: ReturnType<typeof report>[]): RunSummary => ({
    image: 'bookworm-6.1', kernel: '6.1', arch: 'x86_64', accel: 'kvm', passed: 0, failed: 1,
    scenarios: [{ image: 'bookworm-6.1', name: 'crash', status: 'fail', durationMs: 1, failure: { kind: 'kernel', message: 'oops', reports } }],
  });
  const root = '/home/runner/work/m/m/src';
  const [line] = annotations([failed([report(frame('/usr/src/linux/include/x.h', 3), frame(`${root}/drivers/mailbox.c`, 142))])], `${root}/`);
  t.match(line, /^::error file=drivers\/mailbox\.c,line=142,title=bookworm-6\.1 \(6\.1\)%3A crash::/);
  t.notMatch(annotations([failed([report(frame('/elsewhere/mailbox.c', 9))])], root)[0], /file=/, 'no file outside the checkout');
  t.notMatch(annotations([failed([report(frame(`${root}/a.c`, 9))])])[0], /file=/, 'no root: no file');
  t.notMatch(annotations([failed([])], root)[0], /file=/, 'no frame: no file');
});

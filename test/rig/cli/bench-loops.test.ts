import t from 'tap';
import { formatLoopTable, formatLoopParts, phases, scenarioMedian, TRIVIAL } from '../../../rig/cli/bench-loops.ts';

t.test('formatLoopTable: new beside today and naive, blanks where a method does not apply, target met or missed', async (t) => {
  const text = formatLoopTable([
    { measure: 'exec warm', newMs: 1234, todayMs: 4000, runs: 3, target: '<= 1.5 s', met: true },
    { measure: 'run warm', newMs: 8000, todayMs: 15000, naiveMs: 90000, runs: 3, target: '<= 7 s', met: false },
    { measure: 'startup', newMs: 500, runs: 6 },
  ]);
  const lines = text.split('\n');
  t.match(lines[0], /\| loop\s+\|\s+new \| today's method \|\s+naive \| runs \| target/);
  t.match(lines[2], /exec warm .*\|\s+1\.23 s \|\s+4\.00 s \|\s+\|\s+3 \| <= 1\.5 s: met/);
  t.match(lines[3], /90\.00 s .*<= 7 s: missed/);
  t.match(lines[4], /startup .*0\.50 s \|\s+\|\s+\|\s+6 \|\s+\|$/);
  t.equal(new Set(lines.map((l) => l.length)).size, 1, 'columns line up');
});

t.test('the trivial scenario sends one message to the loaded module', async (t) => {
  t.equal(TRIVIAL.load, undefined, 'the module is loaded first, as for every default scenario');
  t.equal(TRIVIAL.name, 'trivial');
});

// A warm `rig exec -v -- nlclient hi` as it printed on this machine (2 December 2026), each line with its
// arrival in ms from the start (the CLI's own lines on stderr, the client's JSON and the kernel log after).
const EXEC_LINES = [
  [330, 'checking host tools'],
  [606, '[bookworm-6.1] /work/main/kmod for 6.1.0-50-amd64: unchanged, built before'],
  [614, '[bookworm-6.1] building guest programs for x86_64'],
  [623, '[bookworm-6.1] packing the initramfs'],
  [673, '[bookworm-6.1] restoring bookworm-6.1 (tcg) from its snapshot'],
  [2072, '{"seq":1,"type":16,"flags":0,"len":31,"pid":0,"payload":"hello users!!!","hex":"68656c6c6f20757365727321212100"}'],
  [2079, '--- kernel messages ---'],
  [2086, '[    6.604552] ktest: loading out-of-tree module taints kernel.'],
  [2106, '[    6.789824] ktest: netlink protocol 30 ready'],
].map(([ms, line]) => ({ ms: ms as number, line: line as string }));

t.test('phases: the wall time split at the first line of each mark, the rest to the end; parts add up', async (t) => {
  const marks = [
    { what: 'start', at: /checking host tools/ },
    { what: 'host side', at: /restoring .* from its snapshot/ },
    { what: 'guest', at: /^(?!\[|checking )\S/ },
  ];
  const p = phases(2930, EXEC_LINES, marks, 'teardown');
  t.same(p.map((x) => x.what), ['start', 'host side', 'guest', 'teardown']);
  t.same(p.map((x) => Math.round(x.ms)), [330, 343, 1399, 858]);
  t.equal(p.reduce((n, x) => n + x.ms, 0), 2930, 'the parts add up to the wall time');
  const missing = phases(2930, EXEC_LINES, [{ what: 'never', at: /no such line/ }, ...marks], 'teardown');
  t.same(missing.map((x) => x.what), ['start', 'host side', 'guest', 'teardown'], 'a mark that never printed is left out');
  const last = phases(3000, [{ ms: 10, line: 'ok 1 - a' }, { ms: 20, line: 'ok 2 - b' }, { ms: 2900, line: '1..2' }], [{ what: 'scenarios', at: /^ok \d+/, last: true }], 'end');
  t.same(last, [{ what: 'scenarios', ms: 20 }, { what: 'end', ms: 2980 }], 'last: the last matching line');
});

t.test('scenarioMedian reads TAP times; formatLoopParts prints split rows only', async (t) => {
  const lines = ['ok 1 - echo-empty # time=1699ms', 'ok 2 - echo-1-byte # time=1453ms', 'not ok 3 - echo-4k # time=1356.5ms', '# ok 4 - nothing'].map((line, i) => ({ ms: i, line }));
  t.equal(scenarioMedian(lines), 1453);
  t.equal(scenarioMedian(EXEC_LINES), undefined);
  const matrix = ['# Subtest: bookworm-6.1', '    ok 1 - a # time=400ms', '    ok 2 - b # time=600ms', 'ok 1 - bookworm-6.1 # time=19000ms', '    ok 1 - a # time=500ms', 'ok 2 - sid-7 # time=21000ms'].map((line, i) => ({ ms: i, line }));
  t.equal(scenarioMedian(matrix), 500, 'several images: the scenarios nested in each image, not the images');
  const text = formatLoopParts([
    { measure: 'exec warm', newMs: 2000, runs: 3, target: '<= 1.5 s', met: false, parts: [{ what: 'start-up', ms: 330 }, { what: 'guest', ms: 1399 }] },
    { measure: 'startup', newMs: 500, runs: 6 },
    { measure: 'run warm', newMs: 9000, runs: 3, parts: [{ what: 'scenarios', ms: 8000 }], perScenarioMs: 1453 },
  ]);
  t.equal(text, [
    'exec warm (missed):',
    '    0.33 s  start-up',
    '    1.40 s  guest',
    'run warm:',
    '    8.00 s  scenarios',
    '    1.45 s  one scenario, median of its own times (within the scenarios above)',
  ].join('\n'));
});

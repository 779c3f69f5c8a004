// Tests the pure CLI parser: every command, option and error path.
import t, { type Test } from 'tap';
import { parseCli, parseFilter, matchesFilter, parseShard, parseKernels, parseJobs, USAGE } from '../../../rig/cli/options.ts';
import { UsageError } from '../../../rig/core/errors.ts';

const run = (argv: string[]) => {
  const c = parseCli(argv);
  if (c.command !== 'run') throw new Error(`expected run, got ${c.command}`);
  return c.args;
};
const fails = (t: Test, argv: string[], message: RegExp) =>
  t.throws(() => parseCli(argv), { name: 'UsageError', message, exitCode: 2 }, argv.join(' '));

t.test('run defaults, with or without the word run', async (t) => {
  const expected = { kernels: { kind: 'default' }, verbose: false, target: 'guest', snapshot: true, debug: true };
  t.strictSame(run([]), expected);
  t.strictSame(run(['run']), expected);
});

t.test('run with every option', async (t) => {
  const a = run(['run', '--kernel', 'bookworm-6.1,trixie-6.12', '-k', 'sid-7', '--kmod', 'kmod/x', '--only', 'round', '--json', 'o.json',
    '--junit', 'o.xml', '--logs', 'logs', '--verbose', '--jobs', '3', '--shard', '2/4', '--target', 'host', '--no-snapshot', '--no-debug']);
  t.strictSame(a.kernels, { kind: 'ids', ids: ['bookworm-6.1', 'trixie-6.12', 'sid-7'] });
  t.equal(a.kmod, 'kmod/x');
  t.strictSame(a.only, { kind: 'substring', text: 'round' });
  t.equal(a.json, 'o.json');
  t.equal(a.junit, 'o.xml');
  t.equal(a.logs, 'logs');
  t.equal(a.verbose, true);
  t.equal(a.jobs, 3);
  t.strictSame(a.shard, { index: 2, count: 4 });
  t.equal(a.target, 'host');
  t.equal(a.snapshot, false);
  t.equal(a.debug, false);
  t.strictSame(run(['--kernel=all']).kernels, { kind: 'all' });
});

t.test('--kernel validation', async (t) => {
  t.strictSame(parseKernels(['a', 'a,b']), { kind: 'ids', ids: ['a', 'b'] }, 'duplicates dropped');
  fails(t, ['--kernel', 'all,a'], /all cannot be combined/);
  fails(t, ['--kernel', 'a,,b'], /empty id/);
  fails(t, ['--kernel', 'a/b'], /not an image id/);
  fails(t, ['--kernel'], /argument missing/);
});

t.test('--only: substring or /regex/flags', async (t) => {
  const re = parseFilter('/^round.*trip$/i');
  t.equal(re.kind, 'regex');
  t.ok(matchesFilter(re, 'RoundTrip'));
  t.notOk(matchesFilter(re, 'a roundtrip'));
  const g = parseFilter('/a/g');
  t.ok(matchesFilter(g, 'a') && matchesFilter(g, 'a'), 'global flag does not make matching stateful');
  t.ok(matchesFilter(parseFilter('trip'), 'roundtrip'));
  t.notOk(matchesFilter(parseFilter('/x/'), 'roundtrip'));
  t.ok(matchesFilter(undefined, 'anything'));
  t.strictSame(parseFilter('a/b'), { kind: 'substring', text: 'a/b' });
  fails(t, ['--only', '/(/'], /not a valid regular expression/);
  fails(t, ['--only', ''], /non-empty/);
});

t.test('--shard and --jobs', async (t) => {
  t.strictSame(parseShard('1/1'), { index: 1, count: 1 });
  t.strictSame(parseShard('4/4'), { index: 4, count: 4 });
  for (const bad of ['0/4', '5/4', '1/0', '1', 'a/b', '-1/2', '1/2/3']) fails(t, ['--shard', bad], /--shard/);
  t.equal(parseJobs('8'), 8);
  for (const bad of ['0', '-1', '1.5', 'x', '']) t.throws(() => parseJobs(bad), UsageError, `--jobs ${bad}`);
});

t.test('run errors are one clear line with a hint', async (t) => {
  fails(t, ['--bogus'], /unknown option '--bogus' for 'rig run'/);
  fails(t, ['run', 'extra'], /unexpected argument 'extra'/);
  fails(t, ['--target', 'vm'], /must be guest or host/);
  fails(t, ['--json', ''], /non-empty path/);
  fails(t, ['frobnicate'], /unknown command 'frobnicate'/);
  try {
    parseCli(['--bogus']);
  } catch (e) {
    t.ok(e instanceof UsageError && e.hint && !e.message.includes('\n'), 'one line plus a hint');
  }
});

t.test('exec', async (t) => {
  t.strictSame(parseCli(['exec', '--', 'ls', '-l', '--', 'x']), { command: 'exec', args: { load: true, verbose: false, command: ['ls', '-l', '--', 'x'] } });
  t.strictSame(parseCli(['exec', '--kernel', 'a', '--kmod', 'k', '--no-load', '-v', '--', 'cat', '/proc/modules']), {
    command: 'exec',
    args: { load: false, verbose: true, command: ['cat', '/proc/modules'], kernel: 'a', kmod: 'k' },
  });
  fails(t, ['exec'], /needs a command/);
  fails(t, ['exec', '--'], /needs a command/);
  fails(t, ['exec', 'ls'], /after '--'/);
  fails(t, ['exec', '--kernel', 'all', '--', 'ls'], /one image/);
  fails(t, ['exec', '--kernel', 'a,b', '--', 'ls'], /one image/);
  fails(t, ['exec', '--only', 'x', '--', 'ls'], /unknown option '--only' for 'rig exec'/);
});

t.test('doctor, images, help', async (t) => {
  t.strictSame(parseCli(['doctor']), { command: 'doctor', verbose: false });
  fails(t, ['doctor', 'x'], /unexpected argument/);
  t.strictSame(parseCli(['images']), { command: 'images', action: 'list', ids: [], verbose: false });
  t.strictSame(parseCli(['images', 'list']), { command: 'images', action: 'list', ids: [], verbose: false });
  t.strictSame(parseCli(['images', 'fetch', 'a', 'b']), { command: 'images', action: 'fetch', ids: ['a', 'b'], verbose: false });
  t.strictSame(parseCli(['images', 'update']), { command: 'images', action: 'update', ids: [], verbose: false });
  fails(t, ['images', 'remove'], /unknown images action/);
  fails(t, ['images', 'list', 'a'], /takes no ids/);
  for (const argv of [['--help'], ['-h'], ['help'], ['run', '--help'], ['exec', '-h'], ['images', '--help'], ['doctor', '--help']]) {
    t.strictSame(parseCli(argv), { command: 'help' }, argv.join(' '));
  }
  t.match(USAGE, /rig exec/);
});

t.test('exec --timeout takes seconds', async (t) => {
  const c = parseCli(['exec', '--timeout', '2.5', '--', 'sleep', '9']);
  t.equal(c.command === 'exec' && c.args.timeoutMs, 2500);
  t.throws(() => parseCli(['exec', '--timeout', '0', '--', 'x']), /--timeout '0' must be a positive number of seconds/);
  const r = parseCli(['--scenarios', 'my.ts']);
  t.equal(r.command === 'run' && r.args.scenarios, 'my.ts');
});

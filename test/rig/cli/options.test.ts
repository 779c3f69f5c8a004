// Tests the pure CLI parser: every command, option and error path.
import t, { type Test } from 'tap';
import { parseCli, parseShard, parseJobs, helpText, optionsOf, synopsis, OPTIONS, COMMANDS, type CommandName } from '../../../rig/cli/options.ts';
import { exitCodeTable } from '../../../rig/core/errors.ts';
import { ENV_VARS } from '../../../rig/core/env.ts';
import { UsageError } from '../../../rig/core/errors.ts';

const run = (argv: string[]) => {
  const c = parseCli(argv);
  if (c.command !== 'run') throw new Error(`expected run, got ${c.command}`);
  return c.args;
};
const fails = (t: Test, argv: string[], message: RegExp) =>
  t.throws(() => parseCli(argv), { name: 'UsageError', message, exitCode: 2 }, argv.join(' '));

t.test('run defaults, with or without the word run', async (t) => {
  const expected = { kernels: { kind: 'default' }, verbose: false, target: 'guest', snapshot: true, debug: true, list: false };
  t.strictSame(run([]), expected);
  t.strictSame(run(['run']), expected);
});

t.test('run with every option', async (t) => {
  const a = run(['run', '--kernel', 'bookworm-6.1,trixie-6.12', '-k', 'sid-7', '--kmod', 'kmod/x', '--only', 'round', '--json', 'o.json',
    '--junit', 'o.xml', '--logs', 'logs', '--verbose', '--jobs', '3', '--shard', '2/4', '--target', 'host', '--no-snapshot', '--no-debug', '--cpus', '2', '--memory', '384']);
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
  t.equal(a.cpus, 2);
  t.equal(a.memoryMb, 384);
  t.strictSame(run(['--kernel=all']).kernels, { kind: 'all' });
  t.equal(run(['--config', 'ci/ktest-rig.config.ts']).config, 'ci/ktest-rig.config.ts');
  t.throws(() => run(['--config', '']), /--config needs a non-empty path/);
  t.strictSame(run(['--param', 'capacity=16', '--param', 'name=box', '--param', 'capacity=32']).params, { capacity: '32', name: 'box' });
  t.throws(() => run(['--param', 'capacity']), /--param 'capacity' must be NAME=VALUE/);
  t.throws(() => run(['--param', 'a b=1']), /must be NAME=VALUE/);
});

t.test('--kernel validation', async (t) => {
  t.strictSame(run(['--kernel', 'a', '-k', 'a,b']).kernels, { kind: 'ids', ids: ['a', 'b'] }, 'duplicates dropped');
  fails(t, ['--kernel', 'all,a'], /all cannot be combined/);
  fails(t, ['--kernel', 'a,,b'], /empty id/);
  fails(t, ['--kernel', 'a/b'], /not an image id/);
  fails(t, ['--kernel'], /argument missing/);
});

t.test('--only is parsed into a filter; a bad one is a usage error', async (t) => {
  t.strictSame(run(['--only', 'trip']).only, { kind: 'substring', text: 'trip' });
  t.equal(run(['--only', '/^a/i']).only?.kind, 'regex');
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
  t.strictSame(parseCli(['exec', '--', 'ls', '-l', '--', 'x']), { command: 'exec', args: { load: true, verbose: false, snapshot: true, command: ['ls', '-l', '--', 'x'] } });
  t.strictSame(parseCli(['exec', '--kernel', 'a', '--kmod', 'k', '--no-load', '-v', '--', 'cat', '/proc/modules']), {
    command: 'exec',
    args: { load: false, verbose: true, snapshot: true, command: ['cat', '/proc/modules'], kernel: 'a', kmod: 'k' },
  });
  t.strictSame(parseCli(['exec', '--no-snapshot', '--cpus', '2', '--memory', '512', '--', 'true']), {
    command: 'exec',
    args: { load: true, verbose: false, snapshot: false, cpus: 2, memoryMb: 512, command: ['true'] },
  });
  fails(t, ['exec', '--cpus', '0', '--', 'ls'], /--cpus '0' must be an integer from 1 to 64/);
  fails(t, ['exec', '--cpus', '1.5', '--', 'ls'], /--cpus/);
  fails(t, ['exec', '--memory', '32', '--', 'ls'], /--memory '32' must be a number of megabytes from 64/);
  fails(t, ['exec'], /needs a command/);
  fails(t, ['exec', '--'], /needs a command/);
  fails(t, ['exec', 'ls'], /after '--'/);
  fails(t, ['exec', '--kernel', 'all', '--', 'ls'], /one image/);
  fails(t, ['exec', '--kernel', 'a,b', '--', 'ls'], /one image/);
  fails(t, ['exec', '--only', 'x', '--', 'ls'], /unknown option '--only' for 'rig exec'/);
  const logs = parseCli(['exec', '--logs', 'out', '--', 'ls']);
  t.equal(logs.command === 'exec' && logs.args.logs, 'out');
  fails(t, ['exec', '--logs', '', '--', 'ls'], /--logs needs a non-empty path/);
});

t.test('doctor, images, help', async (t) => {
  t.strictSame(parseCli(['doctor']), { command: 'doctor', verbose: false });
  fails(t, ['doctor', 'x'], /unexpected argument/);
  t.strictSame(parseCli(['images']), { command: 'images', action: 'list', ids: [], verbose: false });
  t.strictSame(parseCli(['images', 'list']), { command: 'images', action: 'list', ids: [], verbose: false });
  t.strictSame(parseCli(['images', 'fetch', 'a', 'b']), { command: 'images', action: 'fetch', ids: ['a', 'b'], verbose: false });
  t.strictSame(parseCli(['images', 'update']), { command: 'images', action: 'update', ids: [], verbose: false });
  t.strictSame(parseCli(['images', 'clear', 'a']), { command: 'images', action: 'clear', ids: ['a'], verbose: false });
  fails(t, ['images', 'remove'], /unknown images action/);
  fails(t, ['images', 'list', 'a'], /takes no ids/);
  for (const argv of [['--help'], ['-h'], ['help']]) t.strictSame(parseCli(argv), { command: 'help' }, argv.join(' '));
  for (const [argv, topic] of [[['run', '--help'], 'run'], [['exec', '-h'], 'exec'], [['images', '--help'], 'images'], [['doctor', '--help'], 'doctor'], [['help', 'exec'], 'exec'], [['bench', '-h'], 'bench']] as const) {
    t.strictSame(parseCli(argv), { command: 'help', topic }, argv.join(' '));
  }
  fails(t, ['help', 'nope'], /unknown command 'nope'/);
  for (const argv of [['--version'], ['-V'], ['run', '--version'], ['exec', '-V'], ['help', '--version']]) t.strictSame(parseCli(argv), { command: 'version' }, argv.join(' '));
});

t.test('exec --timeout takes seconds', async (t) => {
  const c = parseCli(['exec', '--timeout', '2.5', '--', 'sleep', '9']);
  t.equal(c.command === 'exec' && c.args.timeoutMs, 2500);
  t.throws(() => parseCli(['exec', '--timeout', '0', '--', 'x']), /--timeout '0' must be a positive number of seconds/);
  const r = parseCli(['--scenarios', 'my.ts']);
  t.equal(r.command === 'run' && r.args.scenarios, 'my.ts');
});

t.test('--list is a run option', async (t) => {
  t.equal(run(['--list']).list, true);
  t.equal(run(['run', '--list', '--only', 'echo', '--shard', '1/2']).list, true);
  fails(t, ['exec', '--list', '--', 'ls'], /unknown option '--list' for 'rig exec'/);
});

t.test('bench options come from the same table', async (t) => {
  t.strictSame(parseCli(['bench']), { command: 'bench', args: { kernel: 'bookworm-6.1', runs: 5, debug: true } });
  t.strictSame(parseCli(['bench', '-k', 'sid-7', '--runs', '3', '--no-debug', '--json', 'b.json']), { command: 'bench', args: { kernel: 'sid-7', runs: 3, debug: false, json: 'b.json' } });
  fails(t, ['bench', '--runs', '0'], /--runs '0' must be a positive integer/);
  t.strictSame(parseCli(['bench', '--parts', 'loops,matrix,loops']), { command: 'bench', args: { kernel: 'bookworm-6.1', runs: 5, debug: true, parts: ['loops', 'matrix'] } });
  fails(t, ['bench', '--parts', 'loops,boots'], /--parts 'loops,boots': unknown part 'boots' \(parts: guests, loops, matrix\)/);
  fails(t, ['bench', '--parts', ','], /--parts ',': empty/);
  fails(t, ['bench', '--only', 'x'], /unknown option '--only' for 'rig bench'/);
});

t.test('option table: per command, names and short flags are unique, every option is documented', async (t) => {
  for (const { name: command } of COMMANDS) {
    const opts = optionsOf(command);
    t.equal(new Set(opts.map((o) => o.name)).size, opts.length, `${command}: one row per option name`);
    const shorts = opts.flatMap((o) => (o.short ? [o.short] : []));
    t.equal(new Set(shorts).size, shorts.length, `${command}: short flags unique`);
  }
  for (const o of OPTIONS) {
    t.ok(o.help.length > 10, `--${o.name} has help`);
    t.equal(o.type === 'string', 'arg' in o, `--${o.name}: a value placeholder exactly when it takes a value`);
  }
});

t.test('help is generated per command from the table', async (t) => {
  const main = helpText();
  for (const c of COMMANDS) t.match(main, new RegExp(`\\n  ${c.name} `), `rig --help lists ${c.name}`);
  t.match(main, /-V, --version/);
  for (const v of ENV_VARS.filter((e) => e.scope === 'rig')) t.match(main, v.name, `rig --help lists ${v.name}`);
  for (const row of exitCodeTable('run')) t.match(main, `  ${row.code} `, `rig --help has exit code ${row.code}`);
  for (const { name: command } of COMMANDS.filter((c) => c.name !== 'help')) {
    const help = helpText(command as CommandName);
    t.equal(help.split('\n\n')[0]!.replace(/\n +/g, ' '), `usage: ${synopsis(command)}`);
    for (const o of OPTIONS) {
      const shown = help.includes(`--${o.name}`);
      const applies = optionsOf(command).some((x) => x.name === o.name);
      t.equal(shown, applies, `rig ${command} --help ${applies ? 'shows' : 'does not show'} --${o.name}`);
    }
  }
  t.match(helpText('exec'), /124 +CMD timed out/);
  t.notMatch(helpText('exec'), /--only/);
  for (const line of [...main.split('\n'), ...COMMANDS.flatMap((c) => helpText(c.name).split('\n'))]) {
    if (line.length > 100) t.fail(`help line over 100 columns: ${line}`);
  }
});

t.test('run --coverage and --coverage-dir', async (t) => {
  t.match(parseCli(['--coverage', '-k', 'bookworm-6.1-debug']), { command: 'run', args: { coverage: {} } });
  t.match(parseCli(['--coverage', '--coverage-dir', 'cov']), { command: 'run', args: { coverage: { dir: 'cov' } } });
  t.notOk((parseCli([]) as { args: { coverage?: unknown } }).args.coverage, 'no coverage without --coverage');
  t.throws(() => parseCli(['--coverage-dir', 'cov']), /--coverage-dir needs --coverage/);
  t.throws(() => parseCli(['--coverage', '--coverage-dir', '']), /--coverage-dir needs a non-empty path/);
  t.throws(() => parseCli(['--coverage', '--target', 'host']), /does not go with --target host/);
  t.throws(() => parseCli(['exec', '--coverage', '--', 'true']), /unknown option '--coverage' for 'rig exec'/);
});

t.test('shell and replay parse', async (t) => {
  const { parseCli } = await import('../../../rig/cli/options.ts');
  t.strictSame(parseCli(['shell']), { command: 'shell', args: { load: true, verbose: false } });
  t.strictSame(parseCli(['shell', '--no-load', '-k', 'bookworm-6.1', '--kmod', 'x']), { command: 'shell', args: { load: false, verbose: false, kernel: 'bookworm-6.1', kmod: 'x' } });
  t.strictSame(parseCli(['shell', '--gdb']), { command: 'shell', args: { load: true, verbose: false, gdb: { wait: false } } });
  t.strictSame(parseCli(['shell', '--gdb-wait']), { command: 'shell', args: { load: true, verbose: false, gdb: { wait: true } } });
  t.match(parseCli(['exec', '--gdb', '--', 'true']), { command: 'exec', args: { gdb: { wait: false }, command: ['true'] } });
  t.match(parseCli(['exec', '--gdb-wait', '--', 'true']), { command: 'exec', args: { gdb: { wait: true } } });
  t.notOk((parseCli(['exec', '--', 'true']) as { args: { gdb?: unknown } }).args.gdb, 'no stub without --gdb');
  t.match(parseCli(['run', '--gdb-wait', '--only', 'x']), { command: 'run', args: { gdb: { wait: true } } });
  t.throws(() => parseCli(['run', '--gdb', '--target', 'host']), /does not go with --target host/);
  t.match(parseCli(['exec', '--gdb', '--gdb-dbg', '--', 'true']), { command: 'exec', args: { gdb: { wait: false, dbg: true } } });
  t.throws(() => parseCli(['exec', '--gdb-dbg', '--', 'true']), /--gdb-dbg goes with --gdb or --gdb-wait/);
  t.throws(() => parseCli(['run', '--gdb', '-j', '2']), /one guest at a time/);
  t.match(parseCli(['replay', 'b', '--shell', '--gdb-wait']), { command: 'replay', args: { bundle: 'b', shell: true, gdb: { wait: true } } });
  t.throws(() => parseCli(['shell', 'ls']), /unexpected argument 'ls' for 'rig shell'/);
  t.throws(() => parseCli(['shell', '--kernel', 'all']), /one image/);
  t.strictSame(parseCli(['replay', 'b']), { command: 'replay', args: { bundle: 'b', shell: false, verbose: false } });
  t.strictSame(parseCli(['replay', 'b', '--shell']), { command: 'replay', args: { bundle: 'b', shell: true, verbose: false } });
  t.throws(() => parseCli(['replay']), /needs a BUNDLE/);
});

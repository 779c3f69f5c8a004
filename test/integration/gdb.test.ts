// `rig exec --gdb-wait`: real gdb in batch mode attaches to the guest held before the command, breaks in the
// module's receive function at its ktest.c line, reads the message from its argument, continues; exec ends clean.
import t, { type Test } from 'tap';
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadImages } from '../../rig/kernels/images.ts';
import { builtKernelState } from '../../rig/build/kernel.ts';
import type { BuiltImageSpec, DebianImageSpec } from '../../rig/kernels/spec.ts';
import { existsSync } from 'node:fs';
import { cacheRoot, projectRoot } from '../../rig/core/paths.ts';
import { rig as rigCli, tempDir } from '../helpers/rig.ts';
import { rigOnPty } from '../helpers/pty.ts';
import { readdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

// A cold cache builds the snapshot first; the machine is shared (2 cores, TCG): generous.
t.setTimeout(20 * 60_000);

/** The line gdb stops at when asked to break on `fn`: the opening brace of its definition (the call to __fentry__ is its first code). */
function braceLineOf(source: string, fn: string): number {
  const lines = source.split('\n');
  const def = lines.findIndex((l) => new RegExp(`^static\\s+\\w+\\s+${fn}\\(`).test(l));
  if (def < 0) throw new Error(`no definition of ${fn} in ktest.c`);
  return lines.findIndex((l, i) => i > def && l.trim() === '{') + 1;
}

interface Session {
  /** The attach script's text. */
  readonly script: string;
  /** gdb's stdout and stderr. */
  readonly gdb: string;
  readonly exec: { exitCode: number; stdout: string; stderr: string };
  /** Lines of `pgrep -f` for QEMU and gdb of this test after the end. */
  readonly left: string;
}

/** rig COMMAND --gdb-wait ARGS, then gdb -batch -x <the rig's script> -x <commands>; waits for both. */
async function session(t: Test, command: 'exec' | 'run' | 'replay', rigArgs: readonly string[], commands: readonly string[], gdbCommand = 'gdb'): Promise<Session> {
  const tmp = await tempDir(t, 'ktest-rig-gdb-');
  const logs = command === 'replay' ? [] : ['--logs', join(tmp, 'logs')];
  const rig = execa(process.execPath, ['--import', 'tsx', join(projectRoot, 'rig/cli/main.ts'), command, '--gdb-wait', ...logs, ...rigArgs], {
    cwd: projectRoot,
    reject: false,
    stdin: 'ignore',
    env: { TMPDIR: tmp },
    timeout: 15 * 60_000,
  });
  t.teardown(() => void rig.kill('SIGKILL'));
  let stderr = '';
  const attach = await new Promise<string>((resolve, reject) => {
    rig.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
      const m = /the guest is stopped before (?:the command|the rest of scenario \S+ \[\S+\]) .*attach with: (?:gdb|gdb-multiarch) -x (\S+)/.exec(stderr);
      if (m) resolve(m[1]!);
    });
    void rig.then(() => reject(new Error(`exec ended before it offered gdb:\n${stderr.slice(-2000)}`)));
  });
  const file = join(tmp, 'test.gdb');
  await writeFile(file, `${commands.join('\n')}\n`);
  const gdb = await execa(gdbCommand, ['-nx', '-batch', '-x', attach, '-x', file], { reject: false, timeout: 10 * 60_000 });
  const r = await rig;
  const left = await execa('pgrep', ['-af', `(qemu-system-|gdb ).*${tmp}`], { reject: false });
  return { script: await readFile(attach, 'utf8'), gdb: `${gdb.stdout}\n${gdb.stderr}`, exec: { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr }, left: left.stdout.trim() };
}

const HIT = 'python sal = gdb.selected_frame().find_sal(); print("HIT %s %s:%d" % (gdb.selected_frame().name(), sal.symtab.filename, sal.line))';
const brace = braceLineOf(readFileSync(join(projectRoot, 'kmod/ktest.c'), 'utf8'), 'ktest_rcv_msg');

t.test('stock kernel: gdb breaks in ktest_rcv_msg at its ktest.c line and reads the message', async (t) => {
  const message = 'gdb-sees-this';
  const s = await session(t, 'exec', ['--', 'nlclient', message], [
    // The module's netlink receive callback: netlink_rcv_skb calls it once per message.
    'break ktest_rcv_msg',
    'continue',
    HIT,
    // the payload follows the 16-byte netlink header
    `python n = gdb.parse_and_eval("nlh"); print("PAYLOAD " + bytes(gdb.selected_inferior().read_memory(int(n) + 16, ${message.length})).decode("latin1"))`,
    'python print("LEN %d" % int(gdb.parse_and_eval("nlh->nlmsg_len")))',
    // kernel symbols without DWARF: the caller by name
    'python print("CALLER %s" % gdb.selected_frame().older().name())',
    'delete',
    'detach',
  ]);
  t.match(s.script, /^add-symbol-file \S+\/ktest\.ko 0xffffffff[0-9a-f]+ .*-s \.data 0x/m, 'the module at its sysfs addresses');
  t.match(s.script, /^target remote \S+\/gdb\.sock$/m, 'a unix socket, no TCP port');
  t.match(s.gdb, new RegExp(`^HIT ktest_rcv_msg \\S*ktest\\.c:${brace}$`, 'm'), `breakpoint at ktest.c:${brace}`, { gdb: s.gdb.slice(-3000) });
  t.match(s.gdb, new RegExp(`^PAYLOAD ${message}$`, 'm'), "the message's bytes, read from nlh");
  t.match(s.gdb, new RegExp(`^LEN ${16 + message.length}$`, 'm'), 'nlmsg_len: header + payload');
  t.match(s.gdb, /^CALLER netlink_rcv_skb$/m, "the kernel's symbols (from the guest's kallsyms)");
  t.equal(s.exec.exitCode, 0, "exec ends with nlclient's status", { stderr: s.exec.stderr.slice(-2000) });
  t.match(s.exec.stdout, /"payload":"hello users!!!"/, 'nlclient got its reply after gdb continued');
  t.match(s.exec.stderr, new RegExp(`kernel recv from user: ${message}`));
  t.equal(s.left, '', 'no QEMU or gdb left');
});

t.test('run --gdb-wait: a scenario waits after its module load, gdb breaks in it, the scenario passes', async (t) => {
  const s = await session(t, 'run', ['--only', '/^roundtrip$/'], ['break ktest_rcv_msg', 'continue', HIT, 'p (char *)(nlh + 1)', 'delete', 'detach']);
  t.match(s.gdb, new RegExp(`^HIT ktest_rcv_msg \\S*ktest\\.c:${brace}$`, 'm'), { gdb: s.gdb.slice(-3000) });
  t.match(s.gdb, /"hello kernel"/, "the scenario's message");
  t.equal(s.exec.exitCode, 0, 'the scenario passed (no timeout while gdb held it)', { stderr: s.exec.stderr.slice(-2000) });
  t.match(s.exec.stdout, /^ok 1 - roundtrip/m);
  t.equal(s.left, '', 'no QEMU or gdb left');
});

t.test('arm64 guest: gdb-multiarch, kernel symbols under KASLR, the module at its lines', async (t) => {
  const s = await session(t, 'exec', ['--kernel', 'bookworm-6.1-arm64', '--', 'nlclient', 'from-arm64'], [
    // `break ktest_rcv_msg` also stops at the symbol's first address: two ftrace NOPs that arm64's DWARF leaves to the
    // function before. A breakpoint on the line is exact.
    `break ktest.c:${brace}`,
    'continue',
    HIT,
    'p (char *)(nlh + 1)',
    'python print("CALLER %s" % gdb.selected_frame().older().name())',
    'delete',
    'detach',
  ], 'gdb-multiarch');
  t.match(s.script, /^set architecture aarch64$/m);
  t.match(s.gdb, new RegExp(`^HIT ktest_rcv_msg \\S*ktest\\.c:${brace}$`, 'm'), { gdb: s.gdb.slice(-3000) });
  t.match(s.gdb, /"from-arm64"/);
  t.match(s.gdb, /^CALLER netlink_rcv_skb$/m, "kernel symbols from the guest's kallsyms, wherever KASLR put the kernel");
  t.equal(s.exec.exitCode, 0, { stderr: s.exec.stderr.slice(-2000) });
  t.equal(s.left, '', 'no QEMU or gdb left');
});

const stock = loadImages().find((i) => i.id === 'bookworm-6.1') as DebianImageSpec;
const dbgCached = existsSync(join(cacheRoot(), 'gdb', `${stock.id}-dbg-${stock.packages.image.version}`, 'vmlinux'));

// --gdb-dbg downloads 855 MB once: the suite runs it where it was fetched before, or when asked to (KTEST_RIG_TEST_GDB_DBG=1).
t.test('stock kernel with --gdb-dbg: Debian\'s -dbg vmlinux gives the kernel frames their arguments and lines', { skip: dbgCached || process.env.KTEST_RIG_TEST_GDB_DBG === '1' ? false : 'the -dbg package (855 MB) was never fetched here: KTEST_RIG_TEST_GDB_DBG=1 fetches it' }, async (t) => {
  const s = await session(t, 'exec', ['--gdb-dbg', '--', 'nlclient', 'from-dbg'], ['break ktest_rcv_msg', 'continue', HIT, 'up', 'python sal = gdb.selected_frame().find_sal(); print("UP %s %s:%d" % (gdb.selected_frame().name(), sal.symtab.filename, sal.line))', 'info args', 'delete', 'detach']);
  t.match(s.script, /^symbol-file \S+\/bookworm-6\.1-dbg-[^/]+\/vmlinux$/m, "the -dbg package's vmlinux");
  t.match(s.gdb, new RegExp(`^HIT ktest_rcv_msg \\S*ktest\\.c:${brace}$`, 'm'), { gdb: s.gdb.slice(-3000) });
  t.match(s.gdb, /^UP netlink_rcv_skb net\/netlink\/af_netlink\.c:\d+$/m, "the kernel's own frame with its line");
  t.match(s.gdb, /^cb = 0x[0-9a-f]+ <ktest_rcv_msg>$/m, 'and its arguments');
  t.equal(s.exec.exitCode, 0, { stderr: s.exec.stderr.slice(-2000) });
  t.equal(s.left, '', 'no QEMU or gdb left');
});

/** A failure bundle of the wrong-reply fixture (an assertion: the guest is saved at the failure), made once. */
let bundleMade: Promise<string> | undefined;
function failureBundle(): Promise<string> {
  bundleMade ??= (async () => {
    const logs = await tempDir(t, 'ktest-rig-gdb-bundle-');
    const made = await rigCli(['--kmod', join(projectRoot, 'test/fixtures/kmods/wrong-reply'), '--only', '/^roundtrip$/', '--logs', logs]);
    if (made.exitCode !== 1) throw new Error(`the wrong-reply run did not fail as it should (exit ${made.exitCode}): ${made.stderr.slice(-1500)}`);
    return join(logs, 'bundles', 'bookworm-6.1--roundtrip');
  })();
  return bundleMade;
}

t.test('replay --gdb-wait: the bundle\'s scenario re-runs under gdb, the failure reproduces', async (t) => {
  const bundle = await failureBundle();
  const s = await session(t, 'replay', [bundle], ['break ktest_rcv_msg', 'continue', HIT, 'p (char *)(nlh + 1)', 'delete', 'detach']);
  t.match(s.gdb, new RegExp(`^HIT ktest_rcv_msg \\S*ktest\\.c:${brace}$`, 'm'), { gdb: s.gdb.slice(-3000) });
  t.match(s.gdb, /"hello kernel"/);
  t.equal(s.exec.exitCode, 0, 'reproduced', { stderr: s.exec.stderr.slice(-2000) });
  t.match(s.exec.stdout, /^reproduced: assertion/m);
  t.equal(s.left, '', 'no QEMU or gdb left');
});

const debugImage = loadImages().find((i) => i.id === 'bookworm-6.1-debug') as BuiltImageSpec | undefined;
const debugBuilt = debugImage ? (await builtKernelState(debugImage)).ok : false;

// The debug kernel is built by the rig (minutes on a small machine): this runs where it has been built.
t.test('debug kernel: DWARF frames in the kernel with their sources, and the kernel\'s lx- helpers', { skip: debugBuilt ? false : 'bookworm-6.1-debug is not built on this machine (npm run rig -- images fetch bookworm-6.1-debug)' }, async (t) => {
  const s = await session(t, 'exec', ['--kernel', 'bookworm-6.1-debug', '--', 'nlclient', 'from-debug'], [
    'lx-dmesg',
    'break ktest_rcv_msg',
    'continue',
    HIT,
    'python print("COMM %s" % gdb.parse_and_eval("$lx_current().comm").string())',
    'up',
    'info source',
    'delete',
    'detach',
  ]);
  t.match(s.script, /^source \S+vmlinux-gdb\.py$/m);
  t.match(s.gdb, /ktest: netlink protocol 30 ready/, 'lx-dmesg reads the kernel log');
  t.match(s.gdb, new RegExp(`^HIT ktest_rcv_msg \\S*ktest\\.c:${brace}$`, 'm'), { gdb: s.gdb.slice(-3000) });
  t.match(s.gdb, /^COMM nlclient$/m, '$lx_current()');
  t.match(s.gdb, /netlink_rcv_skb \(skb=0x[0-9a-f]+.*af_netlink\.c:\d+/, 'the kernel frame with its arguments and line');
  t.match(s.gdb, /^Located in \/\S+\/src\/net\/netlink\/af_netlink\.c$/m, "the kernel's sources where they are now");
  t.equal(s.exec.exitCode, 0, { stderr: s.exec.stderr.slice(-2000) });
  t.equal(s.left, '', 'no QEMU or gdb left');
});

/** rig ARGS (a shell with --gdb-wait) on a pty; gdb attaches when the script appears, runs `extra` then the breakpoint; an nlclient typed in the shell hits it. */
async function shellUnderGdb(t: Test, args: readonly string[], extra: readonly string[]) {
  // rigOnPty makes its TMPDIR under ours: the script appears at <ours>/ktest-rig-pty-*/ktest-rig-logs/gdb-*/attach.gdb.
  const ours = await tempDir(t, 'ktest-rig-gdb-shell-');
  const before = process.env.TMPDIR;
  process.env.TMPDIR = ours;
  t.teardown(() => (before === undefined ? delete process.env.TMPDIR : (process.env.TMPDIR = before)));
  const findScript = async (): Promise<string> => {
    for (let i = 0; i < 600; i++) {
      for (const pty of await readdir(ours).catch(() => [] as string[])) {
        const logs = join(ours, pty, 'ktest-rig-logs');
        // gdb-*/attach.gdb, or gdb-*/<image>-<scenario>/attach.gdb when a scenario runs first (replay without a snapshot)
        const dirs = (await readdir(logs, { recursive: true }).catch(() => [] as string[])).filter((f) => f.endsWith('attach.gdb'));
        for (const rel of dirs) {
          const f = join(logs, rel);
          if (await readFile(f, 'utf8').then((x) => x.includes('target remote'), () => false)) return f;
        }
      }
      await sleep(500);
    }
    throw new Error(`no gdb script appeared under ${ours}`);
  };
  const debuggerRun = (async () => {
    const script = await findScript();
    const file = join(ours, 'shell.gdb');
    await writeFile(file, [...extra, 'break ktest_rcv_msg', 'continue', HIT, 'p (char *)(nlh + 1)', 'delete', 'detach', ''].join('\n'));
    return execa('gdb', ['-nx', '-batch', '-x', script, '-x', file], { reject: false, timeout: 8 * 60_000 });
  })();
  const r = await rigOnPty(
    args,
    [
      { expect: 'the guest is stopped before the shell', timeout: 240 },
      { expect: 'ktest:/# ', timeout: 240 },
      { send: 'nlclient from-the-shell\r' },
      { expect: '"payload":"hello ', timeout: 240 }, // wrong-reply's module answers "hello world"
      { send: 'exit 3\r' },
    ],
  );
  const gdb = await debuggerRun.catch((error: unknown) => {
    throw new Error(`${String(error)}; the terminal showed: ${r.screen.slice(-3000)}`);
  });
  return { r, out: `${gdb.stdout}\n${gdb.stderr}` };
}

t.test('shell --gdb-wait: gdb continues the held guest, then breaks on what the shell sends', async (t) => {
  const { r, out } = await shellUnderGdb(t, ['shell', '--gdb-wait'], []);
  t.ok(r.steps.every((s) => s.ok), 'every step', { steps: r.steps, screen: r.screen.slice(-2000) });
  t.match(out, new RegExp(`^HIT ktest_rcv_msg \\S*ktest\\.c:${brace}$`, 'm'), { gdb: out.slice(-3000) });
  t.match(out, /"from-the-shell"/, 'the message the shell sent');
  t.equal(r.exitCode, 3, "the shell's status");
  t.equal(r.qemuLeft, 0, 'no QEMU left');
});

t.test('replay --shell --gdb-wait: the stub on the guest restored at the failure, module symbols where it was loaded', async (t) => {
  const bundle = await failureBundle();
  const { r, out } = await shellUnderGdb(t, ['replay', bundle, '--shell', '--gdb-wait'], ['python print("SOCK %#x" % int(gdb.parse_and_eval("ktest_sock")))']);
  t.ok(r.steps.every((s) => s.ok), 'every step', { steps: r.steps, screen: r.screen.slice(-2000) });
  t.match(out, /^SOCK 0xffff[0-9a-f]{12}$/m, "the module's data (its netlink socket) at its load address in the restored guest");
  t.match(out, new RegExp(`^HIT ktest_rcv_msg \\S*ktest\\.c:${brace}$`, 'm'), { gdb: out.slice(-3000) });
  t.equal(r.exitCode, 3);
  t.equal(r.qemuLeft, 0, 'no QEMU left');
});

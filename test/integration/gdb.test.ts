// `rig exec --gdb-wait`: real gdb in batch mode attaches to the guest held before the command, breaks in the
// module's receive function at its ktest.c line, reads the message from its argument, continues; exec ends clean.
import t from 'tap';
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { projectRoot } from '../../rig/core/paths.ts';
import { tempDir } from '../helpers/rig.ts';

// A cold cache builds the snapshot first; the machine is shared (2 cores, TCG): generous.
t.setTimeout(15 * 60_000);

/** The line gdb stops at when asked to break on `fn`: the opening brace of its definition (the call to __fentry__ is its first code). */
function braceLineOf(source: string, fn: string): { def: number; brace: number } {
  const lines = source.split('\n');
  const def = lines.findIndex((l) => new RegExp(`^static\\s+\\w+\\s+${fn}\\(`).test(l));
  if (def < 0) throw new Error(`no definition of ${fn} in ktest.c`);
  const brace = lines.findIndex((l, i) => i > def && l.trim() === '{');
  return { def: def + 1, brace: brace + 1 };
}

t.test('exec --gdb-wait: gdb breaks in ktest_rcv_msg and reads the message', async (t) => {
  const source = readFileSync(join(projectRoot, 'kmod/ktest.c'), 'utf8');
  // The module's netlink receive callback (netlink_rcv_skb calls it once per message): the first definition is the >= 4.12 one.
  const { brace } = braceLineOf(source, 'ktest_rcv_msg');
  const tmp = await tempDir(t, 'ktest-rig-gdb-');
  const logs = join(tmp, 'logs');
  const message = 'gdb-sees-this';
  const rig = execa(process.execPath, ['--import', 'tsx', join(projectRoot, 'rig/cli/main.ts'), 'exec', '--gdb-wait', '--logs', logs, '--', 'nlclient', message], {
    cwd: projectRoot,
    reject: false,
    stdin: 'ignore',
    env: { TMPDIR: tmp },
    timeout: 12 * 60_000,
  });
  t.teardown(() => void rig.kill('SIGKILL'));
  let stderr = '';
  const attach = await new Promise<string>((resolve, reject) => {
    rig.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
      const m = /attach with: (gdb -x (\S+))/.exec(stderr);
      if (m) resolve(m[2]!);
    });
    void rig.then(() => reject(new Error(`exec ended before it offered gdb:\n${stderr.slice(-2000)}`)));
  });
  t.match(stderr, /the guest is stopped before the command/, 'the guest is held');
  const script = await readFile(attach, 'utf8');
  t.match(script, /^add-symbol-file \S+\/ktest\.ko 0xffffffffc[0-9a-f]+ .*-s \.data 0x/m, 'the module at its sysfs addresses');
  t.match(script, /^target remote \S+\/gdb\.sock$/m, 'a unix socket, no TCP port');

  const commands = join(tmp, 'test.gdb');
  await writeFile(
    commands,
    [
      'break ktest_rcv_msg',
      'continue',
      'python sal = gdb.selected_frame().find_sal(); print("HIT %s %s:%d" % (gdb.selected_frame().name(), sal.symtab.filename, sal.line))',
      // netlink_rcv_skb hands over one message: the payload follows the 16-byte header
      `python n = gdb.parse_and_eval("nlh"); data = gdb.selected_inferior().read_memory(int(n) + 16, ${message.length}); print("PAYLOAD " + bytes(data).decode("latin1"))`,
      'python print("LEN %d" % int(gdb.parse_and_eval("nlh->nlmsg_len")))',
      'delete',
      'detach',
    ].join('\n'),
  );
  const gdb = await execa('gdb', ['-nx', '-batch', '-x', attach, '-x', commands], { reject: false, timeout: 8 * 60_000 });
  const out = `${gdb.stdout}\n${gdb.stderr}`;
  t.match(out, new RegExp(`^HIT ktest_rcv_msg \\S*ktest\\.c:${brace}$`, 'm'), `breakpoint at ktest.c:${brace}`, { out: out.slice(-3000) });
  t.match(out, new RegExp(`^PAYLOAD ${message}$`, 'm'), "the message's bytes, read from nlh");
  t.match(out, new RegExp(`^LEN ${16 + message.length}$`, 'm'), 'nlmsg_len: header + payload');

  const r = await rig;
  t.equal(r.exitCode, 0, 'exec ends with nlclient\'s status', { stderr: r.stderr.slice(-2000) });
  t.match(r.stdout, /"payload":"hello users!!!"/, 'nlclient got its reply');
  t.match(r.stderr, new RegExp(`kernel recv from user: ${message}`));
  const left = await execa('pgrep', ['-f', `qemu-system-.*${tmp}`], { reject: false });
  t.equal(left.stdout.trim(), '', 'no QEMU left');
  const gdbLeft = await execa('pgrep', ['-f', `gdb .*${attach}`], { reject: false });
  t.equal(gdbLeft.stdout.trim(), '', 'no gdb left');
});

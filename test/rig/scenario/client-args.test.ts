// nlclient's argv from ClientCall, and ClientResult from nlclient output captured in a 6.1 guest.
import t from 'tap';
import { clientArgv, errnoOf, parseClientOutput, parseFaultLine, parseReplyLine } from '../../../rig/scenario/client-args.ts';

// Captured from nlclient in a 6.1.0-50-amd64 guest with kmod/ktest.ko loaded.
const HELLO = '{"seq":1,"type":16,"flags":0,"len":31,"pid":0,"payload":"hello users!!!","hex":"68656c6c6f20757365727321212100"}';
const ACK =
  '{"seq":1,"type":2,"flags":256,"len":36,"pid":87,"payload":"\\u0000\\u0000\\u0000\\u0000\\u0019\\u0000\\u0000\\u0000\\u0010\\u0000\\u0005\\u0000\\u0001\\u0000\\u0000\\u0000\\u0000\\u0000\\u0000","hex":"0000000019000000100005000100000000000000","error":0,"errno":"OK"}';
const EOPNOTSUPP =
  '{"seq":1,"type":2,"flags":256,"len":36,"pid":88,"payload":"\\ufffd\\ufffd\\ufffd\\ufffd\\u0013","hex":"a1ffffff13000000130001000100000000000000","error":-95,"errno":"EOPNOTSUPP"}';
const ECHO_BYTES = '{"seq":1,"type":17,"flags":0,"len":19,"pid":0,"payload":"\\u0000\\ufffd\\u0010","hex":"00ff10"}';

t.test('clientArgv: only the given fields, in nlclient spelling', async (t) => {
  t.same(clientArgv({}), []);
  t.same(clientArgv({ message: 'hello' }), ['--', 'hello']);
  t.same(
    clientArgv({ proto: 31, type: 17, flags: 5, seq: 10, pid: 12345, len: 200, count: 3, timeoutMs: 500, noRecv: true, message: 'x' }),
    ['--proto', '31', '--type', '17', '--flags', '5', '--seq', '10', '--pid', '12345', '--len', '200', '--count', '3',
      '--timeout-ms', '500', '--no-recv', '--', 'x'],
  );
  t.same(clientArgv({ noRecv: false }), [], 'noRecv false adds nothing');
});

t.test('clientArgv: Buffer messages go as --hex, text that looks like an option stays a message', async (t) => {
  t.same(clientArgv({ type: 17, message: Buffer.from([0, 0xff, 0x10]) }), ['--type', '17', '--hex', '00ff10']);
  t.same(clientArgv({ message: Buffer.alloc(0) }), ['--hex', '']);
  t.same(clientArgv({ message: '--help' }), ['--', '--help']);
  t.same(clientArgv({ message: '' }), ['--', '']);
});

t.test('parseReplyLine: a reply line, with and without error fields', async (t) => {
  t.same(parseReplyLine(HELLO), {
    seq: 1, type: 16, flags: 0, len: 31, pid: 0, payload: 'hello users!!!', hex: '68656c6c6f20757365727321212100',
  });
  const ack = parseReplyLine(ACK);
  t.equal(ack?.error, 0);
  t.equal(ack?.errno, 'OK');
  t.equal(parseReplyLine(ECHO_BYTES)?.hex, '00ff10', 'hex is exact where the text is lossy');
  t.equal(parseReplyLine('[    4.58] kernel recv from user: hello'), undefined, 'console noise');
  t.equal(parseReplyLine('{"seq":1}'), undefined, 'missing fields');
  t.equal(parseReplyLine('{not json'), undefined);
  t.equal(parseReplyLine('{"seq":"1","type":16,"flags":0,"len":31,"pid":0,"payload":"","hex":""}'), undefined, 'wrong types');
});

t.test('parseClientOutput: success with several replies', async (t) => {
  const r = parseClientOutput(0, `${HELLO}\n${ACK}\n`, '');
  t.equal(r.exitCode, 0);
  t.equal(r.replies.length, 2);
  t.same(r.replies.map((x) => x.type), [16, 2]);
  t.notOk('error' in r, 'no error');
  t.notOk('errno' in r, 'no errno');
});

t.test('parseClientOutput: kernel error, timeout, socket error, usage', async (t) => {
  const kernel = parseClientOutput(5, `${EOPNOTSUPP}\n`, 'nlclient: EOPNOTSUPP: kernel answered seq 1 with error -95\n');
  t.equal(kernel.exitCode, 5);
  t.equal(kernel.errno, 'EOPNOTSUPP');
  t.equal(kernel.error, 'EOPNOTSUPP: kernel answered seq 1 with error -95', 'prefix removed');
  t.equal(kernel.replies[0].error, -95);

  const timeout = parseClientOutput(4, '', 'nlclient: ETIMEDOUT: no answer to seq 1 within 300 ms\n');
  t.same(timeout, { exitCode: 4, replies: [], error: 'ETIMEDOUT: no answer to seq 1 within 300 ms', errno: 'ETIMEDOUT' });

  const socket = parseClientOutput(3, '', 'nlclient: EPROTONOSUPPORT: netlink socket for protocol 30: Protocol not supported\n');
  t.equal(socket.errno, 'EPROTONOSUPPORT');

  const usage = parseClientOutput(2, '', "nlclient: EINVAL: bad --proto '40' (0..31) (see nlclient --help)\n");
  t.equal(usage.errno, 'EINVAL');
});

t.test('parseClientOutput: console noise and a shell error', async (t) => {
  const noisy = parseClientOutput(0, `[    4.5] kernel recv from user: hello\r\n${HELLO}\r\n\r\n`, '');
  t.equal(noisy.replies.length, 1, 'CRLF and kernel lines skipped');
  const missing = parseClientOutput(127, '', 'sh: nlclient: not found\n');
  t.equal(missing.error, 'sh: nlclient: not found', 'the first stderr line when nlclient said nothing');
  t.notOk('errno' in missing, 'no errno name in it');
  const both = parseClientOutput(4, '', 'some warning\nnlclient: ETIMEDOUT: no answer to seq 3 within 10 ms\n');
  t.equal(both.errno, 'ETIMEDOUT', "nlclient's own line wins");
});

t.test('errnoOf: the first word, else the first errno-like word', async (t) => {
  t.equal(errnoOf('EMSGSIZE: kernel answered'), 'EMSGSIZE');
  t.equal(errnoOf('send failed (ENOBUFS)'), 'ENOBUFS');
  t.equal(errnoOf('nothing here'), undefined);
  t.equal(errnoOf('Error: E'), undefined);
});

t.test('fault injection: --fail-nth / --count-faults on the command line, their stderr line parsed, never an error', async (t) => {
  t.same(clientArgv({ failNth: 3, message: 'hi' }), ['--fail-nth', '3', '--', 'hi']);
  t.same(clientArgv({ countFaults: true }), ['--count-faults']);
  t.same(parseFaultLine('nlclient: fault points: 7\n'), { injected: false, points: 7 });
  t.same(parseFaultLine('nlclient: fail-nth 2: injected\n'), { injected: true });
  t.same(parseFaultLine('nlclient: fail-nth 9: not reached (7 fault points)\n'), { injected: false, points: 7 });
  t.equal(parseFaultLine('nlclient: ENOBUFS: send failed\n'), undefined);
  const r = parseClientOutput(3, '', 'nlclient: ENOMEM: sending seq 1: Cannot allocate memory\nnlclient: fail-nth 1: injected\n');
  t.same(r.faults, { injected: true });
  t.equal(r.errno, 'ENOMEM', 'the fault line is not the error line');
  const ok = parseClientOutput(0, '', 'nlclient: fault points: 4\n');
  t.equal(ok.error, undefined);
  t.same(ok.faults, { injected: false, points: 4 });
});

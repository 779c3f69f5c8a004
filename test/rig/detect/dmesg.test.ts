// Tests dmesg/console prefix stripping.
import t from 'tap';
import { parseDmesg, parseDmesgLine, stripTimestamp } from '../../../rig/detect/dmesg.ts';

t.strictSame(parseDmesgLine('[   12.345678] hello'), { text: 'hello', time: 12.345678 });
t.strictSame(parseDmesgLine('<4>[    1.000000] x'), { text: 'x', level: 4, time: 1 });
t.strictSame(parseDmesgLine('[    1.500000][  T123] y'), { text: 'y', time: 1.5 });
t.strictSame(parseDmesgLine('6,339,5140900,-;NET: Registered'), { text: 'NET: Registered', level: 6, time: 5.1409 });
t.strictSame(parseDmesgLine(' crasher+0x1/0x2 [m]'), { text: ' crasher+0x1/0x2 [m]' }, 'leading space kept without prefix');
t.equal(stripTimestamp('[   12.345678]  <TASK>'), ' <TASK>', 'indentation after the stamp kept');
t.equal(stripTimestamp('plain\r'), 'plain');
t.strictSame(parseDmesg('[ 1.0] a\nb\n').map((l) => l.text), ['a', 'b']);

// Tests the shell's escape key handling: Ctrl-] q, Ctrl-] ?, a literal Ctrl-], an escape split over two reads.
import t from 'tap';
import { EscapeFilter } from '../../../rig/cli/escape.ts';

t.test('escape sequences', async (t) => {
  const f = new EscapeFilter();
  t.strictSame(f.push(Buffer.from('ls\r')), { send: Buffer.from('ls\r'), actions: [] });
  t.strictSame(f.push(Buffer.from('a\u001dqb')), { send: Buffer.from('ab'), actions: ['quit'] });
  t.strictSame(f.push(Buffer.from('\u001d')), { send: Buffer.alloc(0), actions: [] }, 'waits for the next key');
  t.strictSame(f.push(Buffer.from('?')), { send: Buffer.alloc(0), actions: ['help'] });
  t.strictSame(f.push(Buffer.from('\u001d\u001d')), { send: Buffer.from([0x1d]), actions: [] }, 'twice sends one');
  t.strictSame(f.push(Buffer.from('\u001dx\u0003')), { send: Buffer.from([0x1d, 0x78, 0x03]), actions: [] }, 'anything else passes through');
});

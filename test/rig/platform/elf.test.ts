// Tests the one ELF reader on hand-made headers and on real files: static or not, e_machine, sections, PVH note.
import t from 'tap';
import { readFile } from 'node:fs/promises';
import { elfHeader, elfInfo, elfSectionNames, isStaticElf, readHead } from '../../../rig/platform/elf.ts';
import { fakeElf } from '../../helpers/elf.ts';

function elf(types: number[], opts: { is64?: boolean; le?: boolean } = {}): Buffer {
  const is64 = opts.is64 ?? true;
  const le = opts.le ?? true;
  const ehsize = is64 ? 64 : 52;
  const phentsize = is64 ? 56 : 32;
  const buf = Buffer.alloc(ehsize + types.length * phentsize);
  buf.writeUInt32BE(0x7f454c46, 0);
  buf[4] = is64 ? 2 : 1;
  buf[5] = le ? 1 : 2;
  buf[6] = 1;
  const w16 = (v: number, at: number) => (le ? buf.writeUInt16LE(v, at) : buf.writeUInt16BE(v, at));
  const w32 = (v: number, at: number) => (le ? buf.writeUInt32LE(v, at) : buf.writeUInt32BE(v, at));
  if (is64) {
    if (le) buf.writeBigUInt64LE(BigInt(ehsize), 0x20);
    else buf.writeBigUInt64BE(BigInt(ehsize), 0x20);
  } else w32(ehsize, 0x1c);
  w16(phentsize, is64 ? 0x36 : 0x2a);
  w16(types.length, is64 ? 0x38 : 0x2c);
  types.forEach((type, i) => w32(type, ehsize + i * phentsize));
  return buf;
}

t.test('isStaticElf reads PT_INTERP from program headers', async (t) => {
  const PT_LOAD = 1;
  const PT_INTERP = 3;
  t.equal(isStaticElf(elf([PT_LOAD, PT_LOAD])), true, 'static 64-bit LE');
  t.equal(isStaticElf(elf([6, PT_INTERP, PT_LOAD])), false, 'dynamic 64-bit LE');
  t.equal(isStaticElf(elf([PT_LOAD], { is64: false, le: false })), true, 'static 32-bit BE');
  t.equal(isStaticElf(elf([PT_INTERP], { is64: false, le: false })), false, 'dynamic 32-bit BE');
  t.equal(isStaticElf(Buffer.from('#!/bin/sh\necho hello, this is a script and no ELF at all\n')), undefined, 'not ELF');
  t.equal(isStaticElf(elf([PT_LOAD, PT_LOAD]).subarray(0, 80)), undefined, 'truncated program headers');
  t.equal(isStaticElf(Buffer.alloc(0)), undefined, 'empty');
});

t.test('elfInfo', async (t) => {
  t.same(elfInfo(fakeElf(183, false)), { machine: 183, is64: true, dynamic: false });
  t.same(elfInfo(fakeElf(62, true)), { machine: 62, is64: true, dynamic: true });
  t.equal(elfInfo(Buffer.from('#!/bin/sh\n'.padEnd(80))), undefined);
  t.equal(elfInfo(Buffer.alloc(10)), undefined);
});

t.test('real files: node itself is a dynamic ELF of this host; section names of a real object', async (t) => {
  const head = await readHead(process.execPath);
  const h = elfHeader(head);
  t.ok(h, 'node is ELF');
  t.equal(h?.machine, process.arch === 'x64' ? 62 : 183);
  t.equal(isStaticElf(head), false, 'node asks for an interpreter');
  t.equal((await readHead('/nonexistent')).length, 0);
  const names = elfSectionNames(await readFile(process.execPath));
  t.ok(names.includes('.text') && names.includes('.dynamic'), 'node has .text and .dynamic');
  t.same(elfSectionNames(Buffer.alloc(100)), []);
});

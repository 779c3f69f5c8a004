// Tests the one ELF reader on hand-made headers and on real files: static or not, e_machine, sections, PVH note.
import t from 'tap';
import { readFile } from 'node:fs/promises';
import { elfHeader, elfInfo, elfSectionNames, isStaticElf, readHead } from '../../../rig/platform/elf.ts';
import { elfWithProgramHeaders as elf, fakeElf } from '../../helpers/elf.ts';

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

// A minimal ELF for tests of the ELF reader and its users.

/** A minimal 64-bit little-endian ELF header with one program header (PT_INTERP when dynamic). */
export function fakeElf(machine: number, dynamic: boolean): Buffer {
  const buf = Buffer.alloc(64 + 56);
  buf.writeUInt32BE(0x7f454c46, 0);
  buf[4] = 2; // ELFCLASS64
  buf[5] = 1; // little endian
  buf.writeUInt16LE(2, 16); // ET_EXEC
  buf.writeUInt16LE(machine, 18);
  buf.writeBigUInt64LE(64n, 32); // e_phoff
  buf.writeUInt16LE(56, 54); // e_phentsize
  buf.writeUInt16LE(1, 56); // e_phnum
  buf.writeUInt32LE(dynamic ? 3 : 1, 64); // PT_INTERP or PT_LOAD
  return buf;
}


/** A minimal ELF image: the header plus program headers of the given types (64/32-bit, either endianness). */
export function elfWithProgramHeaders(types: number[], opts: { is64?: boolean; le?: boolean } = {}): Buffer {
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

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


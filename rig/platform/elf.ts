// The one ELF reader: header, program headers (static or not, PVH note), section names, e_machine. Pure over buffers.
import { open } from 'node:fs/promises';

export const ELF_MAGIC = 0x7f454c46;
const PT_INTERP = 3;
const PT_NOTE = 4;
/** Xen ELF note type XEN_ELFNOTE_PHYS32_ENTRY: the PVH entry point QEMU boots an ELF kernel by. */
export const XEN_ELFNOTE_PHYS32_ENTRY = 18;

export interface ElfHeader {
  readonly is64: boolean;
  readonly littleEndian: boolean;
  /** e_machine (62 x86_64, 183 aarch64). */
  readonly machine: number;
  readonly phoff: number;
  readonly phentsize: number;
  readonly phnum: number;
  readonly shoff: number;
  readonly shentsize: number;
  readonly shnum: number;
  readonly shstrndx: number;
}

interface Reader {
  u16(at: number): number;
  u32(at: number): number;
  u64(at: number): number;
}

function reader(buf: Buffer, le: boolean): Reader {
  return {
    u16: (at) => (le ? buf.readUInt16LE(at) : buf.readUInt16BE(at)),
    u32: (at) => (le ? buf.readUInt32LE(at) : buf.readUInt32BE(at)),
    u64: (at) => Number(le ? buf.readBigUInt64LE(at) : buf.readBigUInt64BE(at)),
  };
}

/** The ELF header of `buf` (32 or 64 bit, either byte order), or undefined when it is not ELF. */
export function elfHeader(buf: Buffer): ElfHeader | undefined {
  if (buf.length < 52 || buf.readUInt32BE(0) !== ELF_MAGIC) return undefined;
  const is64 = buf[4] === 2;
  if (buf[4] !== 1 && !is64) return undefined;
  if (buf[5] !== 1 && buf[5] !== 2) return undefined;
  if (is64 && buf.length < 64) return undefined;
  const littleEndian = buf[5] === 1;
  const r = reader(buf, littleEndian);
  return {
    is64,
    littleEndian,
    machine: r.u16(18),
    phoff: is64 ? r.u64(0x20) : r.u32(0x1c),
    phentsize: r.u16(is64 ? 0x36 : 0x2a),
    phnum: r.u16(is64 ? 0x38 : 0x2c),
    shoff: is64 ? r.u64(0x28) : r.u32(0x20),
    shentsize: r.u16(is64 ? 0x3a : 0x2e),
    shnum: r.u16(is64 ? 0x3c : 0x30),
    shstrndx: r.u16(is64 ? 0x3e : 0x32),
  };
}

/** True for a 64-bit little-endian ELF. */
export function isElf64(buf: Buffer): boolean {
  const h = elfHeader(buf);
  return h !== undefined && h.is64 && h.littleEndian;
}

export interface ProgramHeader {
  readonly type: number;
  readonly offset: number;
  readonly filesz: number;
}

/** The program headers, or undefined when they lie beyond the buffer (a head read too short). */
export function programHeaders(buf: Buffer, h: ElfHeader | undefined = elfHeader(buf)): ProgramHeader[] | undefined {
  if (!h || h.phentsize < 4 || h.phoff + h.phnum * h.phentsize > buf.length) return undefined;
  const r = reader(buf, h.littleEndian);
  const out: ProgramHeader[] = [];
  for (let i = 0; i < h.phnum; i++) {
    const ph = h.phoff + i * h.phentsize;
    const full = ph + (h.is64 ? 56 : 32) <= buf.length;
    out.push({
      type: r.u32(ph),
      offset: full ? (h.is64 ? r.u64(ph + 8) : r.u32(ph + 4)) : 0,
      filesz: full ? (h.is64 ? r.u64(ph + 32) : r.u32(ph + 16)) : 0,
    });
  }
  return out;
}

/**
 * Whether an ELF image is statically linked (no PT_INTERP program header). Undefined when the
 * buffer is not an ELF file or its program headers lie beyond the buffer.
 */
export function isStaticElf(buf: Buffer): boolean | undefined {
  const phs = programHeaders(buf);
  return phs && !phs.some((p) => p.type === PT_INTERP);
}

/** Header facts of an executable: e_machine, class, whether it asks for an interpreter (dynamic). */
export function elfInfo(buf: Buffer): { machine: number; is64: boolean; dynamic: boolean } | undefined {
  const h = elfHeader(buf);
  if (!h) return undefined;
  return { machine: h.machine, is64: h.is64, dynamic: isStaticElf(buf) === false };
}

/** True when the ELF has a Xen PVH entry note (name "Xen", type 18) in a PT_NOTE segment. */
export function hasPvhNote(elf: Buffer): boolean {
  const h = elfHeader(elf);
  if (!h || !h.is64 || !h.littleEndian) return false;
  for (let i = 0; i < h.phnum; i++) {
    const ph = h.phoff + i * h.phentsize;
    if (ph + 56 > elf.length || elf.readUInt32LE(ph) !== PT_NOTE) continue;
    const start = Number(elf.readBigUInt64LE(ph + 8));
    const end = Math.min(elf.length, start + Number(elf.readBigUInt64LE(ph + 32)));
    for (let p = start; p + 12 <= end; ) {
      const namesz = elf.readUInt32LE(p);
      const descsz = elf.readUInt32LE(p + 4);
      const type = elf.readUInt32LE(p + 8);
      const name = elf.toString('latin1', p + 12, p + 12 + Math.max(0, namesz - 1));
      if (name === 'Xen' && type === XEN_ELFNOTE_PHYS32_ENTRY) return true;
      p += 12 + align4(namesz) + align4(descsz);
    }
  }
  return false;
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

/** Section names of a 64-bit little-endian ELF (a .ko), in section order; [] when unreadable. */
export function elfSectionNames(elf: Buffer): string[] {
  const h = elfHeader(elf);
  if (!h || !h.is64 || !h.littleEndian) return [];
  const { shoff, shentsize, shnum, shstrndx } = h;
  if (shoff === 0 || shoff + shnum * shentsize > elf.length || shstrndx >= shnum) return [];
  const strtab = Number(elf.readBigUInt64LE(shoff + shstrndx * shentsize + 0x18));
  const names: string[] = [];
  for (let i = 0; i < shnum; i++) {
    const start = strtab + elf.readUInt32LE(shoff + i * shentsize);
    const end = elf.indexOf(0, start);
    names.push(elf.toString('latin1', start, end < 0 ? undefined : end));
  }
  return names;
}

/** The first `bytes` of a file (enough for the headers of an executable); empty when unreadable. */
export async function readHead(path: string, bytes = 4096): Promise<Buffer> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch {
    return Buffer.alloc(0);
  }
  try {
    const buf = Buffer.alloc(bytes);
    const { bytesRead } = await fh.read(buf, 0, bytes, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

export interface ElfSection {
  readonly name: string;
  /** sh_addr. */
  readonly address: bigint;
  /** SHF_ALLOC: the section occupies memory when loaded. */
  readonly alloc: boolean;
}

/** SHF_ALLOC. */
const SHF_ALLOC = 2n;

/**
 * The section table of a 64-bit little-endian ELF file, read without loading the whole file (a
 * vmlinux with DWARF is hundreds of MB); [] when it is not one.
 */
export async function elfSections(path: string): Promise<ElfSection[]> {
  const fh = await open(path, 'r');
  try {
    const read = async (at: number, length: number): Promise<Buffer> => {
      const buf = Buffer.alloc(length);
      const { bytesRead } = await fh.read(buf, 0, length, at);
      return buf.subarray(0, bytesRead);
    };
    const h = elfHeader(await read(0, 64));
    if (!h || !h.is64 || !h.littleEndian || h.shoff === 0 || h.shstrndx >= h.shnum || h.shentsize < 64) return [];
    const table = await read(h.shoff, h.shnum * h.shentsize);
    if (table.length < h.shnum * h.shentsize) return [];
    const at = (i: number) => i * h.shentsize;
    const strOffset = Number(table.readBigUInt64LE(at(h.shstrndx) + 0x18));
    const strings = await read(strOffset, Number(table.readBigUInt64LE(at(h.shstrndx) + 0x20)));
    const sections: ElfSection[] = [];
    for (let i = 0; i < h.shnum; i++) {
      const start = table.readUInt32LE(at(i));
      const end = strings.indexOf(0, start);
      sections.push({
        name: strings.toString('latin1', start, end < 0 ? undefined : end),
        address: table.readBigUInt64LE(at(i) + 0x10),
        alloc: (table.readBigUInt64LE(at(i) + 0x08) & SHF_ALLOC) !== 0n,
      });
    }
    return sections;
  } finally {
    await fh.close();
  }
}

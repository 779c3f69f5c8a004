// A symbol-only ELF for gdb made from a running kernel's /proc/kallsyms: Debian's stock kernels ship no
// symbol table (their System.map is a placeholder, the vmlinux inside the bzImage is stripped), so the
// guest's own kallsyms is the one source of kernel symbol names. Pure functions.

/** One line of /proc/kallsyms: address, nm-style type letter, name (module symbols are left out). */
export interface KallsymsEntry {
  readonly address: bigint;
  readonly type: string;
  readonly name: string;
}

/** The built-in kernel's symbols of a /proc/kallsyms text; lines of modules (`name [mod]`) and zero addresses are skipped. */
export function parseKallsyms(text: string): KallsymsEntry[] {
  const out: KallsymsEntry[] = [];
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]{8,16}) ([A-Za-z]) (\S+)$/.exec(line.trim());
    if (!m) continue;
    const address = BigInt(`0x${m[1]}`);
    if (address === 0n) continue;
    out.push({ address, type: m[2]!, name: m[3]! });
  }
  return out;
}

/** Code symbols (nm's t/T and weak w/W); everything else that has an address in the kernel's image is data. */
function isText(type: string): boolean {
  return 'tTwW'.includes(type);
}

/**
 * Absolute symbols (A: per-cpu offsets and link-time markers) and symbols below the kernel's half of the
 * address space are not places in memory: left out.
 */
function placed(e: KallsymsEntry, kernelBase: bigint): boolean {
  return e.type !== 'A' && e.type !== 'a' && e.address >= kernelBase;
}

const SHT_SYMTAB = 2;
const SHT_STRTAB = 3;
const SHT_NOBITS = 8;
const SHF_WRITE = 1n;
const SHF_ALLOC = 2n;
const SHF_EXECINSTR = 4n;
const STT_OBJECT = 1;
const STT_FUNC = 2;
const STB_LOCAL = 0;
const STB_GLOBAL = 1;
const SHN_LORESERVE = 0xff00;
/** The last cluster's section ends this far past its last symbol. */
const TAIL = 0x1000n;

interface Cluster {
  readonly text: boolean;
  readonly start: bigint;
  end: bigint;
  readonly symbols: KallsymsEntry[];
}

/**
 * An ELF64 (little-endian, ET_EXEC) holding only a symbol table: the symbols of `entries` in NOBITS
 * sections at their addresses. gdb needs sections to treat a symbol as a function (`break NAME`,
 * `info symbol`, frames in `bt`), so runs of code symbols become code sections and runs of data symbols
 * data sections, each ending where the next run starts. `kernelBase`: lowest address that counts as
 * kernel memory (x86_64 and arm64: the top half).
 */
export function kallsymsElf(entries: readonly KallsymsEntry[], machine: number, kernelBase = 0x8000_0000_0000_0000n): Buffer {
  const sorted = entries.filter((e) => placed(e, kernelBase)).sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
  const clusters: Cluster[] = [];
  for (const e of sorted) {
    const last = clusters.at(-1);
    if (last && last.text === isText(e.type)) last.symbols.push(e);
    else clusters.push({ text: isText(e.type), start: e.address, end: e.address, symbols: [e] });
  }
  for (let i = 0; i < clusters.length; i++) clusters[i]!.end = clusters[i + 1]?.start ?? clusters[i]!.symbols.at(-1)!.address + TAIL;
  // Runs of one address (a data marker between two functions) own no bytes: their symbols join the run before.
  const sections = clusters.filter((c) => c.end > c.start);
  if (sections.length + 4 >= SHN_LORESERVE) throw new RangeError(`too many symbol runs (${sections.length}) for one ELF`);

  const shstr = new StringTable();
  const str = new StringTable();
  // Section indexes: 0 null, 1..n the runs, then .symtab, .strtab, .shstrtab.
  const sectionOf = (address: bigint): number => {
    let lo = 0;
    let hi = sections.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (sections[mid]!.start <= address) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
  // The next higher address after each symbol (its size runs to there, or to its section's end).
  const nextAddress: (bigint | undefined)[] = new Array(sorted.length);
  for (let i = sorted.length - 1, after: bigint | undefined; i >= 0; i--) {
    nextAddress[i] = after;
    if (i > 0 && sorted[i - 1]!.address < sorted[i]!.address) after = sorted[i]!.address;
  }
  const locals: Buffer[] = [];
  const globals: Buffer[] = [];
  for (let i = 0; i < sorted.length; i++) {
    const e = sorted[i]!;
    const shndx = sectionOf(e.address);
    const section = sections[shndx - 1]!;
    const next = nextAddress[i] ?? section.end;
    const size = (next < section.end ? next : section.end) - e.address;
    const sym = Buffer.alloc(24);
    sym.writeUInt32LE(str.add(e.name), 0);
    const bind = e.type === e.type.toUpperCase() ? STB_GLOBAL : STB_LOCAL;
    sym[4] = (bind << 4) | (isText(e.type) ? STT_FUNC : STT_OBJECT);
    sym.writeUInt16LE(shndx, 6);
    sym.writeBigUInt64LE(e.address, 8);
    sym.writeBigUInt64LE(size > 0n ? size : 0n, 16);
    (bind === STB_LOCAL ? locals : globals).push(sym);
  }
  const symtab = Buffer.concat([Buffer.alloc(24), ...locals, ...globals]);
  const strtab = str.bytes();
  const headers: Buffer[] = [Buffer.alloc(64)];
  let textRuns = 0;
  let dataRuns = 0;
  for (const s of sections) {
    const name = s.text ? `.text.k${textRuns++}` : `.data.k${dataRuns++}`;
    headers.push(sectionHeader({ name: shstr.add(name), type: SHT_NOBITS, flags: SHF_ALLOC | (s.text ? SHF_EXECINSTR : SHF_WRITE), addr: s.start, offset: 64n, size: s.end - s.start, align: 1n }));
  }
  const symtabIndex = sections.length + 1;
  const symtabName = shstr.add('.symtab');
  const strtabName = shstr.add('.strtab');
  const shstrtabName = shstr.add('.shstrtab');
  const shstrtab = shstr.bytes();
  const symOffset = 64n;
  const strOffset = symOffset + BigInt(symtab.length);
  const shstrOffset = strOffset + BigInt(strtab.length);
  const shOffset = align8(shstrOffset + BigInt(shstrtab.length));
  headers.push(sectionHeader({ name: symtabName, type: SHT_SYMTAB, flags: 0n, addr: 0n, offset: symOffset, size: BigInt(symtab.length), link: symtabIndex + 1, info: 1 + locals.length, align: 8n, entsize: 24n }));
  headers.push(sectionHeader({ name: strtabName, type: SHT_STRTAB, flags: 0n, addr: 0n, offset: strOffset, size: BigInt(strtab.length), align: 1n }));
  headers.push(sectionHeader({ name: shstrtabName, type: SHT_STRTAB, flags: 0n, addr: 0n, offset: shstrOffset, size: BigInt(shstrtab.length), align: 1n }));

  const eh = Buffer.alloc(64);
  eh.writeUInt32BE(0x7f454c46, 0);
  eh[4] = 2; // ELFCLASS64
  eh[5] = 1; // little-endian
  eh[6] = 1; // EV_CURRENT
  eh.writeUInt16LE(2, 16); // ET_EXEC
  eh.writeUInt16LE(machine, 18);
  eh.writeUInt32LE(1, 20);
  eh.writeBigUInt64LE(shOffset, 40);
  eh.writeUInt16LE(64, 52); // e_ehsize
  eh.writeUInt16LE(64, 58); // e_shentsize
  eh.writeUInt16LE(headers.length, 60);
  eh.writeUInt16LE(headers.length - 1, 62); // e_shstrndx
  const pad = Buffer.alloc(Number(shOffset - (shstrOffset + BigInt(shstrtab.length))));
  return Buffer.concat([eh, symtab, strtab, shstrtab, pad, ...headers]);
}

function align8(n: bigint): bigint {
  return (n + 7n) & ~7n;
}

function sectionHeader(h: { name: number; type: number; flags: bigint; addr: bigint; offset: bigint; size: bigint; link?: number; info?: number; align: bigint; entsize?: bigint }): Buffer {
  const b = Buffer.alloc(64);
  b.writeUInt32LE(h.name, 0);
  b.writeUInt32LE(h.type, 4);
  b.writeBigUInt64LE(h.flags, 8);
  b.writeBigUInt64LE(h.addr, 16);
  b.writeBigUInt64LE(h.offset, 24);
  b.writeBigUInt64LE(h.size, 32);
  b.writeUInt32LE(h.link ?? 0, 40);
  b.writeUInt32LE(h.info ?? 0, 44);
  b.writeBigUInt64LE(h.align, 48);
  b.writeBigUInt64LE(h.entsize ?? 0n, 56);
  return b;
}

class StringTable {
  readonly #parts: Buffer[] = [Buffer.from([0])];
  #length = 1;
  add(name: string): number {
    const at = this.#length;
    const b = Buffer.from(`${name}\0`, 'latin1');
    this.#parts.push(b);
    this.#length += b.length;
    return at;
  }
  bytes(): Buffer {
    return Buffer.concat(this.#parts);
  }
}

// Turns module stack frames (sym+0x1a/0x30 [mod]) into file:line with readelf + addr2line on the .ko.
import { execFile } from 'node:child_process';
import { open } from 'node:fs/promises';
import { promisify } from 'node:util';
import { basename, dirname, relative, isAbsolute } from 'node:path';
import { InfraError } from '../core/errors.ts';
import { MODULE_DEBUG_PREFIX } from '../core/paths.ts';
import { findReports } from './parse.ts';
import type { InlinedCall, KernelReport, StackFrame } from './kernel-report.ts';
import { ARCHES, archOfElfMachine } from '../platform/arch/index.ts';
import { elfHeader } from '../platform/elf.ts';
import { missingTool } from '../platform/host-tools.ts';

const run = promisify(execFile);

export interface SymbolizeOptions {
  /** The first frame is the faulting PC; later ones are return addresses, looked up at offset-1 (default true). */
  readonly firstIsPc?: boolean;
  /** File paths under this directory are made relative to it (default: the .ko's directory). */
  readonly sourceRoot?: string;
  /** Binaries; default: the plain ones for x86_64 objects, aarch64-linux-gnu-* for arm64 ones. */
  readonly readelf?: string;
  readonly addr2line?: string;
}

/** A function symbol of a relocatable .ko: its section and section-relative address. */
export interface KoSymbol {
  readonly name: string;
  readonly section: string;
  readonly value: number;
  readonly size: number;
}

/** Parses `readelf -SW` (section names by index) and `readelf -sW` (symbols) into function symbols. */
export function parseReadelf(sections: string, symbols: string): Map<string, KoSymbol> {
  const names = new Map<number, string>();
  for (const m of sections.matchAll(/^\s*\[\s*(\d+)\]\s+(\S+)/gm)) names.set(Number(m[1]), m[2]);
  const out = new Map<string, KoSymbol>();
  for (const line of symbols.split('\n')) {
    const f = line.trim().split(/\s+/);
    // Num: Value Size Type Bind Vis Ndx Name
    if (f.length < 8 || !/^\d+:$/.test(f[0]) || f[3] !== 'FUNC' || !/^\d+$/.test(f[6])) continue;
    const section = names.get(Number(f[6]));
    const name = f[7];
    if (!section || out.has(name)) continue;
    out.set(name, { name, section, value: parseInt(f[1], 16), size: Number(f[2].startsWith('0x') ? parseInt(f[2], 16) : f[2]) });
  }
  return out;
}

/** One address's answer from `addr2line -f -i`: the innermost (first) location. */
export interface Location {
  readonly file: string;
  readonly line: number;
}

/** Every function/location pair of each address of `addr2line -f -i -a` output, innermost inline first. */
export function parseAddr2lineChains(output: string): InlinedCall[][] {
  const groups: string[][] = [];
  for (const line of output.split('\n')) {
    if (/^0x[0-9a-f]+$/i.test(line.trim())) groups.push([]);
    else if (line.trim() && groups.length > 0) groups[groups.length - 1].push(line.trim());
  }
  return groups.map((g) => {
    const chain: InlinedCall[] = [];
    for (let k = 1; k < g.length; k += 2) {
      const loc = g[k]!.match(/^(.*):(\d+)(?:\s+\(discriminator \d+\))?$/);
      if (loc && loc[1] !== '??' && loc[2] !== '0') chain.push({ function: g[k - 1]!, file: loc[1]!, line: Number(loc[2]) });
    }
    return chain;
  });
}

/** Parses `addr2line -f -i -a` output: for each address the innermost location, or the first `prefer`red one. */
export function parseAddr2line(output: string, prefer?: (file: string) => boolean): (Location | undefined)[] {
  return parseAddr2lineChains(output).map((chain) => {
    // A kernel header inlined into the module says less than the module line that called it.
    const l = (prefer && chain.find((c) => prefer(c.file))) || chain[0];
    return l && { file: l.file, line: l.line };
  });
}


/** e_machine of an ELF file (62 x86_64, 183 aarch64), or undefined when it is not ELF. */
export async function elfMachine(path: string): Promise<number | undefined> {
  let file;
  try {
    file = await open(path, 'r');
  } catch (error) {
    throw new InfraError(`cannot read ${path}`, { cause: error, hint: 'build the module first' });
  }
  try {
    const head = Buffer.alloc(64);
    const { bytesRead } = await file.read(head, 0, 64, 0);
    return elfHeader(head.subarray(0, bytesRead))?.machine;
  } finally {
    await file.close();
  }
}

/** Runs a binutils tool; `row` names the host-tools row whose package provides it. */
async function tool(bin: string, args: string[], row: string): Promise<string> {
  try {
    return (await run(bin, args, { maxBuffer: 64 * 1024 * 1024 })).stdout;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw missingTool(row, { label: bin, cause: error });
    throw new InfraError(`${basename(bin)} ${args.join(' ')} failed`, { cause: error });
  }
}

/**
 * A path as the author knows it: the module's own files relative to its source dir (debug info names them
 * under MODULE_DEBUG_PREFIX), kernel headers relative to their tree ("include/linux/skbuff.h"), others
 * relative to `root` when under it. Pure.
 */
export function displayPath(file: string, root: string): string {
  if (file.startsWith(`${MODULE_DEBUG_PREFIX}/`)) return file.slice(MODULE_DEBUG_PREFIX.length + 1);
  const header = file.match(/^(?:.*)?\/usr\/src\/linux-(?:headers|kbuild)-[^/]+\/(.+)$/);
  if (header) return header[1]!;
  if (!isAbsolute(file)) return file.replace(/^\.\//, '');
  const rel = relative(root, file);
  return rel.startsWith('..') || isAbsolute(rel) ? file : rel;
}

/**
 * Adds file and line to the frames that name a function of the .ko (others come back unchanged).
 * Frames need a symbol and an offset; the module name in the frame is not checked.
 */
export async function symbolizeFrames(frames: StackFrame[], koPath: string, opts: SymbolizeOptions = {}): Promise<StackFrame[]> {
  const { prefix, binutils } = await binutilsFor(koPath);
  const addr2line = opts.addr2line ?? `${prefix}addr2line`;
  const table = await readKoTable(koPath, opts.readelf);
  const root = opts.sourceRoot ?? dirname(koPath);
  // The module's own files: under the debug prefix, relative to its build dir, or under it.
  const ownSource = (file: string): boolean => file.startsWith(`${MODULE_DEBUG_PREFIX}/`) || !isAbsolute(file) || !relative(root, file).startsWith('..');
  const firstIsPc = opts.firstIsPc ?? true;
  const wanted = frames.map((f, i) => {
    const sym = table.get(f.symbol);
    if (!sym || f.offset === undefined) return undefined;
    // A return address points after its call: look up the call itself. A PC (the first frame, or a RIP
    // line inside a trace: an interrupted instruction, e.g. a loop's head) is the instruction.
    const isPc = f.pc === true || (firstIsPc && i === 0);
    const back = !isPc && f.offset > 0 ? 1 : 0;
    return { section: sym.section, address: sym.value + f.offset - back };
  });
  const bySection = new Map<string, number[]>();
  wanted.forEach((w, i) => w && bySection.set(w.section, [...(bySection.get(w.section) ?? []), i]));
  const found = new Map<number, InlinedCall[]>();
  for (const [section, indexes] of bySection) {
    const addrs = indexes.map((i) => `0x${wanted[i]!.address.toString(16)}`);
    const out = await tool(addr2line, ['-e', koPath, '-j', section, '-f', '-i', '-a', ...addrs], binutils);
    parseAddr2lineChains(out).forEach((calls, k) => calls.length > 0 && found.set(indexes[k], calls));
  }
  return frames.map((f, i) => {
    const calls = found.get(i);
    if (!calls) return f;
    // The module's own line; kernel code inlined there (innermost first) said separately.
    const own = calls.findIndex((c) => ownSource(c.file));
    const at = own >= 0 ? own : 0;
    const inlined = calls.slice(0, at).map((c) => ({ ...c, file: displayPath(c.file, root) }));
    const frame = { ...f, file: displayPath(calls[at]!.file, root), line: calls[at]!.line };
    return inlined.length > 0 ? { ...frame, inlined } : frame;
  });
}

/**
 * A report with its module frames symbolised (in `moduleFrames` and in `frames`). The faulting PC is
 * looked up as is, return addresses at offset-1.
 */
export async function symbolizeReport(report: KernelReport, koPath: string, opts: Omit<SymbolizeOptions, 'firstIsPc'> = {}): Promise<KernelReport> {
  if (report.moduleFrames.length === 0) return report;
  const frames = await symbolizeFrames([...report.frames], koPath, { ...opts, firstIsPc: true });
  const byOriginal = new Map(report.frames.map((f, i) => [f, frames[i]]));
  return { ...report, frames, moduleFrames: report.moduleFrames.map((f) => byOriginal.get(f) ?? f) };
}

/** Reports in a log with the module's frames resolved to file:line (best effort: a report is kept without). */
export async function findModuleReports(text: string, module: { readonly name: string; readonly koPath: string }): Promise<KernelReport[]> {
  const reports = findReports(text, { module: module.name });
  return Promise.all(reports.map((r) => (r.moduleFrames.length === 0 ? r : symbolizeReport(r, module.koPath).catch(() => r))));
}

/** Where one load of a module put its code sections (section name -> address). */
export type SectionAddresses = ReadonlyMap<string, bigint>;

/** A frame the kernel could not name: "[<ffffffffa0000641>] 0xffffffffa0000641" (kmemleak, after the module was unloaded). */
const RAW_FRAME = /(\[<([0-9a-f]{8,16})>\]\s+)0x\2(\s*)$/;

/**
 * Names the raw addresses that fall in one of the module's loads (its code was there, then unloaded):
 * `0xADDR` becomes `func+0xOFF/0xSIZE [module]`, so the report parses and symbolises as if the module
 * were still loaded. Other lines are left as they are. Pure.
 */
export function nameRawFrames(text: string, loads: readonly SectionAddresses[], symbols: readonly KoSymbol[], module: string): string {
  if (loads.length === 0 || !text.includes('] 0x')) return text;
  return text
    .split('\n')
    .map((line) => {
      const m = RAW_FRAME.exec(line);
      if (!m) return line;
      const addr = BigInt(`0x${m[2]}`);
      for (const load of loads) {
        for (const sym of symbols) {
          const base = load.get(sym.section);
          if (base === undefined) continue;
          const start = base + BigInt(sym.value);
          if (addr >= start && addr < start + BigInt(sym.size)) {
            return `${line.slice(0, m.index)}${m[1]}${sym.name}+0x${(addr - start).toString(16)}/0x${sym.size.toString(16)} [${module}]${m[3]}`;
          }
        }
      }
      return line;
    })
    .join('\n');
}

/** The .ko's function symbols (readelf), for nameRawFrames. */
export async function koSymbols(koPath: string): Promise<KoSymbol[]> {
  return [...(await readKoTable(koPath)).values()];
}

/** The binutils prefix of the .ko's architecture, and the host-tools row that installs them. */
async function binutilsFor(koPath: string): Promise<{ prefix: string; binutils: string }> {
  const machine = await elfMachine(koPath);
  const prefix = ARCHES[archOfElfMachine(machine ?? ARCHES.x86_64.elfMachine) ?? 'x86_64'].binutilsPrefix;
  // Cross binutils come as one package: the addr2line row names it.
  return { prefix, binutils: `${prefix}addr2line` };
}

/** The .ko's function symbols by name, from readelf (its sections and its symbol table). */
async function readKoTable(koPath: string, readelfBin?: string): Promise<Map<string, KoSymbol>> {
  const { prefix, binutils } = await binutilsFor(koPath);
  const readelf = readelfBin ?? `${prefix}readelf`;
  const [sections, symbols] = await Promise.all([tool(readelf, ['-SW', koPath], binutils), tool(readelf, ['-sW', koPath], binutils)]);
  return parseReadelf(sections, symbols);
}

// --gdb and --gdb-wait: a gdb script that loads the guest kernel's symbols and the module's at the addresses
// where the running guest loaded it, then attaches to QEMU's gdb stub; --gdb-wait holds the guest until gdb continues.
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { ARCHES, type ArchSpec } from '../platform/arch/index.ts';
import { elfSections } from '../platform/elf.ts';
import { kallsymsElf, parseKallsyms } from '../kernels/kallsyms-elf.ts';
import { dbgVmlinux } from '../kernels/dbg.ts';
import { isBuiltImage } from '../kernels/spec.ts';
import { kernelRootOf } from '../build/module.ts';
import { MODULE_DEBUG_PREFIX } from '../core/paths.ts';
import { InfraError } from '../core/errors.ts';
import type { Guest } from '../vm/guest.ts';
import { GuestBackend } from '../scenario/backends/guest.ts';
import type { ModuleParams } from '../scenario/api.ts';
import type { ExecResult } from '../vm/types.ts';
import type { EventSink } from '../core/events.ts';
import type { BuiltModule } from '../build/module.ts';
import type { PreparedKernel } from '../kernels/spec.ts';

/** The script's file name in the gdb directory of a run. */
export const GDB_SCRIPT_NAME = 'attach.gdb';

/** Prints "NAME ADDRESS" for each section of module $1 (/sys/module/NAME/sections, root only). */
export const MODULE_SECTIONS_SCRIPT =
  'cd "/sys/module/$1/sections" || exit 1; for f in .[!.]* *; do [ -f "$f" ] && printf "%s %s\\n" "$f" "$(cat "$f")"; done; true';

/**
 * The running kernel's `_stext` (where its code starts: differs from the link address under KASLR).
 * `_stext`, not `_text`: arm64's kallsyms has no `_text`; on x86_64 they are one address.
 */
export const KERNEL_TEXT_SCRIPT = 'awk \'$3 == "_stext" { print $1; exit }\' /proc/kallsyms';

/** The built-in kernel's lines of /proc/kallsyms, compressed for the slow command channel (4 MB -> 1 MB). */
export const KALLSYMS_SCRIPT = 'grep -v "]$" /proc/kallsyms | gzip -1';

/** /sys/module's name of a module: '-' becomes '_'. Pure. */
export function sysfsModuleName(name: string): string {
  return name.replaceAll('-', '_');
}

/** Parses MODULE_SECTIONS_SCRIPT's output. Pure. */
export function parseSections(text: string): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const line of text.split('\n')) {
    const m = /^(\S+) (0x[0-9a-fA-F]+)$/.exec(line.trim());
    if (m) out.set(m[1]!, BigInt(m[2]!));
  }
  return out;
}

const hex = (n: bigint): string => `0x${n.toString(16)}`;

/**
 * The directory a built kernel's debug info names for its sources when it was built in a temporary dir
 * renamed into place afterwards (`<parent>/.tmp-<name>-<pid>-<rand>`), found in the vmlinux's strings;
 * undefined when its paths already point at `treeDir`. Reads the whole file (about 0.2 s for 100 MB).
 */
export async function buildDirOf(vmlinux: string, treeDir: string): Promise<string | undefined> {
  const needle = Buffer.from(`${dirname(treeDir)}/.tmp-${basename(treeDir)}-`);
  const bytes = await readFile(vmlinux);
  const at = bytes.indexOf(needle);
  if (at < 0) return undefined;
  const end = bytes.indexOf('/', at + needle.length);
  return end < 0 ? undefined : bytes.toString('latin1', at, end);
}

export interface KernelSymbols {
  /** An ELF with the kernel's symbols at their link-time addresses. */
  readonly file: string;
  /** Added to every address (KASLR): the running kernel's _stext minus the file's. */
  readonly offset: bigint;
  /** The file has DWARF (types, lines): the rig's own debug kernel. Else symbols only (Debian's stock kernels). */
  readonly dwarf: boolean;
  /**
   * The kernel's gdb helpers (lx-dmesg, lx-symbols, ...) of a kernel built with GDB_SCRIPTS: vmlinux-gdb.py
   * and the directory holding its `linux` package (the build tree's scripts/gdb).
   */
  readonly helpers?: { readonly script: string; readonly path: string };
  /** Where the kernel's sources are named in its debug info -> where they are now. */
  readonly sources?: readonly [string, string];
}

export interface ModuleSymbols {
  /** The .ko with debug info (a copy next to the script: the build's temporary dir goes away). */
  readonly ko: string;
  readonly text: bigint;
  /** Other sections of the .ko with their load addresses (add-symbol-file -s). */
  readonly sections: readonly (readonly [string, bigint])[];
}

export interface ScriptParts {
  readonly title: string;
  readonly arch: ArchSpec;
  readonly kernel: KernelSymbols;
  readonly module?: ModuleSymbols;
  /** set substitute-path pairs: paths in the debug info -> where the sources are on this host. */
  readonly substitutions: readonly (readonly [string, string])[];
  readonly socket: string;
  /** --gdb-wait: the guest is held until gdb continues. */
  readonly wait: boolean;
}

/** A gdb path argument: quoted when it has blanks. Pure. */
function gdbPath(path: string): string {
  return /[\s"]/.test(path) ? `"${path.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"` : path;
}

/** The gdb script. Pure. */
export function gdbScript(p: ScriptParts): string {
  const lines = [
    `# ${p.title}`,
    '# Made by ktest-rig. The gdb stub below lives as long as that rig command runs.',
    'set pagination off',
    'set confirm off',
    `set architecture ${p.arch.gdb.architecture}`,
    `# The kernel: ${p.kernel.dwarf ? 'vmlinux with DWARF' : "symbols only (the guest's /proc/kallsyms; Debian's stock kernels ship no debug info)"}`,
    `symbol-file${p.kernel.offset !== 0n ? ` -o ${hex(p.kernel.offset)}` : ''} ${gdbPath(p.kernel.file)}`,
    ...p.substitutions.map(([from, to]) => `set substitute-path ${gdbPath(from)} ${gdbPath(to)}`),
  ];
  if (p.kernel.helpers) {
    lines.push(
      "# The kernel's gdb helpers (lx-dmesg, lx-symbols, lx-ps, $lx_current() ...)",
      `add-auto-load-safe-path ${gdbPath(dirname(p.kernel.helpers.script))}`,
      `python import sys; sys.path.insert(0, ${JSON.stringify(p.kernel.helpers.path)})`,
      `source ${gdbPath(p.kernel.helpers.script)}`,
    );
  }
  if (p.module) {
    lines.push(
      `# The module, at the addresses of /sys/module/${sysfsModuleName(basename(p.module.ko, '.ko'))}/sections`,
      `add-symbol-file ${gdbPath(p.module.ko)} ${hex(p.module.text)}${p.module.sections.map(([name, addr]) => ` -s ${name} ${hex(addr)}`).join('')}`,
    );
  } else lines.push('# No module symbols: the module was not loaded (--no-load).');
  lines.push(`target remote ${gdbPath(p.socket)}`);
  if (p.wait) lines.push('# The guest is stopped before the command: set breakpoints, then `continue`.');
  return `${lines.join('\n')}\n`;
}

/** The one command to attach, for the guest's arch. Pure. */
export function attachCommand(arch: ArchSpec, script: string): string {
  return `${arch.gdb.command} -x ${gdbPath(script)}`;
}

/** The .ko's own sections that were loaded, with their load addresses: everything sysfs lists but .text and the freed init sections. Pure. */
export function moduleSectionArgs(koSections: readonly string[], loaded: ReadonlyMap<string, bigint>): [string, bigint][] {
  const out: [string, bigint][] = [];
  for (const name of koSections) {
    const addr = loaded.get(name);
    if (addr === undefined || name === '.text' || name.startsWith('.init') || out.some(([n]) => n === name)) continue;
    out.push([name, addr]);
  }
  return out;
}

/** Runs a shell line in the guest and returns its stdout, or an InfraError naming what failed. */
async function guestOutput(guest: Guest, script: string, args: readonly string[], what: string, timeoutMs = 30_000): Promise<Buffer> {
  const r = await guest.exec(['sh', '-c', script, 'sh', ...args], { timeoutMs });
  if (r.exitCode !== 0) throw new InfraError(`--gdb: cannot read ${what} in the guest (${r.stderr.toString('utf8').trim() || `exit ${r.exitCode ?? r.signal}`})`);
  return r.stdout;
}

/**
 * The kernel's symbols for gdb: the debug image's vmlinux (DWARF), else an ELF made once per kernel from
 * the guest's /proc/kallsyms and kept in the cache (<cache>/gdb/), with the offset that KASLR applied.
 */
export async function kernelSymbols(guest: Guest, kernel: PreparedKernel, cacheDir: string, onEvent: EventSink, dbg = false): Promise<KernelSymbols> {
  const running = BigInt(`0x${(await guestOutput(guest, KERNEL_TEXT_SCRIPT, [], "the kernel's _stext")).toString('utf8').trim() || '0'}`);
  const image = kernel.image;
  if (dbg && !kernel.vmlinuxPath && !isBuiltImage(image)) {
    // Debian's -dbg vmlinux: DWARF, no gdb helpers (GDB_SCRIPTS is off in Debian's config), sources not on this host.
    const vmlinux = await dbgVmlinux(image, cacheDir, onEvent);
    const text = (await elfSections(vmlinux)).find((s) => s.name === '.text');
    return { file: vmlinux, offset: text && running ? running - text.address : 0n, dwarf: true };
  }
  if (kernel.vmlinuxPath) {
    const text = (await elfSections(kernel.vmlinuxPath)).find((s) => s.name === '.text');
    // The build tree links vmlinux-gdb.py next to vmlinux; its `linux` package is in scripts/gdb.
    const out = dirname(kernel.vmlinuxPath);
    const path = join(out, 'scripts', 'gdb');
    let script: string | undefined;
    for (const candidate of [join(out, 'vmlinux-gdb.py'), join(path, 'vmlinux-gdb.py')]) {
      if (!script && (await stat(candidate).then(() => true, () => false))) script = candidate;
    }
    const tree = dirname(out);
    const built = await buildDirOf(kernel.vmlinuxPath, tree).catch(() => undefined);
    return { file: kernel.vmlinuxPath, offset: text && running ? running - text.address : 0n, dwarf: true, ...(script && { helpers: { script, path } }), ...(built && { sources: [built, tree] as const }) };
  }
  const id = await stat(kernel.kernelPath);
  const key = createHash('sha256').update(`${resolve(kernel.kernelPath)}\n${id.size}\n${id.mtimeMs}`).digest('hex').slice(0, 12);
  const dir = join(cacheDir, 'gdb', `${kernel.image.id}-${key}`);
  const file = join(dir, 'kallsyms.elf');
  const textFile = join(dir, 'text');
  let linked = await readFile(textFile, 'utf8').then((t) => BigInt(t.trim()), () => undefined);
  if (linked === undefined || !(await stat(file).then(() => true, () => false))) {
    onEvent({ type: 'log', level: 'info', message: `--gdb: reading the kernel's symbols from the guest's /proc/kallsyms (once per kernel; kept in ${dir})` });
    const raw = await guestOutput(guest, KALLSYMS_SCRIPT, [], '/proc/kallsyms', 180_000);
    const entries = parseKallsyms(gunzipSync(raw).toString('latin1'));
    const textEntry = entries.find((e) => e.name === '_stext');
    if (!textEntry) throw new InfraError("--gdb: the guest's /proc/kallsyms has no _stext (addresses hidden by kptr_restrict?)");
    await mkdir(dir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, kallsymsElf(entries, ARCHES[kernel.image.arch].elfMachine));
    await rename(tmp, file);
    await writeFile(`${textFile}.${process.pid}.tmp`, hex(textEntry.address));
    await rename(`${textFile}.${process.pid}.tmp`, textFile);
    linked = textEntry.address;
  }
  return { file, offset: running ? running - linked : 0n, dwarf: false };
}

/** Where the module's load addresses are: its sections in sysfs, read after insmod. */
export async function moduleSymbols(guest: Guest, module: BuiltModule, dir: string): Promise<ModuleSymbols> {
  const loaded = parseSections((await guestOutput(guest, MODULE_SECTIONS_SCRIPT, [sysfsModuleName(module.name)], `/sys/module/${sysfsModuleName(module.name)}/sections`)).toString('utf8'));
  const text = loaded.get('.text');
  if (text === undefined) throw new InfraError(`--gdb: /sys/module/${sysfsModuleName(module.name)}/sections has no .text`);
  const ko = join(dir, `${module.name}.ko`);
  await copyFile(module.koPath, ko);
  const koSections = (await elfSections(ko)).filter((s) => s.alloc).map((s) => s.name);
  return { ko, text, sections: moduleSectionArgs(koSections, loaded) };
}

export interface GdbSetup {
  readonly script: string;
  /** The line to run: `gdb -x SCRIPT` (gdb-multiarch for arm64 guests). */
  readonly command: string;
  readonly kernel: KernelSymbols;
}

export interface PrepareGdbOptions {
  readonly guest: Guest;
  readonly kernel: PreparedKernel;
  readonly module: BuiltModule;
  /** The module is loaded (its sections can be read). */
  readonly loaded: boolean;
  /** Where the script and the .ko copy go. */
  readonly dir: string;
  readonly cacheDir: string;
  readonly wait: boolean;
  /** Debian's -dbg package for the stock kernel's DWARF (--gdb-dbg). */
  readonly dbg?: boolean;
  readonly what: string;
  readonly onEvent: EventSink;
}

/** Reads the addresses in the running guest and writes the script; the guest must have been started with `gdb`. */
export async function prepareGdb(o: PrepareGdbOptions): Promise<GdbSetup> {
  const socket = o.guest.gdbSocket;
  if (!socket) throw new InfraError('--gdb: the guest was started without its gdb stub');
  await mkdir(o.dir, { recursive: true });
  const arch = ARCHES[o.kernel.image.arch];
  const kernel = await kernelSymbols(o.guest, o.kernel, o.cacheDir, o.onEvent, o.dbg);
  const module = o.loaded ? await moduleSymbols(o.guest, o.module, o.dir) : undefined;
  const root = kernelRootOf(o.kernel.headersDir);
  const substitutions: [string, string][] = [
    [MODULE_DEBUG_PREFIX, resolve(o.module.sourceDir)],
    ...(root ? [['/usr/src', join(root, 'usr', 'src')] as [string, string]] : []),
    ...(kernel.sources ? [[...kernel.sources] as [string, string]] : []),
  ];
  const script = join(o.dir, GDB_SCRIPT_NAME);
  await writeFile(script, gdbScript({ title: `gdb script for ${o.what} on ${o.kernel.image.id} (${o.kernel.image.release})`, arch, kernel, ...(module && { module }), substitutions, socket, wait: o.wait }));
  return { script, command: attachCommand(arch, script), kernel };
}

/** --gdb / --gdb-wait of exec and shell. */
export interface GdbOptions {
  /** Hold the guest after the module is loaded until the user's gdb continues. */
  readonly wait: boolean;
  /** Debian's -dbg package for the stock kernel's DWARF (--gdb-dbg). */
  readonly dbg?: boolean;
  /** Where the script and the module's .ko go. */
  readonly dir: string;
  /** The script is written (and with wait, the guest is stopped): tell the user how to attach. */
  readonly onReady: (setup: GdbSetup) => void;
}

/**
 * Writes the gdb script (the module's sections read after insmod) and tells the user; with wait, stops
 * the guest first and returns when the user's gdb lets it run.
 */
export async function offerGdb(g: GdbOptions, o: Omit<PrepareGdbOptions, 'dir' | 'wait'>): Promise<void> {
  const setup = await prepareGdb({ ...o, dir: g.dir, wait: g.wait, dbg: g.dbg ?? false });
  if (g.wait) await o.guest.holdForDebugger(() => g.onReady(setup));
  else g.onReady(setup);
}

/** --gdb / --gdb-wait of run: every scenario's guest serves the stub, and gets its own script once it loaded the module. */
export interface RunGdbOptions {
  readonly wait: boolean;
  readonly dbg?: boolean;
  /** Root of the scripts: one subdirectory <image>-<scenario> per scenario. */
  readonly dir: string;
  readonly onReady: (setup: GdbSetup, where: { readonly image: string; readonly scenario: string }) => void;
}

/**
 * A guest backend that offers gdb right after the scenario's first successful module load (its sections
 * exist only then); with wait, the scenario goes on once the user's gdb continued.
 */
export class GdbGuestBackend extends GuestBackend {
  #offered = false;
  constructor(
    guest: Guest,
    moduleName: string,
    beforeLogRead: string | undefined,
    private readonly offer: () => Promise<void>,
  ) {
    super(guest, moduleName, beforeLogRead);
  }

  override async loadModule(params?: ModuleParams): Promise<ExecResult> {
    const r = await super.loadModule(params);
    if (r.exitCode === 0 && !this.#offered) {
      this.#offered = true;
      await this.offer();
    }
    return r;
  }
}

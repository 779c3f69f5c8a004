// The guest backend: module control, client calls and the kernel log through commands run by the guest agent.
import type { Guest } from '../../vm/guest.ts';
import { clientArgv, parseClientOutput } from '../client-args.ts';
import type { Backend, KernelMessages, ModuleLoad, ModuleParams } from '../api.ts';
import type { BackendName } from './registry.ts';
import { splitByFacility } from '../../detect/kmsg.ts';
import type { ClientCall, ClientResult } from '../client.ts';
import type { ExecOptions, ExecResult } from '../../vm/types.ts';

/** Where the initramfs puts the modules under test. */
export const GUEST_MODULE_DIR = '/lib/modules/ktest';

/** dmesg after the last line containing $1 (all of it when none does). */
export const KERNEL_LOG_SINCE = 'dmesg | awk -v m="$1" \'{ a[NR] = $0 } index($0, m) { s = NR } END { for (i = s + 1; i <= NR; i++) print a[i] }\'';

/** The name sysfs and /proc/modules use for a module ('-' becomes '_'). */
export const sysfsName = (module: string): string => module.replace(/-/g, '_');

/** insmod $1 with parameters $3..., then each code section of module $2 as "ktest-rig-section NAME ADDRESS" on stderr. */
export const LOAD_SCRIPT =
  'ko=$1; name=$2; shift 2; insmod "$ko" "$@" || exit $?; ' +
  'cd "/sys/module/$name/sections" 2>/dev/null || exit 0; for f in .text .text.*; do [ -f "$f" ] && echo "ktest-rig-section $f $(cat "$f")" >&2; done; exit 0';

const SECTION_LINE = /^ktest-rig-section (\S+) 0x([0-9a-f]+)$/;

/** LOAD_SCRIPT's section lines out of stderr, and the rest of stderr as insmod wrote it. Pure. */
export function splitSectionLines(stderr: string): { sections: Map<string, bigint>; rest: string } {
  const sections = new Map<string, bigint>();
  const rest: string[] = [];
  for (const line of stderr.split('\n')) {
    const m = SECTION_LINE.exec(line);
    if (m) sections.set(m[1]!, BigInt(`0x${m[2]}`));
    else rest.push(line);
  }
  return { sections, rest: rest.join('\n') };
}

/** insmod arguments for module parameters: name=value, booleans as 1/0. */
export function moduleParamArgs(params: ModuleParams = {}): string[] {
  return Object.entries(params).map(([k, v]) => `${k}=${typeof v === 'boolean' ? (v ? 1 : 0) : v}`);
}

/** Budget for a whole client run: per-message receive timeout times messages, plus start-up slack. */
export function clientCommandTimeout(call: ClientCall): number {
  const per = call.timeoutMs ?? 2000;
  const count = Math.max(1, call.count ?? 1);
  return Math.min(per * count, 120_000) + 10_000;
}

export class GuestBackend implements Backend {
  readonly kind = 'guest' satisfies BackendName;
  constructor(
    private readonly guest: Guest,
    readonly moduleName: string,
    /** Shell run before each kernel-log read (slab validation: its reports then land in that read). */
    private readonly beforeLogRead?: string,
  ) {}

  exec(argv: readonly string[], options?: ExecOptions): Promise<ExecResult> {
    return this.guest.exec(argv, options);
  }

  /** insmod, then (in the same command) the loaded module's code sections, on stderr lines that are taken out again. */
  async loadModule(params?: ModuleParams): Promise<ExecResult> {
    const r = await this.exec(['sh', '-c', LOAD_SCRIPT, 'sh', `${GUEST_MODULE_DIR}/${this.moduleName}.ko`, sysfsName(this.moduleName), ...moduleParamArgs(params)], { timeoutMs: 30_000 });
    const { sections, rest } = splitSectionLines(r.stderr.toString('utf8'));
    if (r.exitCode === 0 && sections.size > 0) this.#loads.push(sections);
    return { ...r, stderr: Buffer.from(rest) };
  }

  readonly #loads: ModuleLoad[] = [];

  moduleLoads(): readonly ModuleLoad[] {
    return this.#loads;
  }

  unloadModule(): Promise<ExecResult> {
    return this.exec(['rmmod', this.moduleName], { timeoutMs: 30_000 });
  }

  async isModuleLoaded(): Promise<boolean> {
    const r = await this.exec(['cat', '/proc/modules']);
    return r.stdout.toString('utf8').split('\n').some((l) => l.split(' ')[0] === this.moduleName);
  }

  async client(call: ClientCall): Promise<ClientResult> {
    const r = await this.exec(['nlclient', ...clientArgv(call)], { timeoutMs: clientCommandTimeout(call) });
    if (r.timedOut) return { exitCode: 124, replies: [], error: 'nlclient did not finish in time (killed by the agent)' };
    return parseClientOutput(r.exitCode ?? 128, r.stdout.toString('utf8'), r.stderr.toString('utf8'));
  }

  /** After a mark: from the agent's own reader. Otherwise dmesg, filtered in the guest (the serial line is slow). */
  async kernelLog(since: string): Promise<string> {
    if (this.#marks.has(since)) return (await this.kernelMessages(since)).all;
    const script = this.beforeLogRead ? `${this.beforeLogRead}\n${KERNEL_LOG_SINCE}` : KERNEL_LOG_SINCE;
    const r = await this.exec(['sh', '-c', script, 'sh', since], { timeoutMs: 30_000 });
    return r.stdout.toString('utf8');
  }

  /** Where each mark left the agent's kernel-log reader: its next sequence number and loss count. */
  readonly #marks = new Map<string, { readonly next: number; readonly lost: number }>();

  /** The kernel log after a mark, read from the agent's own /dev/kmsg reader (immune to dmesg -c). */
  async kernelMessages(since: string): Promise<KernelMessages> {
    if (this.beforeLogRead) await this.exec(['sh', '-c', this.beforeLogRead], { timeoutMs: 30_000 });
    const mark = this.#marks.get(since) ?? { next: 0, lost: 0 };
    const read = await this.guest.readKmsg(mark.next);
    return { ...splitByFacility(read.records.filter((r) => r.seq >= mark.next)), lost: read.lost + read.dropped - mark.lost };
  }

  async taintValue(): Promise<number> {
    const r = await this.exec(['cat', '/proc/sys/kernel/tainted']);
    return Number.parseInt(r.stdout.toString('utf8').trim(), 10) || 0;
  }

  async markKernelLog(line: string): Promise<void> {
    await this.exec(['sh', '-c', 'printf "%s\\n" "$1" > /dev/kmsg', 'sh', line]);
    const head = await this.guest.readKmsg(0xffff_ffff); // the header only: where the reader is now
    this.#marks.set(line, { next: head.next, lost: head.lost + head.dropped });
  }
}

// The agent's kernel-log records (its own /dev/kmsg reader, immune to dmesg -c): parse them, keep the kernel's apart from user space's, format them like dmesg. Pure.

/** Facility 0 is the kernel's alone: a write to /dev/kmsg cannot choose it (its default is 1, user). */
export const KERNEL_FACILITY = 0;

export interface KmsgRecord {
  readonly seq: number;
  readonly facility: number;
  readonly level: number;
  readonly usec: number;
  /** The message, the kernel's \xNN escapes decoded. */
  readonly text: string;
}

export interface KmsgRead {
  /** Sequence number the agent expects next (records from here on are newer than this read). */
  readonly next: number;
  /** Records the kernel overwrote before the agent read them, since boot. */
  readonly lost: number;
  /** Records dropped from the agent's bounded buffer, since boot. */
  readonly dropped: number;
  readonly records: readonly KmsgRecord[];
}

const HEADER = /^#kmsg next=(\d+) first=(\d+) lost=(\d+) dropped=(\d+)$/;
const RECORD = /^(\d+),(\d+),(\d+),[^;]*;(.*)$/;

/** Decode the kernel's escaping of a record's message (\xNN for non-printable bytes and backslash). */
export function unescapeKmsg(text: string): string {
  if (!text.includes('\\x')) return text;
  const bytes: number[] = [];
  const src = Buffer.from(text, 'utf8');
  for (let i = 0; i < src.length; i++) {
    if (src[i] === 0x5c && src[i + 1] === 0x78 && /^[0-9a-f]{2}$/i.test(src.toString('latin1', i + 2, i + 4))) {
      bytes.push(Number.parseInt(src.toString('latin1', i + 2, i + 4), 16));
      i += 3;
    } else bytes.push(src[i]!);
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Parse the agent's answer to an L frame: a header line, then one record per line. */
export function parseKmsg(out: string): KmsgRead {
  const lines = out.split('\n');
  const head = HEADER.exec(lines[0] ?? '');
  if (!head) throw new Error(`not a kernel-log answer from the agent: ${JSON.stringify((lines[0] ?? '').slice(0, 80))}`);
  const records: KmsgRecord[] = [];
  for (const line of lines.slice(1)) {
    const m = RECORD.exec(line);
    if (!m) continue;
    const prio = Number(m[1]);
    records.push({ seq: Number(m[2]), facility: prio >> 3, level: prio & 7, usec: Number(m[3]), text: unescapeKmsg(m[4]!) });
  }
  return { next: Number(head[1]), lost: Number(head[3]), dropped: Number(head[4]), records };
}

/** One record as dmesg prints it: "[   12.345678] text". Pure. */
export function formatRecord(r: KmsgRecord): string {
  const s = Math.floor(r.usec / 1e6);
  const us = String(r.usec % 1e6).padStart(6, '0');
  return r.text
    .split('\n')
    .map((l) => `[${String(s).padStart(5, ' ')}.${us}] ${l}`)
    .join('\n');
}

/** Records as dmesg text (one line per record). */
export function formatRecords(records: readonly KmsgRecord[]): string {
  return records.length ? `${records.map(formatRecord).join('\n')}\n` : '';
}

export interface SplitLog {
  /** Everything, as dmesg shows it (for t.dmesg(), logs, reports). */
  readonly all: string;
  /** The kernel's own records only: the only text crash detection reads. */
  readonly kernel: string;
  /** Records user space wrote to /dev/kmsg that look like kernel reports are listed here, never judged. */
  readonly user: string;
}

/** Split records by who wrote them. Pure. */
export function splitByFacility(records: readonly KmsgRecord[]): SplitLog {
  return {
    all: formatRecords(records),
    kernel: formatRecords(records.filter((r) => r.facility === KERNEL_FACILITY)),
    user: formatRecords(records.filter((r) => r.facility !== KERNEL_FACILITY)),
  };
}

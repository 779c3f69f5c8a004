// Strips console/dmesg line prefixes: "[   12.345678] ", caller ids "[  T123]", "<4>" levels, /dev/kmsg headers.

export interface DmesgLine {
  /** Seconds since boot, when the line carried a timestamp. */
  readonly time?: number;
  /** Console log level (0-7), when the line carried one ("<4>" or a /dev/kmsg record). */
  readonly level?: number;
  readonly text: string;
}

const PREFIX = /^(?:<(\d)>)?(?:\[\s*(\d+\.\d+)\])?(?:\[\s*[TC]\d+\])?/;
const KMSG = /^(\d+),\d+,(\d+),[^;]*;/;

/** Parses one line: level, timestamp and text (the one space after the prefix is dropped). */
export function parseDmesgLine(line: string): DmesgLine {
  const clean = line.replace(/\r/g, '');
  const kmsg = clean.match(KMSG);
  if (kmsg) return { time: Number(kmsg[2]) / 1e6, level: Number(kmsg[1]) & 7, text: clean.slice(kmsg[0].length) };
  const m = clean.match(PREFIX);
  if (!m || m[0] === '') return { text: clean };
  const rest = clean.slice(m[0].length);
  const out: { time?: number; level?: number; text: string } = { text: rest.startsWith(' ') ? rest.slice(1) : rest };
  if (m[1] !== undefined) out.level = Number(m[1]);
  if (m[2] !== undefined) out.time = Number(m[2]);
  return out;
}

/** The line without its timestamp/level prefix (other lines unchanged). */
export function stripTimestamp(line: string): string {
  return parseDmesgLine(line).text;
}

/** Splits dmesg or console text into lines with their timestamps stripped. */
export function parseDmesg(text: string): DmesgLine[] {
  const lines = text.split(/\r?\n/);
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.map(parseDmesgLine);
}

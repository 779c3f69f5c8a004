// Decodes the kernel taint mask (/proc/sys/kernel/tainted) into its flag letters.

/** Letters by bit number, as kernel/panic.c's taint_flags table lists them (6.15 added J). */
export const TAINT_LETTERS = 'PFSRMBUDAWCIOELKXTNJ';

/** Flag letters set in a taint mask, in bit order (e.g. 12288 -> ['O', 'E']). Unknown bits -> "bitN". */
export function taintFlags(value: number): string[] {
  if (!Number.isInteger(value) || value < 0) throw new RangeError(`taint mask must be a non-negative integer, got ${value}`);
  const flags: string[] = [];
  for (let bit = 0; 2 ** bit <= value; bit++) {
    if (Math.floor(value / 2 ** bit) % 2 === 1) flags.push(TAINT_LETTERS[bit] ?? `bit${bit}`);
  }
  return flags;
}

/** Flags that are not expected: loading an out-of-tree unsigned module sets O and E, anything else is news. */
export function unexpectedTaint(flags: readonly string[], allowed: readonly string[] = ['O', 'E']): string[] {
  return flags.filter((f) => !allowed.includes(f));
}

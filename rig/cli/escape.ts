// The shell's escape key: Ctrl-] then q quits, Ctrl-] ? shows help, Ctrl-] Ctrl-] sends one Ctrl-]. Pure.

/** Ctrl-] (GS, 0x1d), as in telnet. */
export const ESCAPE_BYTE = 0x1d;

export const ESCAPE_HELP = 'ktest-rig shell: Ctrl-] q quits (QEMU ends), Ctrl-] ? this help, Ctrl-] Ctrl-] sends Ctrl-]';

export type EscapeAction = 'quit' | 'help';

/** Splits keyboard input into bytes for the guest and escape commands; an escape may span two reads. */
export class EscapeFilter {
  #pending = false;

  push(data: Buffer): { readonly send: Buffer; readonly actions: readonly EscapeAction[] } {
    const out: number[] = [];
    const actions: EscapeAction[] = [];
    for (const byte of data) {
      if (!this.#pending) {
        if (byte === ESCAPE_BYTE) this.#pending = true;
        else out.push(byte);
        continue;
      }
      this.#pending = false;
      if (byte === 0x71 || byte === 0x51 || byte === 0x2e) actions.push('quit'); // q, Q, .
      else if (byte === 0x3f || byte === 0x68) actions.push('help'); // ?, h
      else if (byte === ESCAPE_BYTE) out.push(ESCAPE_BYTE);
      else out.push(ESCAPE_BYTE, byte);
    }
    return { send: Buffer.from(out), actions };
  }
}

// Named timeouts of the guest layer, with separate values for KVM and TCG (TCG is 5-20x slower).
import type { Accel } from '../platform/arch/index.ts';

export interface Timeouts {
  /** From QEMU start until the agent first answers a ping. */
  readonly bootMs: number;
  /** From QEMU start (restore) until migration completed, `cont` and the first pong. */
  readonly restoreMs: number;
  /** Saving a snapshot (stop + migrate to a file). */
  readonly saveMs: number;
  /** Default per-command timeout the agent enforces when the caller gives none. */
  readonly execMs: number;
  /** Extra time after a command's own timeout before the host suspects a hang. */
  readonly execGraceMs: number;
  /** How long a ping may take before the guest is declared hung. */
  readonly pingMs: number;
  /** Interval between pings while waiting for the agent to come up. */
  readonly pingIntervalMs: number;
  /** One QMP command (connect, greeting, execute). */
  readonly qmpMs: number;
  /** After SIGTERM, how long QEMU gets before SIGKILL. */
  readonly killGraceMs: number;
  /** KVM probe: a tiny firmware must exit within this. */
  readonly kvmProbeMs: number;
}

export const KVM_TIMEOUTS: Timeouts = Object.freeze({
  bootMs: 20_000,
  restoreMs: 10_000,
  saveMs: 20_000,
  execMs: 10_000,
  execGraceMs: 3_000,
  pingMs: 2_000,
  pingIntervalMs: 20,
  qmpMs: 5_000,
  killGraceMs: 1_000,
  kvmProbeMs: 2_000,
});

export const TCG_TIMEOUTS: Timeouts = Object.freeze({
  bootMs: 60_000,
  restoreMs: 20_000,
  saveMs: 60_000,
  execMs: 30_000,
  execGraceMs: 10_000,
  pingMs: 5_000,
  pingIntervalMs: 20,
  qmpMs: 10_000,
  killGraceMs: 1_000,
  kvmProbeMs: 2_000,
});

/** The timeouts for an accelerator, with the caller's overrides applied. */
export function timeoutsFor(accel: Accel, overrides: Partial<Timeouts> = {}): Timeouts {
  return Object.freeze({ ...(accel === 'kvm' ? KVM_TIMEOUTS : TCG_TIMEOUTS), ...overrides });
}

/** `rig exec` kills CMD after this long unless --timeout says otherwise (exit 124). */
export const DEFAULT_EXEC_TIMEOUT_MS = 60_000;

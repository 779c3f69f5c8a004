// A netlink call through nlclient (guest) or the host addon, and its replies, as scenarios see them.

/** One netlink call, as the guest client or the host addon performs it (see nlclient --help). */
export interface ClientCall {
  readonly proto?: number;
  readonly type?: number;
  readonly flags?: number;
  readonly seq?: number;
  readonly pid?: number;
  /** Override nlmsg_len (to send malformed headers). */
  readonly len?: number;
  /** Payload: text, or bytes (sent as --hex). */
  readonly message?: string | Buffer;
  readonly count?: number;
  readonly noRecv?: boolean;
  readonly timeoutMs?: number;
  /** Fail the Nth fault point (allocation) of this call's send and receive (fault-injection kernels). */
  readonly failNth?: number;
  /** Count the fault points of this call (result.faults.points). */
  readonly countFaults?: boolean;
}

/** One reply, as nlclient prints it (one JSON line each). */
export interface ClientReply {
  readonly seq: number;
  readonly type: number;
  readonly flags: number;
  readonly len: number;
  readonly pid: number;
  /** Payload as text (lossy), and exactly as hex. */
  readonly payload: string;
  readonly hex: string;
  /** For NLMSG_ERROR replies: the error code (0 = ack) and its errno name. */
  readonly error?: number;
  readonly errno?: string;
}

export interface ClientResult {
  /** 0 ok, 2 usage, 3 socket error, 4 timeout, 5 kernel answered with an error. */
  readonly exitCode: number;
  readonly replies: readonly ClientReply[];
  /** Error line from stderr (errno name first), if any. */
  readonly error?: string;
  readonly errno?: string;
  /** With failNth or countFaults: whether the fault was injected, and how many fault points were met. */
  readonly faults?: ClientFaults;
}

export interface ClientFaults {
  /** failNth given and reached: that allocation failed. */
  readonly injected: boolean;
  /** Fault points met (all of them with countFaults; those before the end when not reached). */
  readonly points?: number;
}

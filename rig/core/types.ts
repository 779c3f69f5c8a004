// Shared contracts between the rig's roles: images, builds, guests, clients, kernel reports, results.

export type { Arch } from '../platform/arch/index.ts';
import type { Arch } from '../platform/arch/index.ts';
export type Accel = 'kvm' | 'tcg';

/** A Debian package pinned by an image (images/*.json). */
export interface PinnedPackage {
  readonly name: string;
  readonly version: string;
  /** Debian architecture of the .deb: amd64, arm64 or all. */
  readonly arch: string;
  readonly sha256: string;
  /** Path in the archive (pool/main/l/linux/...), from the Packages index. */
  readonly filename?: string;
}

/** Which toolchain builds modules for an image. */
export interface ToolchainSpec {
  /** 'host': the host's own compilers; 'buildroot': a debootstrapped root of `suite`. */
  readonly kind: 'host' | 'buildroot';
  /** Compiler the kernel's headers ask for, e.g. gcc-12 (forced with CC=). */
  readonly cc: string;
  /** Debian suite of the build root, for kind 'buildroot'. */
  readonly suite?: string;
  /** Extra packages in the build root (gcc-14, dwarves, ...). */
  readonly packages?: readonly string[];
  /** Cross-compiler prefix for the module and guest programs, e.g. aarch64-linux-gnu-. */
  readonly crossCompile?: string;
}

/** What every image has, whatever its kernel comes from. */
interface ImageCommon {
  readonly id: string;
  readonly description: string;
  readonly arch: Arch;
  readonly suite: string;
  /** Kernel release, as `uname -r` prints it (6.1.0-57-amd64). */
  readonly release: string;
  readonly toolchain: ToolchainSpec;
  readonly qemu: QemuSpec;
}

/** A guest kernel from Debian's binary packages (images/<id>.json). */
export interface DebianImageSpec extends ImageCommon {
  readonly kind?: 'debian';
  readonly packages: {
    readonly image: PinnedPackage;
    readonly headers: PinnedPackage;
    readonly headersCommon: PinnedPackage;
    readonly kbuild: PinnedPackage;
    /** sid splits the bzImage into linux-binary-R. */
    readonly binary?: PinnedPackage;
  };
}

/** How the rig builds a kernel of kind 'built' from a pinned source package. */
export interface KernelBuildSpec {
  /** Config fragments (paths relative to images/), merged in order on top of `make allnoconfig`. */
  readonly fragments: readonly string[];
  /** Patches (paths relative to images/) applied with `patch -p1`, in order. */
  readonly patches?: readonly string[];
  /** About how many objects the build compiles (for "building kernel: N/M objects"). */
  readonly objects: number;
}

/** A guest kernel the rig builds itself from Debian's kernel source (linux-source-X.Y). */
export interface BuiltImageSpec extends ImageCommon {
  readonly kind: 'built';
  readonly packages: { readonly source: PinnedPackage };
  readonly build: KernelBuildSpec;
}

/** A guest kernel, as data (images/<id>.json). */
export type ImageSpec = DebianImageSpec | BuiltImageSpec;

export function isBuiltImage(image: ImageSpec): image is BuiltImageSpec {
  return image.kind === 'built';
}

/** Per-arch/per-image QEMU settings, as data. */
export interface QemuSpec {
  readonly binary: string;
  readonly machine: string;
  readonly cpu: string;
  /** Kernel console device name in the guest (ttyS0, ttyAMA0). */
  readonly console: string;
  /** Extra kernel command-line parameters. */
  readonly append?: readonly string[];
  readonly memoryMb?: number;
  /**
   * How the agent's command channel reaches the guest: a second UART (x86_64: ttyS1) or a
   * virtio console (arm64 virt has one PL011 only: hvc0, needs the virtio_console module).
   */
  readonly commandChannel: 'serial' | 'virtconsole';
  /** Guest device name of the command channel (ttyS1, hvc0), passed as ktest.port=. */
  readonly commandPort: string;
  /**
   * The fast files channel (rig/vm/files.ts): a virtio-serial port named ktest.files on a
   * virtio-serial-pci controller the rig adds (x86_64), or on the image's own virtio-serial bus
   * (arm64 virt, which already has one for hvc0). Absent: files go over the command channel (slow).
   */
  readonly filesChannel?: 'virtio-serial-pci' | 'virtio-serial';
  /** Kernel modules (paths under lib/modules/<release>/) the init loads, in order, before the agent. */
  readonly guestModules?: readonly string[];
  /** Extra QEMU arguments the image needs. */
  readonly extraArgs?: readonly string[];
}

/** Everything extracted and built for one image, ready to boot. */
export interface PreparedKernel {
  readonly image: ImageSpec;
  /** Kernel to pass to -kernel (decompressed vmlinux where possible). */
  readonly kernelPath: string;
  /** The original compressed kernel (for the naive benchmark). */
  readonly vmlinuzPath: string;
  /** Extracted headers tree to build modules against (KDIR). */
  readonly headersDir: string;
  /** lib/modules/<release> of the extracted image package (guest-side kernel modules). */
  readonly modulesDir?: string;
  /** The kernel's ELF with DWARF (built images), for gdb and kernel-frame symbols. */
  readonly vmlinuxPath?: string;
}

export interface BuiltModule {
  readonly name: string;
  /** Path of the .ko (with debug info). */
  readonly koPath: string;
  /** Source dir the user gave. */
  readonly sourceDir: string;
}

/** Result of running a command in the guest. */
export interface ExecResult {
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly stdout: Buffer;
  readonly stderr: Buffer;
  readonly timedOut: boolean;
  readonly durationMs: number;
}

export interface ExecOptions {
  /** Kill the command after this long (default 10 s; TCG-scaled by the guest layer). */
  readonly timeoutMs?: number;
  readonly stdin?: Buffer;
}

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

/** A kernel report found on the console or in dmesg. */
export interface KernelReport {
  /** Row of the detector table that matched: oops, bug, warning, panic, kasan, soft-lockup, ... */
  readonly kind: string;
  /** Stable title: type plus first non-generic frame, numbers normalised. */
  readonly title: string;
  readonly frames: readonly StackFrame[];
  /** Frames inside the module under test. */
  readonly moduleFrames: readonly StackFrame[];
  /** Taint flags printed with the report (e.g. "G           OE"). */
  readonly taint?: string;
  /** Marks the kernel stopped (panic): nothing more will come from the guest. */
  readonly fatal: boolean;
  readonly raw: string;
}

export interface StackFrame {
  readonly symbol: string;
  readonly offset?: number;
  readonly size?: number;
  readonly module?: string;
  /** Filled by the symboliser for module frames: the module's own line (for inlined code, where it was inlined). */
  readonly file?: string;
  readonly line?: number;
  /** Kernel code (headers) inlined at that line, innermost first. */
  readonly inlined?: readonly InlinedCall[];
}

/** A function inlined into a module frame ("nlmsg_new at include/net/netlink.h:1003"). */
export interface InlinedCall {
  readonly function: string;
  readonly file: string;
  readonly line: number;
}

export type ScenarioStatus = 'pass' | 'fail' | 'skip';

export interface ScenarioFailure {
  readonly message: string;
  /** What failed: an assertion, a kernel report, a hang, the guest died, an infrastructure problem. */
  readonly kind: 'assertion' | 'kernel' | 'hang' | 'panic' | 'error';
  readonly reports?: readonly KernelReport[];
  readonly consoleTail?: string;
  /** Assertion failures: the value found and the value wanted (inspected, short), when the assertion has them. */
  readonly found?: string;
  readonly wanted?: string;
  /** Assertion failures: where in the scenario file the assertion was made ("scenarios/x.ts:12:7"). */
  readonly at?: string;
  /** The failure bundle written for it (rig replay BUNDLE). */
  readonly bundle?: string;
}

/** A kernel report the project file allows: shown in every report format, not failing the scenario. */
export interface AllowedReportMatch {
  readonly title: string;
  readonly kind: string;
  /** The allowing pattern as written in the project file ("substring" or /regex/). */
  readonly pattern: string;
  readonly reason: string;
}

export interface ScenarioResult {
  readonly image: string;
  readonly name: string;
  readonly status: ScenarioStatus;
  readonly durationMs: number;
  readonly failure?: ScenarioFailure;
  /** Kernel reports during the scenario that the project file allows. */
  readonly allowed?: readonly AllowedReportMatch[];
}

export interface RunSummary {
  readonly image: string;
  readonly kernel: string;
  readonly arch: Arch;
  /** How the kernel ran: kvm or tcg in a guest, 'host' for --target host. */
  readonly accel: Accel | 'host' | 'none';
  readonly scenarios: readonly ScenarioResult[];
  readonly passed: number;
  readonly failed: number;
  /**
   * Set when the image could not run to the end (its module did not build, its kernel did not
   * download, ...): the run goes on with the other images and reports this as the image's result.
   */
  readonly error?: ImageError;
}

/** Why an image did not run: the typed error's class, message, hint and exit code. */
export interface ImageError {
  readonly name: string;
  readonly message: string;
  readonly hint?: string;
  readonly exitCode: number;
}

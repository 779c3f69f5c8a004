// Guest images as data (images/<id>.json): what each kernel is, where its packages come from, how modules
// are built for it and how QEMU runs it; and the prepared kernel the fetch or kernel build hands on.
import type { Arch } from '../platform/arch/index.ts';
import type { QemuSpec } from '../vm/types.ts';

/** A Debian package pinned by an image (images/*.json). */
export interface PinnedPackage {
  readonly name: string;
  readonly version: string;
  /** Debian architecture of the .deb: amd64, arm64 or all. */
  readonly arch: string;
  readonly sha256: string;
  /** Path in the archive (pool/main/l/linux/...), from the Packages index. */
  readonly filename?: string;
  /** The pocket of the suite that served this version when it was pinned (bookworm, bookworm-security, ...). */
  readonly pocket?: string;
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

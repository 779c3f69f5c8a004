// The shape of a host-tools row (how a tool is probed, which package gives it), shared by the table and the arch records.

/** How to read a tool's version from its own output. Falls back to the package's dpkg version. */
export interface VersionSpec {
  readonly args: readonly string[];
  /** First capture group is the version. */
  readonly pattern: RegExp;
}

export type ToolProbe =
  | {
      readonly kind: 'command';
      /** Looked up on PATH (plus /usr/sbin and /sbin, where debootstrap lives). */
      readonly command: string;
      readonly version?: VersionSpec;
      /** The binary must be statically linked (no ELF interpreter): it runs inside the guest. */
      readonly static?: boolean;
    }
  | {
      readonly kind: 'file';
      /** Any of these exists; a path segment may be `*` (e.g. /usr/lib/llvm-*). */
      readonly paths: readonly string[];
    };

/** A tool without its reasons: an arch record's rows are needed for that arch. */
export interface ToolRow {
  readonly name: string;
  /** Debian package that provides it. */
  readonly package: string;
  readonly purpose: string;
  readonly probe: ToolProbe;
}

export const gnuVersion: VersionSpec = { args: ['--version'], pattern: /^.*\)\s+(\d[^\s]*)\s*$/m };
export const qemuVersion: VersionSpec = { args: ['--version'], pattern: /version\s+(\d[^\s]*)/ };
export const cmd = (command: string, version?: VersionSpec, extra: { static?: boolean } = {}): ToolProbe => ({
  kind: 'command',
  command,
  ...(version ? { version } : {}),
  ...extra,
});

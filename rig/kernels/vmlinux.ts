// Turn a bzImage into a PVH-bootable ELF vmlinux: locate the xz/zstd payload, decompress it, check the ELF and its PVH note.
import { open, readFile, rm } from 'node:fs/promises';
import { execa } from 'execa';
import { CacheError } from '../core/errors.ts';
import { hasPvhNote, isElf64 } from '../platform/elf.ts';
import { missingTool } from '../platform/host-tools.ts';

export type PayloadFormat = 'xz' | 'zstd';

export interface Payload {
  readonly format: PayloadFormat;
  /** Byte offset of the compressed stream in the bzImage. */
  readonly offset: number;
  /** Length of the compressed stream, when the setup header gives it (without the appended size). */
  readonly length?: number;
}

export const XZ_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);
export const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);

function formatAt(buf: Buffer, offset: number): PayloadFormat | undefined {
  if (buf.subarray(offset, offset + XZ_MAGIC.length).equals(XZ_MAGIC)) return 'xz';
  if (buf.subarray(offset, offset + ZSTD_MAGIC.length).equals(ZSTD_MAGIC)) return 'zstd';
  return undefined;
}

/**
 * Where the compressed kernel starts. Uses the boot protocol's payload_offset/payload_length (2.08+)
 * when they point at a known magic, else the first xz or zstd magic in the file. Pure.
 */
export function findPayload(buf: Buffer): Payload | undefined {
  if (buf.length >= 0x250 && buf.toString('latin1', 0x202, 0x206) === 'HdrS' && buf.readUInt16LE(0x206) >= 0x208) {
    const setupSects = buf[0x1f1] || 4;
    const offset = (setupSects + 1) * 512 + buf.readUInt32LE(0x248);
    const format = formatAt(buf, offset);
    // The kernel build appends the decompressed size (4 bytes) to the compressed stream.
    if (format) return { format, offset, length: buf.readUInt32LE(0x24c) - 4 };
  }
  const xz = buf.indexOf(XZ_MAGIC);
  const zstd = buf.indexOf(ZSTD_MAGIC);
  const candidates = [
    { format: 'xz' as const, offset: xz },
    { format: 'zstd' as const, offset: zstd },
  ].filter((c) => c.offset >= 0);
  candidates.sort((a, b) => a.offset - b.offset);
  return candidates[0];
}

/** True for an uncompressed arm64 Image (magic "ARM\x64" at 0x38), which QEMU boots as is. Pure. */
export function isArm64Image(buf: Buffer): boolean {
  return buf.length >= 64 && buf.toString('latin1', 0x38, 0x3c) === 'ARM\x64';
}

/** Decompress a bzImage's payload to `outPath` and check that the result is a PVH-bootable ELF. */
export async function decompressKernel(bzImagePath: string, outPath: string): Promise<void> {
  const buf = await readFile(bzImagePath);
  const payload = findPayload(buf);
  if (!payload) throw new CacheError(`${bzImagePath}: no xz or zstd payload found in the kernel image`);
  const end = payload.length === undefined ? buf.length : payload.offset + payload.length;
  const input = buf.subarray(payload.offset, end);
  const argv = payload.format === 'xz' ? ['xz', '-dc', '--single-stream'] : ['zstd', '-dcq'];
  let result;
  try {
    result = await execa(argv[0], argv.slice(1), { input, stdout: { file: outPath }, reject: false });
  } catch (cause) {
    throw missingTool(argv[0], { cause });
  }
  if (result.failed && (result as { code?: string }).code === 'ENOENT') {
    throw missingTool(argv[0]);
  }
  // A scanned (not header-delimited) zstd stream has trailing bytes zstd complains about; the ELF check decides.
  const problem = await checkVmlinux(outPath);
  if (problem) {
    await rm(outPath, { force: true });
    throw new CacheError(`${bzImagePath}: decompressed kernel ${problem} (${argv[0]}: ${String(result.stderr).trim()})`);
  }
}

/** Why `path` is not a PVH-bootable ELF, or undefined when it is. */
export async function checkVmlinux(path: string): Promise<string | undefined> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    const head = Buffer.alloc(64);
    await fh.read(head, 0, 64, 0);
    if (!isElf64(head)) return 'is not a 64-bit ELF';
    const elf = Buffer.alloc(size);
    await fh.read(elf, 0, size, 0);
    if (!hasPvhNote(elf)) return 'has no PVH entry note (Xen ELF note 18): QEMU cannot boot it directly';
    return undefined;
  } finally {
    await fh.close();
  }
}

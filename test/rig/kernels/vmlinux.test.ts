// bzImage payload location, ELF/PVH note checks, and decompression of a synthetic kernel image.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CacheError } from '../../../rig/core/errors.ts';
import { elfWithNotes, bzImage } from '../../fixtures/images/synthetic-kernel.ts';
import { checkVmlinux, decompressKernel, findPayload, isArm64Image, XZ_MAGIC, ZSTD_MAGIC } from '../../../rig/kernels/vmlinux.ts';
import { hasPvhNote, isElf64 } from '../../../rig/platform/elf.ts';

t.test('findPayload uses the setup header, else the first magic', async (t) => {
  const junk = Buffer.concat([Buffer.alloc(100, 7), ZSTD_MAGIC]); // a decoy magic before the real payload
  const xzPayload = Buffer.concat([XZ_MAGIC, Buffer.alloc(50, 1)]);
  t.same(findPayload(bzImage(xzPayload, { junkBefore: junk })), { format: 'xz', offset: 1024 + junk.length, length: xzPayload.length });
  const zst = Buffer.concat([ZSTD_MAGIC, Buffer.alloc(50, 1)]);
  t.same(findPayload(bzImage(zst)), { format: 'zstd', offset: 1024, length: zst.length });
  t.same(findPayload(bzImage(xzPayload, { header: false, junkBefore: Buffer.alloc(10) })), { format: 'xz', offset: 1034 });
  t.same(findPayload(Buffer.concat([Buffer.alloc(5), ZSTD_MAGIC, Buffer.alloc(3), XZ_MAGIC])), { format: 'zstd', offset: 5 });
  t.equal(findPayload(Buffer.alloc(4096, 0x41)), undefined);
  t.equal(findPayload(Buffer.alloc(3)), undefined);
});

t.test('arm64 Image magic', async (t) => {
  const img = Buffer.alloc(64);
  img.write('ARM\x64', 0x38, 'latin1');
  t.ok(isArm64Image(img));
  t.notOk(isArm64Image(Buffer.alloc(64)));
  t.notOk(isArm64Image(Buffer.alloc(10)));
});

t.test('PVH note detection', async (t) => {
  t.ok(isElf64(elfWithNotes([])));
  t.notOk(isElf64(Buffer.from('not an elf at all, just some bytes that are long enough to read a header from..............')));
  t.ok(hasPvhNote(elfWithNotes([{ name: 'GNU', type: 3 }, { name: 'Xen', type: 18 }])));
  t.notOk(hasPvhNote(elfWithNotes([{ name: 'Xen', type: 17 }, { name: 'Linux', type: 18 }])), 'needs name Xen AND type 18');
  t.notOk(hasPvhNote(elfWithNotes([])));
  t.notOk(hasPvhNote(Buffer.alloc(100)));
});

t.test('decompressKernel: xz and zstd payloads to a checked vmlinux', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kimg-'));
  const elf = elfWithNotes([{ name: 'Xen', type: 18, desc: Buffer.from([0, 0, 0, 1]) }]);
  for (const [fmt, argv] of [['xz', ['xz', '-c', '--check=crc32']], ['zstd', ['zstd', '-c', '-q']]] as const) {
    const compressed = execFileSync(argv[0], argv.slice(1), { input: elf });
    const src = join(dir, `bz-${fmt}`);
    writeFileSync(src, bzImage(compressed));
    const out = join(dir, `vmlinux-${fmt}`);
    await decompressKernel(src, out);
    t.equal(await checkVmlinux(out), undefined, `${fmt}: a PVH ELF`);
    // Without a header the scanner finds the stream and tolerates the trailing bytes.
    writeFileSync(src, bzImage(compressed, { header: false }));
    await decompressKernel(src, out);
    t.equal(await checkVmlinux(out), undefined, `${fmt} (scanned): a PVH ELF`);
  }
  const noPvh = execFileSync('xz', ['-c'], { input: elfWithNotes([{ name: 'GNU', type: 3 }]) });
  writeFileSync(join(dir, 'bz-nopvh'), bzImage(noPvh));
  await t.rejects(decompressKernel(join(dir, 'bz-nopvh'), join(dir, 'bad')), CacheError);
  t.notOk(existsSync(join(dir, 'bad')), 'a bad result is removed');
  const notElf = execFileSync('xz', ['-c'], { input: Buffer.alloc(1000, 0x41) });
  writeFileSync(join(dir, 'bz-notelf'), bzImage(notElf));
  await t.rejects(decompressKernel(join(dir, 'bz-notelf'), join(dir, 'bad')), { message: /not a 64-bit ELF/ });
  writeFileSync(join(dir, 'bz-none'), Buffer.alloc(5000, 3));
  await t.rejects(decompressKernel(join(dir, 'bz-none'), join(dir, 'bad')), { message: /no xz or zstd payload/ });
});

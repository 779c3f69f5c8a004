// Guest programs of a project: C built statically with nlclient's toolchain and cache, other files copied; a compile error exits 4.
import t from 'tap';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { guestProgramFiles, GUEST_PROGRAM_DIR } from '../../../rig/build/programs.ts';
import { resolveProject } from '../../../rig/project/load.ts';
import { BuildError } from '../../../rig/core/errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'ktest-rig-programs-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
mkdirSync(join(dir, 'mod'));
mkdirSync(join(dir, 'tests'));
writeFileSync(join(dir, 'mod', 'box_uapi.h'), '#define BOX_MAGIC 0x42\n');
writeFileSync(join(dir, 'tests', 'probe.c'), '#include <stdio.h>\n#include <linux/ioctl.h>\n#include "box_uapi.h"\nint main(void) { printf("%d\\n", BOX_MAGIC); return 0; }\n');
writeFileSync(join(dir, 'tests', 'run.sh'), '#!/bin/sh\necho hi\n');
writeFileSync(join(dir, 'tests', 'broken.c'), 'int main(void) {\n  return undeclared_thing;\n}\n');
const file = join(dir, 'ktest-rig.config.ts');
const cacheDir = join(dir, 'cache');

t.test('C is built static for the arch, with the module dir on the include path; scripts are copied', async (t) => {
  const project = resolveProject({ module: 'mod', programs: ['tests/probe.c', 'tests/run.sh'] }, file);
  const files = await guestProgramFiles(project.programs, { arch: 'x86_64', outDir: join(dir, 'out'), cacheDir });
  t.strictSame(files.map((f) => [f.path, f.mode]), [[`${GUEST_PROGRAM_DIR}/probe`, 0o755], [`${GUEST_PROGRAM_DIR}/run.sh`, 0o755]]);
  const elf = readFileSync(files[0]!.source as string);
  t.equal(elf.readUInt32BE(0), 0x7f454c46, 'an ELF');
  t.equal(elf.readUInt16LE(18), 62, 'x86_64');
  t.notOk(elf.includes(Buffer.from('ld-linux')), 'static: no dynamic loader');
  t.equal(files[1]!.source, join(dir, 'tests', 'run.sh'));
  const again = await guestProgramFiles(project.programs, { arch: 'x86_64', outDir: join(dir, 'out2'), cacheDir });
  t.same(readFileSync(again[0]!.source as string), elf, 'the second build comes from the cache');
});

t.test('a compile error is a BuildError (exit 4) naming the first error, relative to the project', async (t) => {
  const project = resolveProject({ module: 'mod', programs: ['tests/broken.c'] }, file);
  const error = await guestProgramFiles(project.programs, { arch: 'x86_64', outDir: join(dir, 'out3'), cacheDir }).catch((e: unknown) => e);
  t.ok(error instanceof BuildError, 'BuildError');
  t.equal((error as BuildError).exitCode, 4);
  t.match((error as BuildError).message, /^guest program broken \(x86_64\) did not compile: tests\/broken\.c:2:\d+: error: 'undeclared_thing' undeclared/);
});

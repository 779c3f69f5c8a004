// Guest copies of built modules without debug info: the guest needs code and symbols, not DWARF.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { archSpec } from '../platform/arch/index.ts';
import { missingTool } from '../platform/host-tools.ts';
import { InfraError } from '../core/errors.ts';
import type { Arch } from '../platform/arch/index.ts';
import type { BuiltModule } from './module.ts';

/** The strip argv for one module (keeps symbols: only .debug_* and friends go). Pure. */
export function stripArgv(arch: Arch, koPath: string, outPath: string): string[] {
  return [`${archSpec(arch).binutilsPrefix}strip`, '--strip-debug', '-o', outPath, koPath];
}

/**
 * Write `<outDir>/<name>.ko` stripped of debug info for each module; the host keeps `koPath` (with
 * DWARF) for symbolising. ktest.ko: 450 KiB -> 12 KiB, which is what crosses into every guest.
 */
export async function stripForGuest(modules: readonly BuiltModule[], arch: Arch, outDir: string): Promise<Map<string, string>> {
  await mkdir(outDir, { recursive: true });
  const out = new Map<string, string>();
  await Promise.all(
    modules.map(async (m) => {
      const dest = join(outDir, `${m.name}.ko`);
      const [tool, ...args] = stripArgv(arch, m.koPath, dest);
      const r = await execa(tool!, args, { reject: false });
      // strip comes with the same binutils package as the arch's addr2line row
      if ((r as { code?: string }).code === 'ENOENT') throw missingTool(`${archSpec(arch).binutilsPrefix}addr2line`, { label: tool! });
      if (r.exitCode !== 0) throw new InfraError(`${tool} ${m.koPath} failed: ${String(r.stderr).trim()}`);
      out.set(m.name, dest);
    }),
  );
  return out;
}

// Runs the rig CLI on a real pseudo-terminal (python3's pty module drives it: node has none built in) and counts QEMU left behind.
import { execa } from 'execa';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../../rig/core/paths.ts';

export type PtyStep =
  | { readonly expect: string; readonly timeout?: number }
  | { readonly send: string }
  | { readonly resize: readonly [number, number] }
  | { readonly sleep: number };

export interface PtyRun {
  readonly steps: readonly { readonly ok: boolean; readonly match?: string; readonly tail?: string }[];
  /** The rig's exit status (null: it did not exit and was killed). */
  readonly exitCode: number | null;
  /** Everything the terminal showed. */
  readonly screen: string;
  readonly qemuLeft: number;
}

/** `rig ARGS` on a pty of `size` (rows, cols), fed the steps in order (stops at the first failed expect); `env` adds to the environment. */
export async function rigOnPty(args: readonly string[], steps: readonly PtyStep[], size: readonly [number, number] = [24, 80], env: NodeJS.ProcessEnv = {}): Promise<PtyRun> {
  const tmp = await mkdtemp(join(tmpdir(), 'ktest-rig-pty-'));
  try {
    const spec = { argv: [process.execPath, '--import', 'tsx', join(projectRoot, 'rig/cli/main.ts'), ...args], size, steps, exitTimeout: 60 };
    const r = await execa('python3', [join(projectRoot, 'test/helpers/pty-drive.py')], { cwd: projectRoot, input: JSON.stringify(spec), reject: false, env: { ...env, TMPDIR: tmp }, timeout: 10 * 60_000 });
    const out = JSON.parse(r.stdout || '{"steps":[],"exitCode":null}') as Omit<PtyRun, 'screen' | 'qemuLeft'>;
    const left = await execa('pgrep', ['-f', `qemu-system-.*${tmp}`], { reject: false });
    return { ...out, screen: r.stderr, qemuLeft: left.stdout.split('\n').filter(Boolean).length };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

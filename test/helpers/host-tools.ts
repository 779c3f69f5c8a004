// Tests that need a host tool fail, never skip, when it is missing: the message names the tool, its package and the command.
import { HOST_TOOLS, manualInstallCommand, probeTool } from '../../rig/platform/host-tools.ts';

/**
 * Undefined when every named host-tools row is present, else one line saying what is missing and how
 * to install it (npm test's pretest installs every row; see README "Skip policy"). Throws on a name
 * that is not a row: the list of host packages lives once, in rig/platform/host-tools.ts.
 */
export async function missingTools(...names: string[]): Promise<string | undefined> {
  const rows = names.map((name) => {
    const row = HOST_TOOLS.find((tool) => tool.name === name);
    if (!row) throw new Error(`${name} is not a row of rig/platform/host-tools.ts`);
    return row;
  });
  const missing = (await Promise.all(rows.map((row) => probeTool(row)))).filter((check) => !check.ok);
  if (missing.length === 0) return undefined;
  const packages = [...new Set(missing.map((check) => check.package))];
  return `missing host tools: ${missing.map((check) => `${check.name} (${check.problem})`).join(', ')}; npm test installs them first (pretest), or run: ${manualInstallCommand(packages)}`;
}

/**
 * For limits of the environment no package can lift (e.g. mount namespaces need root): the skip reason
 * outside CI; in CI, false, so the test runs and fails. README lists each such skip.
 */
export function skipOutsideCI(reason: string, env: NodeJS.ProcessEnv = process.env): string | false {
  return env.CI ? false : reason;
}

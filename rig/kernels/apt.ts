// A private apt configuration per (suite, arch) under the cache: update, look up and download .debs, never touching the host's apt.
import { existsSync } from 'node:fs';
import { mkdir, writeFile, readdir, rm, mkdtemp, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { DownloadError, MissingToolError, PinGoneError } from '../core/errors.ts';
import { cacheRoot } from '../core/paths.ts';
import { envString } from '../core/env.ts';
import { missingTool } from '../platform/host-tools.ts';

export const DEBIAN_MIRROR = 'http://deb.debian.org/debian';
export const DEBIAN_SECURITY_MIRROR = 'http://deb.debian.org/debian-security';
export const KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';
const LOCK_RETRY_MS = 1000;
const LOCK_RETRIES = 120;

export interface Mirrors {
  readonly main: string;
  readonly security: string;
}

/** Where a private configuration fetches from: the mirrors, and the keyring their Release files are signed with. */
export interface AptSource {
  readonly mirrors?: Mirrors;
  /** Defaults to Debian's archive keyring; apt verifies every Release file against it. */
  readonly keyring?: string;
}

export interface AptContext {
  readonly suite: string;
  readonly debArch: string;
  /** Root of this configuration: sources.list, lists/, cache/, status. */
  readonly dir: string;
  /** `-o` options that point apt at `dir` (pass before the apt command). */
  readonly options: readonly string[];
}

/** One stanza of a Packages index, as `apt-cache show` prints it. */
export interface PackageRecord {
  readonly package: string;
  readonly version: string;
  readonly architecture: string;
  readonly filename: string;
  readonly sha256: string;
  readonly size: number;
  readonly depends: string;
  readonly fields: Readonly<Record<string, string>>;
}

/** One row of `apt-cache madison`: which pocket (bookworm, bookworm-security, ...) serves a version. */
export interface MadisonRow {
  readonly name: string;
  readonly version: string;
  readonly pocket: string;
}

/**
 * Pockets of a suite that Debian users get by default, in order of preference when two serve the same
 * version (main first: security pins vanish faster). The newest version wins whichever pocket has it.
 */
/** A suite that moves from one kernel series to the next (sid, backports); a stable suite keeps its series. Pure. */
export function isRollingSuite(suite: string): boolean {
  return suite === 'sid' || suite === 'unstable' || suite === 'experimental' || suite.endsWith('-backports');
}

export function pocketsOf(suite: string): string[] {
  if (isRollingSuite(suite)) return [suite];
  return [suite, `${suite}-updates`, `${suite}-security`];
}

/** The sources.list text for a suite and Debian arch. Pure. */
export function sourcesList(suite: string, debArch: string, mirrors: Mirrors = defaultMirrors(), keyring: string = KEYRING): string {
  return pocketsOf(suite)
    .map((pocket) => {
      const uri = pocket.endsWith('-security') ? mirrors.security : mirrors.main;
      return `deb [signed-by=${keyring} arch=${debArch}] ${uri} ${pocket} main\n`;
    })
    .join('');
}

/** What to check when the archive cannot be reached: the mirror in use, by the setting that chose it. Pure. */
export function networkHint(env: NodeJS.ProcessEnv = process.env): string {
  const set = envString('KTEST_RIG_DEBIAN_MIRROR', env);
  return set ? `check network access to ${set} (KTEST_RIG_DEBIAN_MIRROR)` : 'check network access to deb.debian.org (or set KTEST_RIG_DEBIAN_MIRROR)';
}

export function defaultMirrors(env: NodeJS.ProcessEnv = process.env): Mirrors {
  return {
    main: envString('KTEST_RIG_DEBIAN_MIRROR', env) ?? DEBIAN_MIRROR,
    security: envString('KTEST_RIG_DEBIAN_SECURITY_MIRROR', env) ?? DEBIAN_SECURITY_MIRROR,
  };
}

/** `-o` options for a private configuration rooted at `dir`. Pure. */
export function aptOptions(dir: string, debArch: string, isRoot: boolean): string[] {
  const o: Record<string, string> = {
    'Dir::Etc::SourceList': join(dir, 'sources.list'),
    'Dir::Etc::SourceParts': join(dir, 'sources.list.d'),
    'Dir::Etc::Preferences': join(dir, 'preferences'),
    'Dir::Etc::PreferencesParts': join(dir, 'preferences.d'),
    'Dir::State::Lists': join(dir, 'lists'),
    'Dir::State::Status': join(dir, 'status'),
    'Dir::Cache': join(dir, 'cache'),
    'APT::Architecture': debArch,
    'APT::Architectures::': debArch,
    'Acquire::Languages': 'none',
    'APT::Get::AllowUnauthenticated': 'false',
  };
  // As root apt drops to _apt, which may not reach a cache under /root; non-root apt runs as itself (a warning).
  if (isRoot) o['APT::Sandbox::User'] = 'root';
  return Object.entries(o).flatMap(([k, v]) => ['-o', `${k}=${v}`]);
}

/** Create (idempotently) the private configuration for (suite, debArch); `source` replaces Debian's mirrors and keyring. */
export async function aptContext(suite: string, debArch: string, cacheDir: string = cacheRoot(), source: AptSource = {}): Promise<AptContext> {
  const keyring = source.keyring ?? KEYRING;
  if (keyring === KEYRING && !existsSync(KEYRING)) throw missingTool('debian-archive-keyring');
  const dir = join(cacheDir, 'apt', `${suite}-${debArch}`);
  for (const d of ['sources.list.d', 'preferences.d', 'lists/partial', 'cache/archives/partial']) {
    await mkdir(join(dir, d), { recursive: true });
  }
  await writeFile(join(dir, 'sources.list'), sourcesList(suite, debArch, source.mirrors ?? defaultMirrors(), keyring));
  await writeFile(join(dir, 'status'), '', { flag: 'a' });
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  return { suite, debArch, dir, options: aptOptions(dir, debArch, isRoot) };
}

interface Ran {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run an apt tool with the context's options, waiting while another process holds the lists lock. */
async function runApt(ctx: AptContext, tool: string, args: readonly string[], cwd?: string): Promise<Ran> {
  for (let attempt = 0; ; attempt++) {
    const r = await execa(tool, [...ctx.options, ...args], { reject: false, cwd, env: { LC_ALL: 'C' } });
    if ((r as { code?: string }).code === 'ENOENT') throw new MissingToolError([tool], 'install apt (a Debian or Ubuntu host)');
    const res = { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
    if (res.exitCode !== 0 && /Could not get lock|Unable to lock/.test(res.stderr) && attempt < LOCK_RETRIES) {
      await new Promise((ok) => setTimeout(ok, LOCK_RETRY_MS));
      continue;
    }
    return res;
  }
}

/** `apt-get update` on the private lists. */
export async function aptUpdate(ctx: AptContext): Promise<void> {
  const r = await runApt(ctx, 'apt-get', ['-q', 'update']);
  if (r.exitCode !== 0 || /^(E|Err):/m.test(r.stderr) || /^Err:/m.test(r.stdout)) {
    throw new DownloadError(`apt-get update failed for ${ctx.suite}/${ctx.debArch}: ${lastErrorLine(r)}`, {
      hint: networkHint(),
    });
  }
}

/** Update the lists only if they were never fetched. */
export async function ensureLists(ctx: AptContext): Promise<void> {
  const files = await readdir(join(ctx.dir, 'lists'));
  if (!files.some((f) => f.endsWith('Release'))) await aptUpdate(ctx);
}

function lastErrorLine(r: Ran): string {
  const lines = `${r.stderr}\n${r.stdout}`.split('\n').filter((l) => /^(E|Err|W):/.test(l));
  return (lines.find((l) => l.startsWith('E:')) ?? lines[0] ?? `exit ${r.exitCode}`).trim();
}

/** Parse Packages stanzas (apt-cache show output). Pure. */
export function parsePackagesRecords(text: string): PackageRecord[] {
  const out: PackageRecord[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields: Record<string, string> = {};
    let key = '';
    for (const line of stanza.split('\n')) {
      if (/^\s/.test(line) && key) fields[key] += `\n${line.trim()}`;
      else {
        const m = /^([A-Za-z0-9-]+):\s?(.*)$/.exec(line);
        if (m) fields[(key = m[1])] = m[2];
      }
    }
    if (!fields.Package) continue;
    out.push({
      package: fields.Package,
      version: fields.Version ?? '',
      architecture: fields.Architecture ?? '',
      filename: fields.Filename ?? '',
      sha256: fields.SHA256 ?? '',
      size: Number(fields.Size ?? 0),
      depends: fields.Depends ?? '',
      fields,
    });
  }
  return out;
}

/** Parse `apt-cache madison` output. Pure. */
export function parseMadison(text: string): MadisonRow[] {
  const rows: MadisonRow[] = [];
  for (const line of text.split('\n')) {
    const cols = line.split('|').map((c) => c.trim());
    if (cols.length < 3) continue;
    const m = /^\S+\s+(\S+?)\/\S+\s+\S+\s+Packages$/.exec(cols[2]);
    if (m) rows.push({ name: cols[0], version: cols[1], pocket: m[1] });
  }
  return rows;
}

/** Records of a package (all versions, or one). Empty when apt knows none. */
export async function showPackage(ctx: AptContext, name: string, version?: string): Promise<PackageRecord[]> {
  const r = await runApt(ctx, 'apt-cache', ['show', version ? `${name}=${version}` : name]);
  if (r.exitCode !== 0) return [];
  return parsePackagesRecords(r.stdout).filter((p) => p.package === name && (!version || p.version === version));
}

export async function madison(ctx: AptContext, names: readonly string[]): Promise<MadisonRow[]> {
  if (names.length === 0) return [];
  const r = await runApt(ctx, 'apt-cache', ['madison', ...names]);
  return parseMadison(r.stdout);
}

/** Package names matching an (apt, POSIX extended) regex. */
export async function searchNames(ctx: AptContext, regex: string): Promise<string[]> {
  const r = await runApt(ctx, 'apt-cache', ['search', '--names-only', regex]);
  return r.stdout
    .split('\n')
    .map((l) => l.split(' - ')[0].trim())
    .filter((n) => n !== '')
    .sort();
}

const GONE = /was not found|Unable to locate package|Can't find a source to download|Couldn't find any package|404\s+Not Found/;

/**
 * `apt-get download name=version` into destDir; returns the .deb's path. A version apt does not know
 * (after one refresh of the lists) is a PinGoneError.
 */
export async function aptDownload(ctx: AptContext, name: string, version: string, destDir: string): Promise<string> {
  await ensureLists(ctx);
  await mkdir(destDir, { recursive: true });
  for (let attempt = 0; ; attempt++) {
    const tmp = await mkdtemp(join(destDir, '.dl-'));
    try {
      const r = await runApt(ctx, 'apt-get', ['-q', 'download', `${name}=${version}`], tmp);
      const debs = (await readdir(tmp)).filter((f) => f.endsWith('.deb'));
      if (r.exitCode === 0 && debs.length === 1) {
        const final = join(destDir, debs[0]);
        await rm(final, { force: true });
        await rename(join(tmp, debs[0]), final);
        return final;
      }
      const why = lastErrorLine(r);
      if (GONE.test(`${r.stderr}\n${r.stdout}`)) {
        if (attempt === 0) {
          await aptUpdate(ctx);
          continue;
        }
        throw new PinGoneError(`${name} ${version} is no longer in the Debian archive (${ctx.suite}): ${why}`, {
          hint: 'run: npm run rig -- images update',
        });
      }
      throw new DownloadError(`download of ${name} ${version} failed: ${why}`, {
        hint: networkHint(),
      });
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }
}

/** Order of a character in Debian's version comparison: ~ sorts before everything, letters before other symbols. */
function charOrder(c: string | undefined): number {
  if (c === undefined) return 0;
  if (c === '~') return -1;
  if (/[A-Za-z]/.test(c)) return c.charCodeAt(0);
  return c.charCodeAt(0) + 256;
}

function comparePart(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    let first = 0;
    while ((i < a.length && !/\d/.test(a[i])) || (j < b.length && !/\d/.test(b[j]))) {
      const ca = i < a.length && !/\d/.test(a[i]) ? a[i] : undefined;
      const cb = j < b.length && !/\d/.test(b[j]) ? b[j] : undefined;
      const d = charOrder(ca) - charOrder(cb);
      if (d !== 0) return d;
      i++;
      j++;
    }
    while (a[i] === '0') i++;
    while (b[j] === '0') j++;
    while (i < a.length && /\d/.test(a[i]) && j < b.length && /\d/.test(b[j])) {
      if (!first) first = a.charCodeAt(i) - b.charCodeAt(j);
      i++;
      j++;
    }
    if (i < a.length && /\d/.test(a[i])) return 1;
    if (j < b.length && /\d/.test(b[j])) return -1;
    if (first) return first;
  }
  return 0;
}

/** Compare two Debian versions like `dpkg --compare-versions` (negative, 0, positive). Pure. */
export function compareDebVersions(a: string, b: string): number {
  const split = (v: string): [number, string, string] => {
    const colon = v.indexOf(':');
    const epoch = colon >= 0 ? Number(v.slice(0, colon)) : 0;
    const rest = colon >= 0 ? v.slice(colon + 1) : v;
    const dash = rest.lastIndexOf('-');
    return dash >= 0 ? [epoch, rest.slice(0, dash), rest.slice(dash + 1)] : [epoch, rest, ''];
  };
  const [ea, ua, ra] = split(a);
  const [eb, ub, rb] = split(b);
  if (ea !== eb) return ea - eb;
  return comparePart(ua, ub) || comparePart(ra, rb);
}

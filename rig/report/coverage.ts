// Module coverage as data: what gcov's JSON says about each source file, summed over the guests of a
// scenario and over scenarios, written as lcov tracefiles and summarised per file. Pure.

/** One source file's counters. */
export interface FileCoverage {
  /** Line number -> times executed. */
  readonly lines: Map<number, number>;
  /** Function name -> its first line and times called. */
  readonly functions: Map<string, { line: number; count: number }>;
  /** Line number -> times each branch of that line was taken; null: the line never ran (lcov's '-'). */
  readonly branches: Map<number, (number | null)[]>;
}

/** Counters per source file, keyed by the file's path in the author's tree. */
export type CoverageData = Map<string, FileCoverage>;

export interface Counts {
  readonly hit: number;
  readonly found: number;
}

export interface FileSummary {
  /** Relative to the module directory (--kmod). */
  readonly file: string;
  readonly lines: Counts;
  readonly functions: Counts;
  readonly branches: Counts;
}

export interface CoverageTotals {
  readonly lines: Counts;
  readonly functions: Counts;
  readonly branches: Counts;
}

export interface CoverageSummary {
  readonly files: readonly FileSummary[];
  readonly total: CoverageTotals;
}

/** One scenario's share: its tracefile and totals; runs is the guests it ran in (more than one under --fault-inject). */
export interface ScenarioCoverage extends CoverageTotals {
  readonly name: string;
  readonly tracefile: string;
  readonly runs: number;
  /** Guests whose counters could not be read (the kernel died): their lines are not counted. */
  readonly unread?: number;
}

/** What a run's coverage wrote and found, for one image (RunSummary.coverage, the JSON report). */
export interface CoverageReport extends CoverageSummary {
  readonly module: string;
  /** The module directory the paths are relative to. */
  readonly moduleDir: string;
  /** The directory holding everything below. */
  readonly dir: string;
  /** Every scenario merged (one TN record per scenario). */
  readonly tracefile: string;
  /** genhtml's index.html. */
  readonly html: string;
  readonly scenarios: readonly ScenarioCoverage[];
}

/** The parts of `gcov --json-format` output the rig reads (gcc 9 and later). */
export interface GcovJson {
  readonly files: readonly {
    readonly file: string;
    readonly lines: readonly { readonly line_number: number; readonly count: number; readonly branches?: readonly { readonly count: number; readonly throw?: boolean }[] }[];
    readonly functions: readonly { readonly name: string; readonly start_line: number; readonly execution_count: number }[];
  }[];
}

function emptyFile(): FileCoverage {
  return { lines: new Map(), functions: new Map(), branches: new Map() };
}

/**
 * Counters of the files `mapPath` keeps (it returns the path in the author's tree, or undefined to drop a
 * file: kernel headers, generated sources). Lines listed twice (a line in two functions) add up;
 * exception branches are left out, as lcov does. Pure.
 */
export function fromGcovJson(json: GcovJson, mapPath: (file: string) => string | undefined): CoverageData {
  const out: CoverageData = new Map();
  for (const f of json.files) {
    const path = mapPath(f.file);
    if (path === undefined) continue;
    const cov = out.get(path) ?? emptyFile();
    out.set(path, cov);
    for (const l of f.lines) {
      cov.lines.set(l.line_number, (cov.lines.get(l.line_number) ?? 0) + l.count);
      const taken = (l.branches ?? []).filter((b) => !b.throw).map((b) => (l.count === 0 ? null : b.count));
      if (taken.length > 0) cov.branches.set(l.line_number, addBranches(cov.branches.get(l.line_number), taken));
    }
    for (const fn of f.functions) {
      const had = cov.functions.get(fn.name);
      cov.functions.set(fn.name, { line: fn.start_line, count: (had?.count ?? 0) + fn.execution_count });
    }
  }
  return out;
}

function addBranches(a: readonly (number | null)[] | undefined, b: readonly (number | null)[]): (number | null)[] {
  if (!a) return [...b];
  const n = Math.max(a.length, b.length);
  return Array.from({ length: n }, (_, i) => {
    const x = a[i] ?? null;
    const y = b[i] ?? null;
    return x === null ? y : y === null ? x : x + y;
  });
}

/** Adds `from`'s counters into `into` (the same notes read from another guest). */
export function mergeCoverage(into: CoverageData, from: CoverageData): CoverageData {
  for (const [path, f] of from) {
    const t = into.get(path) ?? emptyFile();
    into.set(path, t);
    for (const [line, n] of f.lines) t.lines.set(line, (t.lines.get(line) ?? 0) + n);
    for (const [name, fn] of f.functions) t.functions.set(name, { line: fn.line, count: (t.functions.get(name)?.count ?? 0) + fn.count });
    for (const [line, br] of f.branches) t.branches.set(line, addBranches(t.branches.get(line), br));
  }
  return into;
}

/** An lcov test name: letters, digits and underscores only (lcov rewrites anything else with a warning). Pure. */
export function lcovTestName(name: string): string {
  return name.replace(/\W/g, '_');
}

const byNumber = (a: number, b: number) => a - b;

/** One lcov tracefile record per file (TN, SF, FN/FNDA, BRDA, DA and their totals), files in path order. Pure. */
export function formatLcov(testName: string, data: CoverageData): string {
  const out: string[] = [];
  for (const path of [...data.keys()].sort()) {
    const f = data.get(path)!;
    out.push(`TN:${lcovTestName(testName)}`, `SF:${path}`);
    const fns = [...f.functions].sort((a, b) => a[1].line - b[1].line || a[0].localeCompare(b[0]));
    for (const [name, fn] of fns) out.push(`FN:${fn.line},${name}`);
    for (const [name, fn] of fns) out.push(`FNDA:${fn.count},${name}`);
    out.push(`FNF:${fns.length}`, `FNH:${fns.filter(([, fn]) => fn.count > 0).length}`);
    let brf = 0;
    let brh = 0;
    for (const line of [...f.branches.keys()].sort(byNumber)) {
      f.branches.get(line)!.forEach((taken, i) => {
        out.push(`BRDA:${line},0,${i},${taken === null ? '-' : taken}`);
        brf++;
        if (taken !== null && taken > 0) brh++;
      });
    }
    out.push(`BRF:${brf}`, `BRH:${brh}`);
    const lines = [...f.lines.keys()].sort(byNumber);
    for (const line of lines) out.push(`DA:${line},${f.lines.get(line)!}`);
    out.push(`LF:${lines.length}`, `LH:${lines.filter((l) => f.lines.get(l)! > 0).length}`, 'end_of_record');
  }
  return out.length ? `${out.join('\n')}\n` : '';
}

function fileCounts(f: FileCoverage): CoverageTotals {
  const branches = [...f.branches.values()].flat();
  return {
    lines: { hit: [...f.lines.values()].filter((n) => n > 0).length, found: f.lines.size },
    functions: { hit: [...f.functions.values()].filter((fn) => fn.count > 0).length, found: f.functions.size },
    branches: { hit: branches.filter((n) => n !== null && n > 0).length, found: branches.length },
  };
}

const add = (a: Counts, b: Counts): Counts => ({ hit: a.hit + b.hit, found: a.found + b.found });

/** Per-file and total line, function and branch counts; paths shown relative to `moduleDir`. Pure. */
export function summarizeCoverage(data: CoverageData, moduleDir: string): CoverageSummary {
  const prefix = moduleDir.endsWith('/') ? moduleDir : `${moduleDir}/`;
  const files = [...data.keys()].sort().map((path) => ({ file: path.startsWith(prefix) ? path.slice(prefix.length) : path, ...fileCounts(data.get(path)!) }));
  const zero = { hit: 0, found: 0 };
  const total = files.reduce((t, f) => ({ lines: add(t.lines, f.lines), functions: add(t.functions, f.functions), branches: add(t.branches, f.branches) }), { lines: zero, functions: zero, branches: zero });
  return { files, total };
}

/** Lines of a file that have code and never ran, in order. Pure. */
export function uncoveredLines(f: FileCoverage): number[] {
  return [...f.lines].filter(([, n]) => n === 0).map(([l]) => l).sort(byNumber);
}

/** "75/81 92.6%", or "-" when there is nothing to count. Pure. */
export function formatCounts(c: Counts): string {
  return c.found === 0 ? '-' : `${c.hit}/${c.found} ${((100 * c.hit) / c.found).toFixed(1)}%`;
}

/** The table printed at the end of a run: one row per file and a total. Pure. */
export function coverageTable(s: CoverageSummary): string {
  const rows = [['file', 'lines', 'functions', 'branches'], ...s.files.map((f) => [f.file, formatCounts(f.lines), formatCounts(f.functions), formatCounts(f.branches)])];
  if (s.files.length > 1) rows.push(['total', formatCounts(s.total.lines), formatCounts(s.total.functions), formatCounts(s.total.branches)]);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => `  ${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')}`.trimEnd()).join('\n');
}

/** The coverage lines a run prints on stderr for one image. Pure. */
export function coverageText(image: string, c: CoverageReport): string {
  const unread = c.scenarios.reduce((n, s) => n + (s.unread ?? 0), 0);
  return (
    `coverage of ${c.module} on ${image} (${c.scenarios.length} scenario${c.scenarios.length === 1 ? '' : 's'}): ${c.html}\n` +
    `${coverageTable(c)}\n` +
    `  lcov: ${c.tracefile}; per scenario: ${join2(c.dir, 'scenarios')}/\n` +
    (unread > 0 ? `  ${unread} guest${unread === 1 ? '' : 's'} died before their counters were read: their lines are not counted\n` : '')
  );
}

function join2(a: string, b: string): string {
  return a.endsWith('/') ? `${a}${b}` : `${a}/${b}`;
}

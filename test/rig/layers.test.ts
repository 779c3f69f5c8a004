// The import rules of rig/: folders import one way (cli -> run -> middle stages -> platform -> core; detect and
// report are leaves), and no file imports itself through others. Parses every import of rig/**.
import t from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { projectRoot } from '../../rig/core/paths.ts';

const RIG = join(projectRoot, 'rig');

/** Higher imports lower. Same rank: siblings (allowed, as long as no file cycle forms). */
const RANK: Record<string, number> = { cli: 5, run: 4, project: 3, scenario: 3, vm: 3, build: 3, kernels: 3, platform: 2, core: 0 };
/** Leaves: anyone may import them; they import only these. */
const LEAVES: Record<string, readonly string[]> = { detect: ['core', 'platform'], report: ['core', 'platform', 'detect'] };

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

const graph = new Map<string, Set<string>>();
for (const file of files(RIG)) {
  const text = readFileSync(file, 'utf8');
  const deps = new Set<string>();
  for (const m of text.matchAll(/^(?:import|export)\s[^;]*?from\s+'(\.[^']+)'/gms)) deps.add(normalize(join(dirname(file), m[1]!)));
  graph.set(file, deps);
}
const folder = (file: string) => {
  const parts = relative(RIG, file).split('/');
  return parts.length > 1 ? parts[0]! : '(top)';
};

function violations(): string[] {
  const out = new Set<string>();
  for (const [a, deps] of graph) {
    for (const b of deps) {
      const fa = folder(a);
      const fb = folder(b);
      if (fa === fb || fa === '(top)') continue;
      if (fb in LEAVES && !(fa in LEAVES)) continue;
      if (fa in LEAVES) {
        if (!LEAVES[fa]!.includes(fb)) out.add(`${fa} -> ${fb}`);
        continue;
      }
      if (!(fa in RANK) || !(fb in RANK)) out.add(`${fa} -> ${fb} (a folder without a rank: add it to RANK)`);
      else if (RANK[fa]! < RANK[fb]!) out.add(`${fa} -> ${fb}`);
    }
  }
  return [...out];
}

/** Strongly connected components with more than one file (Tarjan). */
function cycles(): string[] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const found: string[] = [];
  let next = 0;
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        comp.push(relative(projectRoot, w));
      } while (w !== v);
      if (comp.length > 1) found.push(`cycle: ${comp.sort().join(' ')}`);
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

t.test('every folder of rig/ has a place in the rules', async (t) => {
  const folders = new Set([...graph.keys()].map(folder).filter((f) => f !== '(top)'));
  for (const f of folders) t.ok(f in RANK || f in LEAVES, `rig/${f}/ is ranked or a leaf`);
});

t.test('imports point one way and form no cycle', async (t) => {
  t.same([...violations(), ...cycles()].sort(), [], 'no wrong-direction edge or cycle (fix the import; there are no exceptions)');
});

t.test('the scenario API (what users import) does not import cli/', async (t) => {
  const reach = new Set<string>();
  const walk = (f: string) => {
    if (reach.has(f)) return;
    reach.add(f);
    for (const d of graph.get(f) ?? []) walk(d);
  };
  walk(join(RIG, 'scenario', 'api.ts'));
  t.same([...reach].filter((f) => folder(f) === 'cli').map((f) => relative(projectRoot, f)), []);
});

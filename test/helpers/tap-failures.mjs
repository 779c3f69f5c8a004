// The test reporter of `npm test` (package.json "tap.reporter"): the raw TAP, unchanged, followed by
// a list of every failed assertion with its file, subtests and diagnostics, as TAP comments. A run
// of 6000+ assertions whose output is cut to its tail (CI logs) still says what failed.
// Plain ESM: the tap runner imports reporters without the TypeScript loader that the tests get.
import { Transform } from 'node:stream';
import { Parser } from 'tap-parser';

/** The failures that are not a subtest whose own failures are listed (a prefix of another's name). */
export function leafFailures(failures) {
  return failures.filter((f) => !failures.some((g) => g !== f && g.name.startsWith(`${f.name} > `)));
}

/** The summary block: TAP comment lines. */
export function formatFailures(failures) {
  const leaves = leafFailures(failures);
  if (leaves.length === 0) return '';
  const lines = [`# ${leaves.length} failed assertion(s):`];
  for (const f of leaves) {
    lines.push(`#   not ok: ${f.name}`);
    for (const l of f.diag.split('\n').slice(0, 12)) if (l.trim()) lines.push(`#     ${l}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The diagnostics worth a line each: where, the message, the diff (without its headers), found/wanted, output. */
function diagLines(diag) {
  if (!diag || typeof diag !== 'object') return '';
  const one = (key, value) => {
    if (key === 'at' && typeof value === 'object') return `at: ${value.fileName}:${value.lineNumber}`;
    if (typeof value !== 'string') return `${key}: ${JSON.stringify(value).slice(0, 400)}`;
    const lines = value.split('\n').filter((l) => l.trim() && !/^(---|\+\+\+|@@)/.test(l));
    return `${key}: ${lines.slice(0, 6).join(' | ').slice(0, 600)}`;
  };
  return ['at', 'message', 'diff', 'found', 'wanted', 'stderr', 'stdout', 'reports']
    .filter((k) => diag[k] !== undefined)
    .map((k) => one(k, diag[k]))
    .join('\n');
}

export default class TapFailures extends Transform {
  #failures = [];
  #parser = new Parser();

  constructor() {
    super();
    const watch = (p, path) => {
      p.on('child', (c) => watch(c, [...path, c.name]));
      p.on('assert', (r) => {
        if (r.ok || r.skip || r.todo) return;
        this.#failures.push({ name: [...path, r.name].filter(Boolean).join(' > '), diag: diagLines(r.diag) });
      });
    };
    watch(this.#parser, []);
  }

  _transform(chunk, _enc, done) {
    this.#parser.write(chunk);
    done(null, chunk);
  }

  _flush(done) {
    this.#parser.end();
    done(null, formatFailures(this.#failures));
  }
}

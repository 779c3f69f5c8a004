// The fixtures mark each faulting statement (`/* @fault NAME */`) once, and the fault checks reject every near miss.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../rig/core/paths.ts';
import { loadImages } from '../rig/kernels/images.ts';
import { faultLine, faultLines, faultReportProblems } from './helpers/fault-lines.ts';
import { expectations, scenarios, silentOn } from './fixtures/scenarios/crasher.ts';
import { neutralise } from '../scripts/mutation-check.ts';
import * as debugbugs from './fixtures/scenarios/debugbugs.ts';

const crasher = join(projectRoot, 'test/fixtures/kmods/crasher');

t.test('every fault crasher.c offers is marked once, in its own function', async (t) => {
  const source = readFileSync(join(crasher, 'crasher.c'), 'utf8');
  const offered = /#define CRASHER_FAULTS "([^"\\]+)\\n"/.exec(source)?.[1]?.split(' ') ?? [];
  t.ok(offered.length >= 10, `${offered.length} faults offered`);
  const marks = faultLines(crasher);
  t.same([...marks.keys()].filter((k) => k !== 'init_hang').sort(), [...offered].sort(), 'one marker per trigger value (plus init_hang)');
  const functions = [...marks.values()].map((m) => m.function);
  t.equal(new Set(functions).size, functions.length, 'each fault in its own function');
  t.match(faultLine(crasher, 'null'), { file: 'crasher.c', function: 'crasher_null_deref', text: '*ptr = 0x6b;' });
  t.match(faultLine(join(projectRoot, 'test/fixtures/kmods/crash-on-ack'), 'oops_on_ack'), { file: 'ktest.c', function: 'ktest_fault_oops_on_ack' });
});

t.test('every fault scenario has one expectation naming a marked fault and its function', async (t) => {
  const marks = faultLines(crasher);
  for (const image of loadImages().filter((i) => i.kind !== 'built')) {
    const exp = expectations(image);
    const silent = Object.keys(silentOn(image));
    t.same([...Object.keys(exp), ...silent].sort(), scenarios.map((s) => s.name).filter((n) => n !== 'clean').sort(), `${image.id}: every fault scenario is expected (or said to report nothing: ${silent.join(', ') || 'none'})`);
    for (const [name, e] of Object.entries(exp)) {
      const mark = marks.get(e.fault);
      t.ok(mark, `${name}: @fault ${e.fault} is marked`);
      if (e.reportedAt !== null) t.ok(marks.get(e.reportedAt), `${name}: @fault ${e.reportedAt} is marked`);
      if (mark && e.reportedAt !== null && !e.otherFunction && / in \w+$/.test(e.title)) t.ok(e.title.endsWith(` in ${mark.function}`), `${name}: the title names ${mark.function}`);
    }
  }
});

t.test("mutation-check's neutralised faults keep their markers and lines, and their statements as dead code", async (t) => {
  // A neutralised statement that drops its variables' last use does not build (-Werror); the
  // mutation check builds the result on a real kernel, this checks the text.
  const dir = mkdtempSync(join(tmpdir(), 'ktest-rig-neutralise-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const marks = faultLines(crasher);
  let source = readFileSync(join(crasher, 'crasher.c'), 'utf8');
  for (const name of marks.keys()) source = neutralise(source, name);
  writeFileSync(join(dir, 'crasher.c'), source);
  const mutated = faultLines(dir);
  for (const [name, mark] of marks) {
    const m = mutated.get(name);
    t.equal(m?.line, mark.line, `@fault ${name} still marks line ${mark.line}`);
    if (name === 'recursion') t.match(m?.text, /if \(depth > 16\) return 0;/, 'recursion made finite');
    else t.ok(m?.text.startsWith('if (0') && m.text.includes(mark.text.replace(/^if\s*\((.*)\)$/, '$1')), `@fault ${name}: "${m?.text}" keeps "${mark.text}" as dead code`);
  }
  t.throws(() => neutralise('int x;\n', 'nope'), /no @fault nope/);
  t.throws(() => neutralise('\tfor (;;) {\t/* @fault loop */\n', 'loop'), /cannot neutralise/);
});

t.test('faultReportProblems accepts only the exact kind, title and line', async (t) => {
  const mark = faultLine(crasher, 'listdel');
  const exp = { kind: 'list-corruption', title: `list_del corruption in ${mark.function}` };
  const good = { kind: 'list-corruption', title: exp.title, moduleFrames: [{ symbol: mark.function, file: 'crasher.c', line: mark.line }, { symbol: 'crasher_run', file: 'crasher.c', line: 1 }] };
  t.same(faultReportProblems([good], mark, exp), []);
  t.same(faultReportProblems([good, { kind: 'kernel-bug', title: 'x', moduleFrames: [] }], mark, exp), [], 'a consequence after the first report is fine');
  t.match(faultReportProblems([{ ...good, kind: 'kernel-bug' }], mark, exp), [/^kind kernel-bug/]);
  t.match(faultReportProblems([{ ...good, title: 'list_del corruption in crasher_trigger_set' }], mark, exp), [/^title/]);
  t.match(faultReportProblems([{ ...good, moduleFrames: [{ symbol: mark.function, file: 'list.h', line: 134 }] }], mark, exp), [/innermost module frame is .* list\.h:134/]);
  const header = { symbol: '__list_add', file: '/cache/linux-headers/include/linux/list.h', line: 69 };
  t.same(faultReportProblems([{ ...good, moduleFrames: [header, ...good.moduleFrames] }], mark, exp), [], 'an out-of-line header helper before the marked frame');
  t.match(faultReportProblems([{ ...good, moduleFrames: [header] }], mark, exp), [/no module frame/], 'only header frames');
  const relativeHeader = { ...header, file: 'include/linux/list.h' };
  t.same(faultReportProblems([{ ...good, moduleFrames: [relativeHeader, ...good.moduleFrames] }], mark, exp), [], 'a header path relative to the build tree');
  t.match(faultReportProblems([{ ...good, moduleFrames: [{ symbol: mark.function, file: 'crasher.c', line: mark.line + 1 }] }], mark, exp), [/innermost module frame/]);
  t.match(faultReportProblems([{ ...good, moduleFrames: good.moduleFrames.slice(1) }], mark, exp), [/innermost module frame is crasher_run/], 'only a caller frame');
  t.match(faultReportProblems([], mark, exp), [/^no report/]);
  t.match(faultReportProblems([good], mark, { ...exp, title: 'list_del corruption in crasher_other' }), [/title/, /names crasher_other/]);
});

t.test('a fault marked twice, or outside a function, is an error', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fault-lines-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'a.c'), 'static void f(void)\n{\n\tx();\t/* @fault x */\n\ty();\t/* @fault x */\n}\n');
  t.throws(() => faultLines(dir), /fault x is already marked at a\.c:3/);
  writeFileSync(join(dir, 'a.c'), 'int x;\t/* @fault y */\n');
  t.throws(() => faultLines(dir), /outside a function/);
  writeFileSync(join(dir, 'a.c'), 'static int g(int a,\n\t     int b)\n{\n\tif (a)\n\t\treturn b;\t/* @fault z */\n\treturn 0;\n}\n');
  t.match(faultLine(dir, 'z'), { function: 'g', line: 5, text: 'return b;' });
  t.throws(() => faultLine(dir, 'nope'), /no statement is marked/);
});

t.test('debugbugs: every bug it offers is marked, is a scenario, and is expected at its own marked line', async (t) => {
  const dir = join(projectRoot, 'test/fixtures/kmods/debugbugs');
  const source = readFileSync(join(dir, 'debugbugs.c'), 'utf8');
  const list = /#define DEBUGBUGS_LIST \\\n((?:\s*"[^"]*"\s*\\?\n)+)/.exec(source)?.[1] ?? '';
  const offered = [...list.matchAll(/"([^"]*)"/g)].map((m) => m[1]!).join('').replace(/\\n$/, '').trim().split(/\s+/);
  t.ok(offered.length >= 15, `${offered.length} bugs offered`);
  const marks = faultLines(dir);
  for (const bug of offered) t.ok(marks.has(bug), `@fault ${bug} is marked`);
  // clean reports nothing; alloc-unchecked reports only under --fault-inject (test/integration/debug-kernel.test.ts).
  const names = debugbugs.scenarios.map((s) => s.name).filter((n) => n !== 'clean' && n !== 'alloc-unchecked');
  t.same(Object.keys(debugbugs.expectations).sort(), [...names].sort(), 'one expectation per scenario');
  for (const [name, e] of Object.entries(debugbugs.expectations)) {
    t.ok(offered.includes(name), `${name} is a trigger value`);
    const mark = marks.get(e.fault);
    t.ok(mark, `${name}: @fault ${e.fault} is marked`);
    if (mark) t.ok(e.title.endsWith(` in ${mark.function}`), `${name}: the title names ${mark.function}`);
  }
  t.equal(marks.get('alloc-site')?.function, 'debugbugs_alloc_unchecked', 'the unchecked allocation (for fault injection) is marked');
});

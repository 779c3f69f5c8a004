// The project file's validator: good files pass unchanged, every bad field is named in one line (exit 2).
import t from 'tap';
import { defineConfig, programName, validateConfig } from '../../../rig/project/config.ts';
import { allowedMatches, patternText } from '../../../rig/detect/allowed.ts';
import { UsageError } from '../../../rig/core/errors.ts';

const full = defineConfig({
  module: 'src',
  makeArgs: ['EXTRA_CFLAGS=-DDEBUG'],
  moduleParams: { capacity: 64, verbose: true, name: 'box' },
  scenarios: ['a.ts', 'b.ts'],
  programs: ['tests/probe.c', 'tests/run.sh', { name: 'multi', sources: ['x.c', 'y.c'], includes: ['inc'], cflags: ['-Wall'] }, { name: 'data', file: 'd.bin' }],
  images: 'all',
  allowedReports: [{ title: /WARNING in mydev_\w+/, reason: 'known, fixed in 6.6' }, { title: 'hung task', reason: 'slow CI' }],
});

t.strictSame(validateConfig(full, 'p.ts'), full, 'a complete project file passes unchanged');
t.strictSame(validateConfig({}, 'p.ts'), {}, 'every field is optional');

const bad: [unknown, RegExp][] = [
  [[], /p\.ts: the default export must be an object/],
  [undefined, /the default export must be an object/],
  [{ modul: 'x' }, /p\.ts: modul is not a project file field \(fields: module, makeArgs/],
  [{ module: '' }, /module must be a non-empty string/],
  [{ makeArgs: 'A=1' }, /makeArgs must be an array of strings/],
  [{ makeArgs: ['A=1', 7] }, /makeArgs\[1\] must be a non-empty string \(got 7\)/],
  [{ makeArgs: ['M=/x'] }, /makeArgs\[0\] is set by the rig/],
  [{ moduleParams: { 'bad-name': 1 } }, /moduleParams\.bad-name is not a module parameter name/],
  [{ moduleParams: { x: 'a b' } }, /moduleParams\.x must be a number, a boolean or a string without blanks/],
  [{ moduleParams: { x: null } }, /moduleParams\.x must be/],
  [{ scenarios: ['a.ts', ''] }, /scenarios\[1\] must be a non-empty string/],
  [{ images: [1] }, /images\[0\] must be a non-empty string/],
  [{ programs: 'x.c' }, /programs must be an array/],
  [{ programs: [{ sources: ['x.c'] }] }, /programs\[0\]\.name must be a non-empty string/],
  [{ programs: [{ name: 'x', sources: [] }] }, /programs\[0\]\.sources must list one or more \.c files/],
  [{ programs: [{ name: 'x', sources: ['x.cc'] }] }, /programs\[0\]\.sources must list one or more \.c files/],
  [{ programs: [{ name: 'x', file: 'a', sources: ['x.c'] }] }, /programs\[0\] has both file and sources/],
  [{ programs: [{ name: 'x', src: ['x.c'] }] }, /programs\[0\]\.src is not a program field/],
  [{ programs: ['a/x.c', 'b/x.c'] }, /programs\[1\] repeats the command name 'x'/],
  [{ programs: ['sh'] }, /programs\[0\] would replace the guest's own 'sh'/],
  [{ programs: [{ name: 'a b', file: 'x' }] }, /programs\[0\] gives the command name 'a b'/],
  [{ allowedReports: [{ title: 'x' }] }, /allowedReports\[0\]\.reason must be a non-empty string/],
  [{ allowedReports: [{ title: 3, reason: 'r' }] }, /allowedReports\[0\]\.title must be a non-empty string/],
  [{ allowedReports: [{ title: 'x', reason: 'r', why: 1 }] }, /allowedReports\[0\]\.why is not a field/],
];
for (const [config, message] of bad) {
  t.throws(() => validateConfig(config, 'p.ts'), message, String(message));
  try {
    validateConfig(config, 'p.ts');
  } catch (error) {
    t.ok(error instanceof UsageError && error.exitCode === 2 && !error.message.includes('\n'), 'one line, exit 2');
  }
}

t.test('program names and allowed patterns', async (t) => {
  t.equal(programName('tests/mailbox-test.c'), 'mailbox-test');
  t.equal(programName('scripts/stress.sh'), 'stress.sh');
  t.equal(programName({ name: 'm', sources: ['a.c'] }), 'm');
  t.ok(allowedMatches({ title: 'in mydev', reason: 'r' }, 'WARNING in mydev_reset'));
  t.notOk(allowedMatches({ title: 'in other', reason: 'r' }, 'WARNING in mydev_reset'));
  const re = { title: /mydev_\w+/g, reason: 'r' };
  t.ok(allowedMatches(re, 'WARNING in mydev_reset') && allowedMatches(re, 'WARNING in mydev_reset'), 'a /g regex matches every time');
  t.equal(patternText({ title: 'x "y"', reason: '' }), '"x \\"y\\""');
  t.equal(patternText(re), '/mydev_\\w+/g');
});

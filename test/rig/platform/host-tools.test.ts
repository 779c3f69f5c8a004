// Tests the host-tools table, its pure helpers, probing on this host, and ensureTools with a fake apt-get.
import t from 'tap';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { InfraError, MissingToolError } from '../../../rig/core/errors.ts';
import { projectRoot } from '../../../rig/core/paths.ts';
import type { RigEvent } from '../../../rig/core/events.ts';
import { elfWithProgramHeaders as elf } from '../../helpers/elf.ts';
import {
  ALL_NEEDS,
  HOST_TOOLS,
  TEST_SUITE_NEEDS,
  checkTools,
  missingTool,
  toolRow,
  activeNeeds,
  ensureTools,
  expandPath,
  installCommands,
  installForbidden,
  manualInstallCommand,
  missingPackages,
  needsForImages,
  needsFromArg,
  packagesOf,
  parseVersion,
  probeTool,
  requiredTools,
  type CommandRunner,
  type HostTool,
  type ToolCheck,
} from '../../../rig/platform/host-tools.ts';

const row = (name: string): HostTool => {
  const tool = HOST_TOOLS.find((candidate) => candidate.name === name);
  if (!tool) throw new Error(`no row ${name}`);
  return tool;
};

t.test('version patterns read the real outputs of the bookworm tools', async (t) => {
  const samples: Record<string, [string, string]> = {
    'qemu-system-x86_64': ['QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\nCopyright (c) 2003-2022', '7.2.22'],
    'qemu-img': ['qemu-img version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)', '7.2.22'],
    'gcc-12': ['gcc-12 (Debian 12.2.0-14+deb12u1) 12.2.0\nCopyright (C) 2022 Free Software Foundation, Inc.', '12.2.0'],
    make: ['GNU Make 4.3\nBuilt for x86_64-pc-linux-gnu', '4.3'],
    pahole: ['v1.24\n', '1.24'],
    busybox: ['BusyBox v1.35.0 (Debian 1:1.35.0-4+deb12u1+b1) multi-call binary.', '1.35.0'],
    cpio: ['cpio (GNU cpio) 2.13\nCopyright (C) 2017', '2.13'],
    insmod: ['kmod version 30\n+ZSTD +XZ -ZLIB', '30'],
    'dpkg-deb': ["Debian 'dpkg-deb' package archive backend version 1.21.22 (amd64).", '1.21.22'],
    'apt-get': ['apt 2.6.1 (amd64)\nSupported modules:', '2.6.1'],
    xz: ['xz (XZ Utils) 5.4.1\nliblzma 5.4.1', '5.4.1'],
    zstd: ['*** Zstandard CLI (64-bit) v1.5.4, by Yann Collet ***', '1.5.4'],
    readelf: ['GNU readelf (GNU Binutils for Debian) 2.40\nCopyright (C) 2023', '2.40'],
    addr2line: ['GNU addr2line (GNU Binutils for Debian) 2.40', '2.40'],
    debootstrap: ['debootstrap 1.0.128+nmu2+deb12u2', '1.0.128+nmu2+deb12u2'],
    'aarch64-linux-gnu-gcc': ['aarch64-linux-gnu-gcc (Debian 12.2.0-14) 12.2.0\nCopyright', '12.2.0'],
    python3: ['Python 3.11.2', '3.11.2'],
    clang: ['Debian clang version 14.0.6\nTarget: x86_64-pc-linux-gnu', '14.0.6'],
    file: ['file-5.44\nmagic file from /usr/share/misc/magic', '5.44'],
  };
  for (const [name, [output, expected]] of Object.entries(samples)) {
    const probe = row(name).probe;
    if (probe.kind !== 'command' || !probe.version) {
      t.fail(`${name} has no version spec`);
      continue;
    }
    t.equal(parseVersion(output, probe.version.pattern), expected, name);
  }
  t.equal(parseVersion('no digits here', /version\s+(\d\S*)/), undefined, 'no match is undefined');
});

t.test('the table is well formed', async (t) => {
  const names = HOST_TOOLS.map((tool) => tool.name);
  t.equal(new Set(names).size, names.length, 'names are unique');
  for (const tool of HOST_TOOLS) {
    t.ok(tool.neededFor.length > 0, `${tool.name} says why it is needed`);
    t.match(tool.package, /^[a-z0-9][a-z0-9+.-]+$/, `${tool.name} names a Debian package`);
  }
  t.ok(row('busybox').probe.kind === 'command' && (row('busybox').probe as { static?: boolean }).static, 'busybox must be static');
});

t.test('requiredTools picks rows by arch, build roots and dev', async (t) => {
  const names = (needs: Parameters<typeof requiredTools>[0]) => requiredTools(needs).map((tool) => tool.name);
  const x86 = names({ arches: ['x86_64'], buildroots: false });
  t.ok(x86.includes('qemu-system-x86_64'));
  t.ok(x86.includes('busybox'));
  t.ok(x86.includes('gcc-12'));
  t.notOk(x86.includes('qemu-system-aarch64'), 'no arm64 tools for x86_64 only');
  t.notOk(x86.includes('debootstrap'), 'no debootstrap without build roots');
  t.notOk(x86.includes('clang'), 'no dev tools by default');

  const arm = names({ arches: ['arm64'], buildroots: true });
  t.ok(arm.includes('qemu-system-aarch64'));
  t.ok(arm.includes('aarch64-linux-gnu-gcc'));
  t.ok(arm.includes('arm64 libc (static)'));
  t.ok(arm.includes('debootstrap'));
  t.notOk(arm.includes('qemu-system-x86_64'));

  t.equal(requiredTools(ALL_NEEDS).length, HOST_TOOLS.length, 'all needs: every row');
  t.same([...activeNeeds({ arches: [], buildroots: false })], ['core']);
});

t.test('packages are deduplicated in table order', async (t) => {
  const all = packagesOf(requiredTools(ALL_NEEDS));
  t.equal(new Set(all).size, all.length);
  t.equal(all.filter((pkg) => pkg === 'binutils').length, 1, 'addr2line and readelf share binutils');
  for (const pkg of ['qemu-system-x86', 'qemu-system-arm', 'busybox-static', 'musl-tools', 'debootstrap', 'libclang-rt-14-dev']) {
    t.ok(all.includes(pkg), pkg);
  }
  const checks: ToolCheck[] = [
    { name: 'nm', ok: false, package: 'binutils', neededFor: ['core'] },
    { name: 'make', ok: true, package: 'make', neededFor: ['core'] },
    { name: 'readelf', ok: false, package: 'binutils', neededFor: ['core'] },
    { name: 'cpio', ok: false, package: 'cpio', neededFor: ['core'] },
  ];
  t.same(missingPackages(checks), ['binutils', 'cpio']);
  t.same(missingPackages([]), []);
});

t.test('install commands', async (t) => {
  const [update, install] = installCommands(['cpio', 'zstd'], true);
  t.same(update, ['env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', '-o', 'DPkg::Lock::Timeout=300', 'update']);
  t.same(install?.slice(-5), ['install', '-y', '--no-install-recommends', 'cpio', 'zstd']);
  const sudo = installCommands(['cpio'], false);
  for (const argv of sudo) t.same(argv.slice(0, 3), ['sudo', '-n', 'env'], 'non-root goes through sudo -n');
  t.equal(manualInstallCommand(['qemu-system-x86', 'cpio']), 'sudo apt-get install -y qemu-system-x86 cpio');
  t.equal(manualInstallCommand(['cpio'], true), 'apt-get install -y cpio');
  t.ok(installForbidden({ KTEST_RIG_NO_INSTALL: '1' }));
  t.notOk(installForbidden({}));
  t.notOk(installForbidden({ KTEST_RIG_NO_INSTALL: '0' }));
});

t.test('needsForImages', async (t) => {
  const host = { kind: 'host' as const, cc: 'gcc-12' };
  const root = { kind: 'buildroot' as const, cc: 'gcc-14', suite: 'trixie' };
  t.same(needsForImages([{ arch: 'x86_64', toolchain: host }, { arch: 'x86_64', toolchain: host }]), { arches: ['x86_64'], buildroots: false, kernelBuilds: false });
  t.same(needsForImages([{ arch: 'x86_64', toolchain: host }, { arch: 'arm64', toolchain: root }]), { arches: ['x86_64', 'arm64'], buildroots: true, kernelBuilds: false });
  t.same(needsForImages([]), { arches: [], buildroots: false, kernelBuilds: false });
  t.same(needsForImages([{ arch: 'x86_64', toolchain: host, kind: 'built' }]), { arches: ['x86_64'], buildroots: false, kernelBuilds: true }, 'a built image needs the kernel-build tools');
  const kb = requiredTools({ arches: ['x86_64'], buildroots: false, kernelBuilds: true }).map((x) => x.package);
  for (const pkg of ['flex', 'bison', 'bc', 'lz4', 'libelf-dev']) t.ok(kb.includes(pkg), `kernel builds need ${pkg}`);
  t.notOk(requiredTools({ arches: ['x86_64'], buildroots: false }).some((x) => x.package === 'flex'), 'stock images do not');
});

t.test('needsFromArg', async (t) => {
  t.equal(needsFromArg('all'), ALL_NEEDS);
  t.equal(needsFromArg(undefined), ALL_NEEDS);
  t.same(needsFromArg('x86_64,buildroots'), { arches: ['x86_64'], buildroots: true, kernelBuilds: false, coverage: false, dev: false });
  t.same(needsFromArg('x86_64,kernelbuild'), { arches: ['x86_64'], buildroots: false, kernelBuilds: true, coverage: false, dev: false });
  t.same(needsFromArg('x86_64,coverage'), { arches: ['x86_64'], buildroots: false, kernelBuilds: false, coverage: true, dev: false });
  t.throws(() => needsFromArg('x86_64,sparc'), /unknown need sparc/);
});

t.test('run --coverage needs gcov and genhtml; npm test installs lcov too', async (t) => {
  const plain = requiredTools({ arches: ['x86_64'], buildroots: false, kernelBuilds: true }).map((x) => x.name);
  const cov = requiredTools({ arches: ['x86_64'], buildroots: false, kernelBuilds: true, coverage: true }).map((x) => x.name);
  t.notOk(plain.includes('genhtml'), 'a run without --coverage does not need lcov');
  for (const name of ['gcov-12', 'genhtml']) t.ok(cov.includes(name), `--coverage needs ${name}`);
  const suite = packagesOf(requiredTools(TEST_SUITE_NEEDS));
  t.ok(suite.includes('lcov'), 'npm test installs lcov');
});

t.test('probing this host', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'host-tools-test-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const noDpkg: CommandRunner = async () => ({ exitCode: 1, stdout: '', stderr: '' });
  const env = { PATH: `${dir}:${process.env.PATH ?? ''}` };

  const node = await probeTool(
    { name: 'node', package: 'nodejs', neededFor: ['core'], purpose: 'test', probe: { kind: 'command', command: 'node', version: { args: ['--version'], pattern: /v(\S+)/ } } },
    { env: process.env },
  );
  t.equal(node.ok, true);
  t.equal(node.version, process.versions.node, 'version comes from running the tool');

  const absent = await probeTool(
    { name: 'nope', package: 'nope-pkg', neededFor: ['core'], purpose: 'test', probe: { kind: 'command', command: 'ktest-rig-no-such-tool' } },
    { env, runner: noDpkg },
  );
  t.equal(absent.ok, false);
  t.match(absent.problem, /not on PATH/);

  await writeFile(join(dir, 'static-tool'), elf([1, 1]));
  await chmod(join(dir, 'static-tool'), 0o755);
  const staticTool: HostTool = { name: 's', package: 's-pkg', neededFor: ['core'], purpose: 'test', probe: { kind: 'command', command: 'static-tool', static: true } };
  const staticOk = await probeTool(staticTool, { env, runner: noDpkg });
  t.equal(staticOk.ok, true, 'a static ELF passes');
  t.equal(staticOk.version, undefined, 'no version when neither the tool nor dpkg tells');

  const dynamicTool: HostTool = { ...staticTool, probe: { kind: 'command', command: process.execPath, static: true } };
  const dynamic = await probeTool(dynamicTool, { env, runner: noDpkg });
  t.equal(dynamic.ok, false, 'node is dynamically linked');
  t.match(dynamic.problem, /dynamically linked/);

  await mkdir(join(dir, 'llvm-14', 'lib'), { recursive: true });
  await writeFile(join(dir, 'llvm-14', 'lib', 'rt.a'), '');
  t.same(await expandPath(join(dir, 'llvm-*', 'lib', 'rt.a')), [join(dir, 'llvm-14', 'lib', 'rt.a')]);
  t.same(await expandPath(join(dir, 'clang-*', 'lib', 'rt.a')), []);
  const fileTool: HostTool = { name: 'f', package: 'f-pkg', neededFor: ['core'], purpose: 'test', probe: { kind: 'file', paths: [join(dir, 'missing'), join(dir, 'llvm-*', 'lib', 'rt.a')] } };
  const dpkgSays: CommandRunner = async (file, args) =>
    file === 'dpkg-query' && args.includes('f-pkg') ? { exitCode: 0, stdout: '1:14.0.6-12\n1:14.0.6-11\n', stderr: '' } : { exitCode: 1, stdout: '', stderr: '' };
  t.same(await probeTool(fileTool, { env, runner: dpkgSays }), { name: 'f', package: 'f-pkg', neededFor: ['core'], purpose: 'test', ok: true, version: '1:14.0.6-12' });
  const gone = await probeTool({ ...fileTool, probe: { kind: 'file', paths: [join(dir, 'missing')] } }, { env, runner: noDpkg });
  t.equal(gone.ok, false);
});

t.test('ensureTools installs with apt-get or says what to run', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'host-tools-ensure-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const marker = join(dir, 'installed');
  const tools: HostTool[] = [
    { name: 'widget', package: 'widget-pkg', neededFor: ['core'], purpose: 'test', probe: { kind: 'file', paths: [marker] } },
    { name: 'gadget', package: 'widget-pkg', neededFor: ['arm64'], purpose: 'test', probe: { kind: 'file', paths: [marker] } },
  ];
  const needs = { arches: ['x86_64' as const], buildroots: false };

  function fakeHost(opts: { sudo: boolean; aptFails?: boolean; updateFails?: boolean; installWorks?: boolean }) {
    const calls: string[][] = [];
    const runner: CommandRunner = async (file, args) => {
      const argv = [file, ...args];
      if (file === 'dpkg-query') return { exitCode: 1, stdout: '', stderr: '' };
      calls.push(argv);
      if (file === 'sudo' && args.join(' ') === '-n true') return { exitCode: opts.sudo ? 0 : 1, stdout: '', stderr: 'a password is required' };
      if (argv.includes('update') && opts.updateFails) return { exitCode: 100, stdout: '', stderr: 'E: The repository ppa:foo does not have a Release file' };
      if (argv.includes('install')) {
        if (opts.aptFails) return { exitCode: 100, stdout: '', stderr: 'E: Unable to locate package widget-pkg' };
        if (opts.installWorks !== false) await writeFile(marker, '');
      }
      return { exitCode: 0, stdout: '', stderr: '' };
    };
    return { calls, runner };
  }

  await t.test('forbidden by KTEST_RIG_NO_INSTALL', async (t) => {
    const host = fakeHost({ sudo: true });
    const error = await ensureTools(needs, { tools, runner: host.runner, env: { KTEST_RIG_NO_INSTALL: '1' }, asRoot: true }).catch((e: unknown) => e);
    t.type(error, MissingToolError);
    const missing = error as MissingToolError;
    t.same(missing.tools, ['widget'], 'only tools these needs require');
    t.equal(missing.installCommand, 'apt-get install -y widget-pkg');
    t.equal(missing.exitCode, 3);
    t.match(missing.message, /KTEST_RIG_NO_INSTALL/);
    t.same(host.calls, [], 'nothing ran');
  });

  await t.test('no root and no passwordless sudo', async (t) => {
    const host = fakeHost({ sudo: false });
    const error = await ensureTools(needs, { tools, runner: host.runner, env: {}, asRoot: false }).catch((e: unknown) => e);
    t.type(error, MissingToolError);
    t.equal((error as MissingToolError).hint, 'run: sudo apt-get install -y widget-pkg');
    t.same(host.calls, [['sudo', '-n', 'true']]);
  });

  await t.test('allowInstall false', async (t) => {
    const host = fakeHost({ sudo: true });
    await t.rejects(ensureTools(needs, { tools, runner: host.runner, env: {}, asRoot: true, allowInstall: false }), MissingToolError);
    t.same(host.calls, []);
  });

  await t.test('apt-get fails', async (t) => {
    const host = fakeHost({ sudo: false, aptFails: true });
    const error = await ensureTools(needs, { tools, runner: host.runner, env: {}, asRoot: true }).catch((e: unknown) => e);
    t.type(error, InfraError);
    t.notOk(error instanceof MissingToolError);
    t.match((error as InfraError).message, /Unable to locate package widget-pkg/);
    t.ok((error as InfraError).cause, 'keeps its cause');
  });

  await t.test('apt-get update fails: install anyway, with a warning', async (t) => {
    const host = fakeHost({ sudo: false, updateFails: true, aptFails: true });
    const events: RigEvent[] = [];
    const error = await ensureTools(needs, { tools, runner: host.runner, env: {}, asRoot: true, onEvent: (e) => events.push(e) }).catch((e: unknown) => e);
    t.equal(host.calls.length, 2, 'update, then install');
    t.match((error as Error).message, /apt-get install failed.*Unable to locate/);
    t.ok(events.some((e) => e.type === 'log' && e.level === 'warn' && /Release file/.test(e.message)));
  });

  await t.test('installed, but the check still fails', async (t) => {
    const host = fakeHost({ sudo: false, installWorks: false });
    await t.rejects(ensureTools(needs, { tools, runner: host.runner, env: {}, asRoot: true }), MissingToolError);
  });

  await t.test('installs through sudo, then passes', async (t) => {
    const host = fakeHost({ sudo: true });
    const events: RigEvent[] = [];
    const checks = await ensureTools(needs, { tools, runner: host.runner, env: {}, asRoot: false, onEvent: (e) => events.push(e) });
    t.same(checks.map((c) => [c.name, c.ok]), [['widget', true]]);
    t.same(host.calls[0], ['sudo', '-n', 'true']);
    t.match(host.calls[1], ['sudo', '-n', 'env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get']);
    t.equal(host.calls[1]?.at(-1), 'update');
    t.same(host.calls[2]?.slice(-2), ['--no-install-recommends', 'widget-pkg']);
    t.ok(events.some((e) => e.type === 'stage' && e.stage === 'tools' && /installing widget-pkg/.test(e.message)));

    const again = fakeHost({ sudo: true });
    await ensureTools(needs, { tools, runner: again.runner, env: {}, asRoot: false });
    t.same(again.calls, [], 'nothing to do once installed');
  });
});

t.test('command line: the package list that .ci/run and the workflow install', async (t) => {
  const cli = (...args: string[]) =>
    execa(process.execPath, ['--import', 'tsx', join(projectRoot, 'rig', 'platform', 'host-tools.ts'), ...args], { reject: false, cwd: projectRoot });
  const x86 = await cli('--packages', 'x86_64,buildroots');
  t.equal(x86.exitCode, 0);
  const listed = x86.stdout.split('\n');
  t.same(listed, packagesOf(requiredTools({ arches: ['x86_64'], buildroots: true })), 'one package a line, the table order');
  t.ok(listed.includes('debootstrap'));
  t.notOk(listed.includes('qemu-system-arm'));
  const all = await cli('--packages', 'all');
  t.same(all.stdout.split('\n'), packagesOf(HOST_TOOLS));
  const bad = await cli('--packages', 'sparc');
  t.equal(bad.exitCode, 2);
  t.match(bad.stderr, /unknown need sparc/);
  t.equal((await cli('--frobnicate')).exitCode, 2);
});

t.test('.ci/run takes its packages from the table, not from a copy', async (t) => {
  const script = await readFile(join(projectRoot, '.ci', 'run'), 'utf8');
  t.match(script, /rig\/platform\/host-tools\.ts --packages all/);
  for (const pkg of ['qemu-system-x86', 'busybox-static', 'musl-tools', 'libclang-rt-14-dev']) {
    t.notOk(script.includes(pkg), `${pkg} is not listed in .ci/run`);
  }
  const syntax = await execa('bash', ['-n', join(projectRoot, '.ci', 'run')], { reject: false });
  t.equal(syntax.exitCode, 0, syntax.stderr);
});

t.test('a bare machine: the test suite resolves every tool as missing and plans to install every package', async (t) => {
  // An empty PATH and an empty directory standing for `/`: nothing of this machine is removed or hidden.
  const bare = await mkdtemp(join(tmpdir(), 'host-tools-bare-'));
  t.teardown(() => rm(bare, { recursive: true, force: true }));
  const calls: string[][] = [];
  const runner: CommandRunner = async (file, args) => {
    calls.push([file, ...args]);
    // dpkg-query knows nothing; sudo is absent; apt-get "succeeds" but installs nothing (recorded, never run).
    return { exitCode: file === 'dpkg-query' || file === 'sudo' ? 1 : 0, stdout: '', stderr: '' };
  };
  const probe = { env: { PATH: join(bare, 'bin') }, root: bare, runner };
  const checks = await checkTools(TEST_SUITE_NEEDS, probe);
  t.same(checks.filter((c) => c.ok).map((c) => c.name), [], 'no tool is found on a bare machine');
  const plan = missingPackages(checks);
  t.same(plan, packagesOf(requiredTools(TEST_SUITE_NEEDS)), 'the plan is every package the table lists for the test suite');
  for (const pkg of ['qemu-system-x86', 'qemu-system-arm', 'gcc-aarch64-linux-gnu', 'binutils-aarch64-linux-gnu', 'libc6-dev-arm64-cross', 'clang', 'libclang-rt-14-dev', 'debootstrap', 'musl-tools', 'busybox-static', 'cpio', 'procps']) {
    t.ok(plan.includes(pkg), `the plan installs ${pkg}`);
  }
  t.comment(`npm test on a bare machine installs: ${plan.join(' ')}`);

  // As root: apt-get update, then one install of the whole plan (recorded by the fake runner, not run).
  const asRoot = await ensureTools(TEST_SUITE_NEEDS, { ...probe, asRoot: true }).catch((e: unknown) => e);
  const apt = calls.filter((argv) => argv.includes('apt-get'));
  t.same(apt, installCommands(plan, true), 'the apt-get commands it would run');
  t.type(asRoot, MissingToolError, 'the fake install installs nothing, so the re-check still fails');

  // Neither root nor passwordless sudo: exit code 3 and the exact command to run.
  const refused = await ensureTools(TEST_SUITE_NEEDS, { ...probe, asRoot: false }).catch((e: unknown) => e);
  t.type(refused, MissingToolError);
  t.equal((refused as MissingToolError).exitCode, 3);
  t.equal((refused as MissingToolError).hint, `run: sudo apt-get install -y ${plan.join(' ')}`);
});

t.test('npm test ensures the test suite tools first (pretest), with the rig rules: exit 3 and the command when it may not install', async (t) => {
  const pkg = JSON.parse(await readFile(join(projectRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  t.equal(pkg.scripts.pretest, 'tsx rig/platform/host-tools.ts --ensure test', 'npm runs pretest before test');
  t.same(needsFromArg('test'), TEST_SUITE_NEEDS);
  // A PATH holding only node: the commands resolve as missing; installing is forbidden for this run.
  const bin = await mkdtemp(join(tmpdir(), 'host-tools-path-'));
  t.teardown(() => rm(bin, { recursive: true, force: true }));
  await symlink(process.execPath, join(bin, 'node'));
  const r = await execa(join(bin, 'node'), ['--import', 'tsx', join(projectRoot, 'rig', 'platform', 'host-tools.ts'), '--ensure', 'test'], {
    reject: false,
    cwd: projectRoot,
    extendEnv: false,
    env: { PATH: bin, HOME: process.env.HOME ?? '/root', KTEST_RIG_NO_INSTALL: '1' },
  });
  t.equal(r.exitCode, 3, 'infrastructure exit code', { stderr: r.stderr });
  t.match(r.stderr, /^error: missing host tools: .*aarch64-linux-gnu-gcc.*clang/m);
  t.match(r.stderr, /hint: run: (sudo )?apt-get install -y .*gcc-aarch64-linux-gnu.*clang/);
});

t.test('every command the tests and the rig spawn is a row of the table or part of a Debian base system', async (t) => {
  const essential = new Set(['node', 'npm', 'npx', 'sh', 'bash', 'tar', 'du', 'dpkg', 'dpkg-query', 'apt-config', 'unshare', 'sudo', 'id', 'true', 'mount', 'umount', 'env', 'cat', 'chroot']);
  const known = new Set(HOST_TOOLS.flatMap((tool) => (tool.probe.kind === 'command' ? [tool.probe.command] : [])));
  const aliases: Record<string, string> = { cc: 'gcc', modinfo: 'insmod', objcopy: 'readelf', strip: 'readelf', nm: 'readelf' };
  const files = (await Promise.all(['test', 'rig'].map(async (top) => (await readdir(join(projectRoot, top), { recursive: true })).map((f) => join(top, f)))))
    .flat()
    .filter((f) => f.endsWith('.ts') && !f.startsWith('test/fixtures/'));
  const spawned = new Set<string>();
  for (const file of files) {
    const text = await readFile(join(projectRoot, file), 'utf8');
    for (const m of text.matchAll(/\b(?:execa|spawnSync|spawn|execFileSync|execFile|run)\(\s*'([a-z][a-z0-9_.+-]*)'/g)) spawned.add(m[1]!);
  }
  const unknown = [...spawned].filter((c) => !known.has(c) && !essential.has(c) && !known.has(aliases[c] ?? '') && !/^(a|b|bookworm|trixie|sid|bullseye)(-|$)/.test(c));
  t.same(unknown, [], 'a command a test needs is a host-tools row (so npm test installs it)');
});

t.test('install hints come from the table: no hand-written apt-get line, every missingTool() name is a row', async (t) => {
  const files = (await readdir(join(projectRoot, 'rig'), { recursive: true })).filter((f) => f.endsWith('.ts')).map((f) => join('rig', f));
  for (const file of files) {
    const text = await readFile(join(projectRoot, file), 'utf8');
    if (file !== join('rig', 'platform', 'host-tools.ts')) t.notMatch(text, /apt-get install/, `${file} writes no install command of its own`);
    for (const m of text.matchAll(/missingTool\(\s*'([^']+)'/g)) t.ok(toolRow(m[1]!), `${file}: missingTool('${m[1]}') is a row`);
  }
  const e = missingTool('qemu-system-aarch64', { cause: new Error('x') });
  t.match(e.hint, /apt-get install -y qemu-system-arm$/);
  t.match(missingTool('busybox', { label: 'busybox (static)' }).message, /busybox \(static\)/);
});

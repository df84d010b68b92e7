/**
 * The `segw` command as a new operator meets it: installed on PATH by scripts/install.sh (as the
 * README says), `--help` and `--version` on every command (stdout, exit 0), and usage mistakes
 * answered with the usage on stderr and exit 2.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const REPO = resolve(import.meta.dirname, '..', '..');
const VERSION = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
const COMMANDS = ['gateway', 'basestation', 'ctl', 'demo', 'version'];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  return new Promise((res) => {
    execFile(file, args, { cwd: opts.cwd ?? REPO, env: { ...process.env, NODE_TEST_CONTEXT: undefined, ...opts.env }, timeout: 30_000 }, (err, stdout, stderr) =>
      res({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const segw = (args: string[]) => run(process.execPath, [join(REPO, 'bin/segw.mjs'), ...args]);

let prefix: string;
before(() => {
  prefix = mkdtempSync(join(tmpdir(), 'segw-install-'));
});
after(() => rmSync(prefix, { recursive: true, force: true }));

test('scripts/install.sh puts `segw` on PATH: it runs from any directory, and --uninstall removes it', async () => {
  const inst = await run('sh', [join(REPO, 'scripts/install.sh'), '--prefix', prefix]);
  assert.equal(inst.code, 0, inst.stderr);
  const env = { PATH: `${join(prefix, 'bin')}:/usr/bin:/bin` };
  const v = await run('segw', ['--version'], { cwd: '/', env });
  assert.equal(v.code, 0, v.stderr);
  assert.match(v.stdout, new RegExp(`^segw ${VERSION.replace(/\./g, '\\.')} \\(node v`));
  // The README's first command, from another directory.
  const check = await run('segw', ['gateway', '--config', join(REPO, 'examples/gateway-psk.yaml'), '--check'], { cwd: '/', env });
  assert.equal(check.code, 0, check.stderr);
  assert.match(check.stdout, /configuration OK$/m);
  const un = await run('sh', [join(REPO, 'scripts/install.sh'), '--prefix', prefix, '--uninstall']);
  assert.equal(un.code, 0, un.stderr);
  assert.equal(existsSync(join(prefix, 'bin', 'segw')), false);
});

test('--help on segw and on every command: usage on stdout, exit 0', async () => {
  const runs = await Promise.all([segw(['--help']), ...COMMANDS.map((c) => segw([c, '--help']))]);
  const [main, ...cmds] = runs;
  assert.equal(main!.code, 0, main!.stderr);
  assert.match(main!.stdout, /^usage: segw COMMAND/);
  for (const c of COMMANDS) assert.match(main!.stdout, new RegExp(`^  ${c} `, 'm'), `segw --help lists ${c}`);
  cmds.forEach((r, i) => {
    assert.equal(r.code, 0, `${COMMANDS[i]} --help: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^usage: segw ${COMMANDS[i]}`), COMMANDS[i]);
    assert.match(r.stdout, /-h, --help/);
    assert.equal(r.stderr, '');
  });
});

test('--version on segw and on a command: the version on stdout, exit 0', async () => {
  const runs = await Promise.all([segw(['--version']), segw(['gateway', '--version']), segw(['ctl', '--version'])]);
  for (const r of runs) {
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^segw ${VERSION.replace(/\./g, '\\.')} `));
  }
});

test('usage mistakes: the reason and the usage on stderr, nothing on stdout, exit 2', async () => {
  const cases: [string[], RegExp][] = [
    [[], /a command is needed\nusage: segw COMMAND/],
    [['frobnicate'], /unknown command "frobnicate"\nusage: segw COMMAND/],
    [['--frob'], /unknown option "--frob"/],
    [['gateway', '--frob'], /^segw gateway: Unknown option '--frob'\nusage: segw gateway --config FILE\.yaml/],
    [['gateway'], /^segw gateway: --config FILE\.yaml is needed\nusage: segw gateway/],
    [['basestation', '--check'], /^segw basestation: --config FILE\.yaml is needed\nusage: segw basestation/],
    [['ctl', '--frob', 'status'], /^segw ctl: Unknown option '--frob'.*\nusage: segw ctl/],
    [['demo', '--frob'], /^segw demo: Unknown option '--frob'\nusage: segw demo/],
    [['version', 'extra'], /^segw version: .*\nusage: segw version/],
  ];
  const runs = await Promise.all(cases.map(([args]) => segw(args)));
  runs.forEach((r, i) => {
    const [args, re] = cases[i]!;
    assert.equal(r.code, 2, `segw ${args.join(' ')}: exit ${r.code}`);
    assert.equal(r.stdout, '', `segw ${args.join(' ')}: stdout`);
    assert.match(r.stderr, re, `segw ${args.join(' ')}`);
  });
});

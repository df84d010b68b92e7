#!/usr/bin/env node
// segw test runner: node:test through tsx over an explicit file list.
//
//   npm test                      every test/**/*.test.ts
//   npm test -- test/ike          every test file under a directory
//   npm test -- test/ike/codec.test.ts test/lab/lab.test.ts
//
// Node 20 does not discover .ts files by itself, and `node --test` with no files passes
// silently; this runner lists the files, counts what actually ran with a reporter of its own,
// and fails when no test ran, when a file could not be loaded, or when any test failed.
import { readdirSync, statSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { spawn } from 'node:child_process';

const root = resolve(import.meta.dirname, '..');

function collect(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return [path];
  return readdirSync(path).sort().flatMap((name) => {
    const p = join(path, name);
    if (statSync(p).isDirectory()) return collect(p);
    return name.endsWith('.test.ts') ? [p] : [];
  });
}

const args = process.argv.slice(2);
const targets = args.length ? args : ['test'];
const files = targets.flatMap((t) => collect(resolve(t))).map((f) => relative(root, f));
if (files.length === 0) {
  console.error(`run-tests: no test files under ${targets.join(' ')}`);
  process.exit(1);
}

const outDir = mkdtempSync(join(tmpdir(), 'segw-tests-'));
const summaryFile = join(outDir, 'summary.json');
const concurrency = process.env.SEGW_TEST_CONCURRENCY ?? '2';
const nodeArgs = [
  '--import', 'tsx',
  '--test',
  // A test that times out leaves its promise (and maybe processes) behind; without this the
  // file's process would wait for them. Exit runs the lab's teardown (src/lab/lab.ts).
  '--test-force-exit',
  `--test-concurrency=${concurrency}`,
  '--test-reporter=spec', '--test-reporter-destination=stdout',
  `--test-reporter=${join(root, 'scripts', 'count-reporter.mjs')}`, '--test-reporter-destination=/dev/null',
  ...files,
];
console.log(`run-tests: ${files.length} files, concurrency ${concurrency}`);
const started = Date.now();
const child = spawn(process.execPath, nodeArgs, {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, SEGW_TEST_SUMMARY: summaryFile },
});
const forward = (sig) => child.kill(sig);
process.on('SIGINT', forward);
process.on('SIGTERM', forward);
child.on('exit', (code, signal) => {
  let s;
  try {
    s = JSON.parse(readFileSync(summaryFile, 'utf8'));
  } catch {
    s = null;
  }
  rmSync(outDir, { recursive: true, force: true });
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  if (!s) {
    console.error(`run-tests: the test process ended (${signal ?? code}) without a summary`);
    process.exit(1);
  }
  console.log(`run-tests: ${s.pass} passed, ${s.fail} failed, ${s.skip} skipped, ${s.todo} todo ` +
    `in ${s.files} files, ${secs} s`);
  if (s.pass + s.fail === 0) {
    console.error('run-tests: zero tests ran: that is a failure, not a pass');
    process.exit(1);
  }
  if (s.empty.length > 0) {
    console.error(`run-tests: these files ran no test: ${s.empty.join(', ')}`);
    process.exit(1);
  }
  if (s.fail > 0 || code !== 0) process.exit(code || 1);
});

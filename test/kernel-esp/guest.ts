/**
 * Host side of the kernel-ESP tests: boots one user-mode-linux guest per test file
 * (scripts/uml-run), runs a list of guest scenarios in it (./guest/main.ts) and hands each
 * scenario's result to one node:test test, so every guest scenario counts in the host's run.
 *
 *   guestSuite('gateway.ts', { 'xfrm-psk': (ev) => assert.equal(ev.dataPlane, 'xfrm') });
 *
 * When the guest cannot boot here (no user-mode-linux, not root...), each test is skipped with
 * the runner's reason; with SEGW_REQUIRE_UML=1 (set by .ci/run) or CI=true that is a failure
 * instead, so CI can never pass without running them.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execFile } from 'node:child_process';
import { RESULT_PREFIX, type GuestResult } from './guest/scenario.js';
import { eventually } from '../support/eventually.js';

const REPO = resolve(import.meta.dirname, '..', '..');
/** scripts/uml-run's exit code for "this machine cannot boot the guest". */
const UML_SKIP = 77;

export interface GuestRun {
  /** Why the guest could not boot, when it could not. */
  skipped?: string;
  code: number;
  results: Map<string, GuestResult>;
  stdout: string;
  stderr: string;
}

/**
 * Must the guest tests run (a guest that cannot boot is then a failure, not a skip)? Yes under
 * SEGW_REQUIRE_UML=1 (.ci/run) and in CI (CI=true) unless SEGW_REQUIRE_UML=0 says otherwise.
 */
export function umlRequired(): boolean {
  const v = process.env.SEGW_REQUIRE_UML;
  return v === '1' || (v !== '0' && process.env.CI === 'true');
}

/**
 * One guest at a time on this machine. The guest is a single process with one virtual CPU; two
 * of them side by side (the runner starts test files two at a time) each got about half a core,
 * and the cluster scenario's members then stalled for seconds: VRRP split brain, a setup the
 * base station gave up on (CI, 2026-12-05). The lock is a directory holding its owner's pid; one
 * whose owner is gone is taken over.
 */
const GUEST_LOCK = join(tmpdir(), 'segw-uml-guest.lock');
/** The longest a test file waits for the other guests (the four files' guests take ~4 min together). */
export const GUEST_LOCK_WAIT_MS = 15 * 60_000;

function tryLock(): boolean {
  try {
    mkdirSync(GUEST_LOCK);
  } catch {
    let owner = 0;
    try {
      owner = Number(readFileSync(join(GUEST_LOCK, 'pid'), 'utf8'));
    } catch {
      return false; // just made, its pid not written yet
    }
    if (owner > 0 && isAlive(owner)) return false;
    rmSync(GUEST_LOCK, { recursive: true, force: true });
    return tryLock();
  }
  writeFileSync(join(GUEST_LOCK, 'pid'), String(process.pid));
  return true;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function withGuestLock<T>(fn: () => Promise<T>): Promise<T> {
  await eventually(() => tryLock(), { what: 'the other user-mode-linux guest to finish', timeoutMs: GUEST_LOCK_WAIT_MS, intervalMs: 500 });
  try {
    return await fn();
  } finally {
    rmSync(GUEST_LOCK, { recursive: true, force: true });
  }
}

/** Boots the guest once (one at a time) and runs `names` of the scenario module `module` (under ./guest) in it. */
export async function runGuest(module: string, names: string[], opts: { timeoutS: number; mem?: string }): Promise<GuestRun> {
  const args = ['--build', '--timeout', String(opts.timeoutS), '--mem', opts.mem ?? '512M', '--env', 'SEGW_LAB_DIST=1', '--',
    process.execPath, '--import', 'tsx', 'test/kernel-esp/guest/main.ts', `./${module}`, ...names];
  const r = await withGuestLock(() => umlRun(args, (opts.timeoutS + 120) * 1000));
  const results = new Map<string, GuestResult>();
  for (const line of r.stdout.split('\n')) {
    if (!line.startsWith(`${RESULT_PREFIX} `)) continue;
    const res = JSON.parse(line.slice(RESULT_PREFIX.length + 1)) as GuestResult;
    results.set(res.name, res);
  }
  const skipped = r.code === UML_SKIP ? (/uml-run: skip: (.*)/.exec(r.stderr)?.[1] ?? 'the guest cannot boot') : undefined;
  return { skipped, code: r.code, results, stdout: r.stdout, stderr: r.stderr };
}

/**
 * scripts/uml-run from the repository root (the guest's working directory), bounded: on a
 * timeout the runner gets SIGTERM, which kills its guest and removes its files.
 */
function umlRun(args: string[], timeoutMs: number): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(resolve(REPO, 'scripts/uml-run'), args, { cwd: REPO, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      done({ code, stdout: String(stdout), stderr: String(stderr) + (err?.killed ? `\numl-run killed after ${timeoutMs} ms` : '') });
    });
  });
}

/** What the host checks again on a scenario's evidence (it passed in the guest already). */
export type EvidenceCheck = (evidence: Record<string, unknown>) => void;

/**
 * Declares one host test per scenario of `module`, all fed by one guest boot in `before`.
 * A scenario's test fails with its guest error and evidence; passes only when the guest
 * reported it passed and the host's own check of its evidence holds. Returns the run (once
 * `before` finished), for further host tests on the same evidence.
 */
export function guestSuite(module: string, checks: Record<string, EvidenceCheck>, opts: { timeoutS: number; mem?: string }): () => GuestRun | undefined {
  const names = Object.keys(checks);
  let guest: GuestRun | undefined;
  before(async () => {
    guest = await runGuest(module, names, opts);
  }, { timeout: (opts.timeoutS + 180) * 1000 + GUEST_LOCK_WAIT_MS });
  for (const name of names) {
    test(`guest (user-mode-linux, kernel ESP): ${module.replace(/\.ts$/, '')} ${name}`, (t) => {
      assert.ok(guest, 'the guest run finished');
      if (guest.skipped) {
        if (umlRequired()) {
          assert.fail(`the user-mode-linux guest must run here (SEGW_REQUIRE_UML=1 or CI=true) but cannot: ${guest.skipped}`);
        }
        t.skip(guest.skipped);
        return;
      }
      const r = guest.results.get(name);
      if (!r) {
        assert.fail(`the guest reported nothing for ${name} (exit ${guest.code});\nstdout tail:\n${guest.stdout.slice(-3000)}\nstderr tail:\n${guest.stderr.slice(-3000)}`);
      }
      t.diagnostic(`${name}: ${(r.ms / 1000).toFixed(1)} s in the guest`);
      if (!r.ok) assert.fail(`${name} failed in the guest:\n${r.error}\nevidence: ${JSON.stringify(r.evidence, null, 1).slice(0, 6000)}`);
      checks[name]!(r.evidence);
    });
  }
  return () => guest;
}

/**
 * scripts/uml-run, the user-mode-linux guest runner: exit code, stdout and stderr of the guest's
 * command reach the host; a guest past its time is killed (exit 124); a machine that cannot boot
 * the guest gets exit 77 with the reason ("skip"); nothing is left in the RAM directory.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { umlRequired } from './guest.js';

const REPO = resolve(import.meta.dirname, '..', '..');

/** True when the runner said the guest cannot boot here: the test is then skipped (failed under SEGW_REQUIRE_UML=1). */
function cannotBoot(t: TestContext, r: { code: number; stderr: string }): boolean {
  if (r.code !== 77) return false;
  const why = /uml-run: skip: (.*)/.exec(r.stderr)?.[1] ?? 'no reason given';
  assert.ok(!umlRequired(), `the guest must run here (SEGW_REQUIRE_UML=1 or CI=true) but cannot boot: ${why}`);
  t.skip(why);
  return true;
}

function umlRun(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(resolve(REPO, 'scripts/uml-run'), args, { cwd: REPO, timeout: 120_000, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      done({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** Runs `fn` with a private RAM parent directory and asserts the runner left it empty. */
async function inRamDir<T>(fn: (env: NodeJS.ProcessEnv) => Promise<T>): Promise<T> {
  const dir = mkdtempSync('/dev/shm/segw-uml-test.');
  try {
    const r = await fn({ SEGW_UML_RAM_PARENT: dir });
    assert.deepEqual(readdirSync(dir), [], 'the guest RAM directory is removed');
    return r;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('uml-run: the guest command runs as root in a kernel with ESP; its exit code and output reach the host', { timeout: 120_000 }, async (t) => {
  const r = await inRamDir((env) =>
    umlRun(['--', 'sh', '-c', 'id -u; pwd; ip xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x100 aead "rfc4106(gcm(aes))" 0x0101010101010101010101010101010101010101 128 mode tunnel && ip xfrm state | head -2; echo to-stderr >&2; exit 3'], env),
  );
  if (cannotBoot(t, r)) return;
  assert.equal(r.code, 3, r.stderr);
  assert.deepEqual(r.stdout.split('\n').slice(0, 4), ['0', REPO, 'src 192.0.2.1 dst 192.0.2.2', '\tproto esp spi 0x00000100 reqid 0 mode tunnel']);
  assert.match(r.stderr, /^to-stderr$/m);
});

test('uml-run: a guest past --timeout is killed (exit 124), with the output it had', { timeout: 120_000 }, async (t) => {
  const r = await inRamDir((env) => umlRun(['--timeout', '15', '--', 'sh', '-c', 'echo started; sleep 600'], env));
  if (cannotBoot(t, r)) return;
  assert.equal(r.code, 124);
  assert.match(r.stdout, /^started$/m);
  assert.match(r.stderr, /did not finish in 15 s: killed/);
});

test('uml-run: a machine that cannot boot the guest gets exit 77 and the reason', async () => {
  const r = await umlRun(['--', 'true'], { SEGW_UML_KERNEL: '/nonexistent/linux.uml' });
  assert.equal(r.code, 77);
  assert.match(r.stderr, /uml-run: skip: \/nonexistent\/linux\.uml not found/);
});

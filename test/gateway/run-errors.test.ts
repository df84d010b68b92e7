/**
 * Configs that used to pass `--check` and then crash `segw gateway`: each is now caught by
 * `--check` or, at run time, reported in one line naming the key (no stack trace, no hang).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ControlClient } from '../../src/control/client.js';
import { startLogging } from '../../src/gateway/run.js';
import { eventually } from '../support/eventually.js';
import { freePorts, GatewayProcess, loopbackConfig } from './daemon.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'segw-run-errors-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const CONNECTIONS = {
  bs: {
    local: { id: 'gw.example.net', auth: 'psk' },
    remote: { auth: 'psk' },
    psk: 'secret-0123456789',
    ikeProposals: 'aes128gcm16-prfsha256-ecp256',
    children: { lte: { localTs: '203.0.113.0/24', remoteTs: 'dynamic', espProposals: 'aes128gcm16' } },
  },
};

/** Runs `segw gateway` (with or without --check) to its exit. */
async function runToExit(config: Record<string, unknown>, args: string[]): Promise<GatewayProcess> {
  const sub = mkdtempSync(join(dir, 'case-'));
  const gw = GatewayProcess.spawn(sub, config, args);
  try {
    await eventually(() => !gw.running, { what: 'segw gateway to exit', timeoutMs: 20_000 });
    await gw.exited;
    return gw;
  } finally {
    await gw.destroy();
  }
}

function assertOneLine(gw: GatewayProcess, re: RegExp, what: string): void {
  assert.equal(gw.exitCode, 2, `${what}: exit ${gw.exitCode} ${gw.stderr}`);
  const lines = gw.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `${what}: one line, got:\n${gw.stderr}`);
  assert.match(lines[0]!, re, what);
  assert.doesNotMatch(gw.stderr, /\n\s+at |unexpected failure/, what);
}

test('log.file in a missing directory, a directory, /proc/version; control.socket under /dev/null: one line naming the key, with and without --check', async () => {
  const [port, nattPort] = await freePorts();
  const base = loopbackConfig(dir, port, nattPort, { connections: CONNECTIONS });
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['log.file in a missing directory', { log: { file: join(dir, 'no-such-dir', 'gw.log') } }, /^segw: \/.*\/gw\.yaml:\d+:\d+: log\.file: cannot use .*no-such-dir\/gw\.log: the directory .* does not exist \(create it\)$/],
    ['log.file a directory', { log: { file: dir } }, /^segw: \/.*\/gw\.yaml:\d+:\d+: log\.file: .* is a directory: name a file in it$/],
    ['log.file /proc/version', { log: { file: '/proc/version' } }, /^segw: \/.*\/gw\.yaml:\d+:\d+: log\.file: \/proc\/version is on proc, not a file system a log can be written to$/],
    ['control.socket /dev/null/x.sock', { control: { socket: '/dev/null/x.sock' } }, /^segw: \/.*\/gw\.yaml:\d+:\d+: control\.socket: cannot use \/dev\/null\/x\.sock: \/dev\/null is not a directory$/],
  ];
  for (const [what, over, re] of cases) {
    assertOneLine(await runToExit({ ...base, ...over }, ['--check']), re, `${what} (--check)`);
    assertOneLine(await runToExit({ ...base, ...over }, []), re, `${what} (run)`);
  }
});

test('a log file that cannot be opened at run time is a one-line error naming log.file', () => {
  assert.throws(
    () => startLogging({ log: { level: 'info', file: join(dir, 'vanished', 'gw.log') } }),
    (err: Error & { code?: string }) => {
      assert.equal(err.code, 'SEGW_CONFIG');
      assert.match(err.message, /^log\.file: cannot open the log file .*vanished\/gw\.log: ENOENT$/);
      return true;
    },
  );
});

test('a log file whose writes fail (/dev/full) is reported in one line; the gateway keeps running and stops cleanly', async () => {
  const [port, nattPort] = await freePorts();
  const sub = mkdtempSync(join(dir, 'full-'));
  const gw = GatewayProcess.spawn(sub, loopbackConfig(sub, port, nattPort, { connections: CONNECTIONS, log: { level: 'info', file: '/dev/full' } }));
  try {
    await eventually(() => {
      if (!gw.running) throw new Error(`exited: ${gw.stderr}`);
      return /^segw: log\.file \/dev\/full: write failed \(ENOSPC\); logging to standard error until it can be written again \(tried every 5 s\)$/m.test(gw.stderr);
    }, { what: 'the write failure reported on stderr', timeoutMs: 20_000 });
    const c = await eventually(() => ControlClient.connect(join(sub, 'gw.sock')), { what: 'the control socket', timeoutMs: 20_000 });
    try {
      assert.equal(((await c.call('status')) as { node: string }).node, 'gw-loop');
    } finally {
      c.close();
    }
    gw.kill('SIGTERM');
    await gw.exited;
    assert.equal(gw.exitCode, 0, gw.stderr);
    assert.match(gw.stderr, /"msg":"gateway stopped"/, 'later log lines go to stderr');
    assert.doesNotMatch(gw.stderr, /\n\s+at /);
  } finally {
    await gw.destroy();
  }
});

/**
 * What a running gateway writes to the file system has tight permissions even when the process
 * starts with umask 000 (issue 15): the log file is 0600 (it names peers, addresses and
 * identities), also the one a SIGHUP reopens after a rotation; the control socket is 0600 (and
 * SO_PEERCRED admits only root and the daemon's user: test/control/server-limits.test.ts); the
 * directory segw creates for the socket is writable by its owner only. segw writes no pid or
 * state file: the directory holds exactly these, and the socket is gone after the stop.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { freePorts, GatewayProcess, loopbackConfig } from '../gateway/daemon.js';
import { PSK } from '../exchange/harness.js';
import { eventually } from '../support/eventually.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'segw-modes-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Every file and directory under `root`, relative, with its permission bits in octal. */
function tree(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = statSync(p);
      out[relative(root, p)] = (st.mode & 0o777).toString(8);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(root);
  return out;
}

const CONNECTIONS = {
  bs: {
    local: { id: 'gw.example.net', auth: 'psk' },
    remote: { id: '%any', auth: 'psk' },
    psk: PSK,
    ikeProposals: ['aes128gcm16-prfsha256-ecp256'],
    children: { lte: { localTs: ['203.0.113.0/24'], remoteTs: ['198.51.100.0/24'], espProposals: ['aes128gcm16'] } },
  },
};

test('under umask 000 the log (also after a rotation), the control socket and its directory are owner-only; no other file is written', async () => {
  const [port, nattPort] = await freePorts();
  const config = loopbackConfig(dir, port, nattPort, { connections: CONNECTIONS, control: { socket: join(dir, 'run', 'gw.sock') } });
  // The child inherits the umask: 000 would make every file created without an explicit mode 0666.
  const old = process.umask(0);
  let gw: GatewayProcess;
  try {
    gw = GatewayProcess.spawn(dir, config);
  } finally {
    process.umask(old);
  }
  // The config file is the test's own (written under the test's umask).
  const yaml = (statSync(join(dir, 'gw.yaml')).mode & 0o777).toString(8);
  try {
    await gw.waitForLog(/^gateway started$/);
    assert.deepEqual(tree(dir), { 'gw.yaml': yaml, 'gw.log': '600', run: '755', 'run/gw.sock': '600' });
    assert.ok(statSync(join(dir, 'run', 'gw.sock')).isSocket());

    // logrotate moves the file away; SIGHUP makes segw create a new one.
    renameSync(join(dir, 'gw.log'), join(dir, 'gw.log.1'));
    gw.kill('SIGHUP');
    await eventually(() => tree(dir)['gw.log'] !== undefined && gw.logLines().some((l) => /config reloaded/.test(l.msg)), 'a new gw.log with the reload line');
    assert.deepEqual(tree(dir), { 'gw.yaml': yaml, 'gw.log': '600', 'gw.log.1': '600', run: '755', 'run/gw.sock': '600' });

    gw.kill('SIGTERM');
    await gw.exited;
    assert.equal(gw.exitCode, 0, gw.stderr);
    // The socket is removed at the stop; nothing else appeared (no pid or state file).
    assert.deepEqual(tree(dir), { 'gw.yaml': yaml, 'gw.log': '600', 'gw.log.1': '600', run: '755' });
  } finally {
    await gw.destroy();
  }
});

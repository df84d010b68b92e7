/**
 * `segw ctl` as an operator runs it: the result as JSON on stdout and exit 0; the daemon's
 * error code on stderr and exit 1; usage mistakes exit 2; an absent daemon exits 1 and says so.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ControlServer } from '../../src/control/server.js';
import { IkeDaemon } from '../../src/ike/daemon.js';
import { StubKernelIpsec } from '../../src/kernel/stub/ipsec.js';
import { logger } from '../../src/log/index.js';
import { gwConfig } from '../exchange/harness.js';
import { runSegw } from '../support/segw-cli.js';

let dir: string;
let server: ControlServer;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'segw-ctl-cli-'));
  const daemon = new IkeDaemon({ connections: [gwConfig(false)], kernel: new StubKernelIpsec() });
  server = await ControlServer.listen({ path: join(dir, 'gw.sock'), target: { daemon, status: () => ({ node: 'gw-cli' }) }, log: logger('control') });
});
after(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

const segw = (args: string[]) => runSegw(args);

test('segw ctl: results on stdout (exit 0), daemon errors by code (exit 1), usage (exit 2)', async () => {
  const sock = server.path;
  const [ok, list, refused, usage, absent] = await Promise.all([
    segw(['ctl', '--socket', sock, 'status']),
    segw(['ctl', '--socket', sock, '--compact', 'list-sas', '{"connection":"gw"}']),
    segw(['ctl', '--socket', sock, 'terminate-ike', '{"ike":"0123456789abcdef"}']),
    segw(['ctl', '--socket', sock, 'list-sas', '{not json']),
    segw(['ctl', '--socket', join(dir, 'nobody.sock'), 'status']),
  ]);
  assert.equal(ok.code, 0, ok.stderr);
  const st = JSON.parse(ok.stdout);
  assert.equal(st.node, 'gw-cli');
  assert.equal(st.espDrops.totalIn, 0, 'the data plane\'s drops (stub kernel: none)');
  assert.equal(list.code, 0, list.stderr);
  assert.equal(list.stdout.trim(), '{"ikeSas":[]}');
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /terminate-ike: NOT_FOUND: no IKE SA 0123456789abcdef/);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /params are not JSON/);
  assert.equal(absent.code, 1);
  assert.match(absent.stderr, /cannot connect to the control socket .*nobody\.sock/);
});

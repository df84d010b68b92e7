/**
 * packaging/: the systemd unit is accepted by `systemd-analyze verify` without a single
 * diagnostic (when installed here), and structurally keeps what the gateway needs: the control
 * socket's runtime directory, reload by SIGHUP, the network capabilities and no W^X rule that
 * would stop V8. The logrotate snippet relies on the SIGHUP reopen, not copytruncate.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { defaultSocketPath } from '../../src/config/control-socket.js';

const REPO = resolve(import.meta.dirname, '..', '..');
const UNIT = readFileSync(join(REPO, 'packaging', 'segw-gateway@.service'), 'utf8');
const LOGROTATE = readFileSync(join(REPO, 'packaging', 'segw.logrotate'), 'utf8');

/** key -> values (a key may repeat), of the [Service] section. */
function section(text: string, name: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let inside = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('[')) inside = line === `[${name}]`;
    else if (inside && line && !line.startsWith('#')) {
      const i = line.indexOf('=');
      assert.ok(i > 0, `a key=value line: ${line}`);
      const k = line.slice(0, i);
      out.set(k, [...(out.get(k) ?? []), line.slice(i + 1)]);
    }
  }
  return out;
}

const hasAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;

test('systemd-analyze verify accepts the unit with no diagnostics', { skip: !hasAnalyze && 'systemd-analyze is not installed' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'segw-unit-'));
  try {
    // verify checks that ExecStart's program exists: point it at this checkout's launcher.
    writeFileSync(join(dir, 'segw-gateway@.service'), UNIT.replaceAll('/usr/bin/segw', join(REPO, 'bin', 'segw.mjs')));
    const r = spawnSync('systemd-analyze', ['verify', '--man=no', join(dir, 'segw-gateway@gw1.service')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.trim(), '', 'no warnings (unknown keys, values systemd cannot parse)');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the unit: control socket directory, SIGHUP reload, network capabilities, hardening that lets V8 run', () => {
  const s = section(UNIT, 'Service');
  const one = (k: string) => {
    const v = s.get(k);
    assert.ok(v && v.length === 1, `${k} set once`);
    return v[0]!;
  };
  assert.equal(one('RuntimeDirectory'), 'segw');
  assert.equal(one('RuntimeDirectoryPreserve'), 'yes', 'one instance stopping keeps the others\' sockets');
  assert.ok(defaultSocketPath('gw1').startsWith('/run/segw/'), 'the default control socket lives in the RuntimeDirectory');
  assert.equal(one('ExecReload'), '/bin/kill -HUP $MAINPID');
  assert.match(one('ExecStart'), /^\/usr\/bin\/segw gateway --config \/etc\/segw\/%i\.yaml$/);
  for (const k of ['AmbientCapabilities', 'CapabilityBoundingSet']) {
    const caps = one(k).split(/\s+/);
    for (const c of ['CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_NET_BIND_SERVICE']) assert.ok(caps.includes(c), `${k} has ${c}`);
    assert.ok(!caps.includes('CAP_SYS_ADMIN'), `${k} does not grant CAP_SYS_ADMIN`);
  }
  assert.equal(one('NoNewPrivileges'), 'yes');
  assert.equal(one('ProtectSystem'), 'strict');
  assert.ok(!s.has('MemoryDenyWriteExecute'), 'V8 needs writable+executable pages');
  assert.ok(!s.has('PrivateNetwork'), 'the gateway is the network');
  assert.ok(one('DeviceAllow').startsWith('/dev/net/tun'), 'the userspace engine opens /dev/net/tun');
  assert.match(one('RestrictAddressFamilies'), /AF_NETLINK/);
});

test('logrotate: no copytruncate (segw reopens on SIGHUP), nocreate, reload after rotation', () => {
  assert.doesNotMatch(LOGROTATE, /^\s*copytruncate/m);
  assert.match(LOGROTATE, /^\s*nocreate$/m);
  assert.match(LOGROTATE, /postrotate\s+systemctl reload 'segw-gateway@\*\.service'/);
  if (spawnSync('logrotate', ['--version']).status === 0) {
    const dir = mkdtempSync(join(tmpdir(), 'segw-logrotate-'));
    try {
      // Parsed by logrotate itself (debug mode: nothing rotated), with this test's user.
      const user = execFileSync('id', ['-un'], { encoding: 'utf8' }).trim();
      const group = execFileSync('id', ['-gn'], { encoding: 'utf8' }).trim();
      const conf = LOGROTATE.replace('/var/log/segw/*.log', `${dir}/*.log`).replace('su segw segw', `su ${user} ${group}`);
      writeFileSync(join(dir, 'segw.conf'), conf);
      writeFileSync(join(dir, 'gw1.log'), 'x\n');
      const r = spawnSync('logrotate', ['--debug', '--state', join(dir, 'state'), join(dir, 'segw.conf')], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.doesNotMatch(r.stderr, /error:/, r.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

/**
 * The gateway config's `cluster:` section: the commented example loads into the shape src/vrrp
 * and src/cluster take; wrong inputs fail with the path of the key and what to do; the key file
 * is read, never inlined, refused when short, and warned about when others may read it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { inspect } from 'node:util';
import { loadGatewayConfig, parseGatewayConfig } from '../../src/config/gateway.js';
import { describeGateway } from '../../src/cli/gateway.js';
import { ConfigError } from '../../src/errors.js';
import { setRootLogger, createRootLogger } from '../../src/log/index.js';
import { captureLog } from '../support/log-capture.js';

const EXAMPLES = new URL('../../examples/', import.meta.url).pathname;
const KEY_HEX = 'a1'.repeat(32);

test('the commented 3-member example loads into the resolved cluster shape', () => {
  const cfg = loadGatewayConfig(join(EXAMPLES, 'cluster-member.yaml'));
  const c = cfg.cluster!;
  assert.ok(c);
  assert.equal(c.nodeId, 'gw1');
  assert.equal(c.address, '198.51.100.11');
  assert.deepEqual(c.vips, ['203.0.113.10/24']);
  assert.deepEqual(c.vrrp, {
    interface: 'eth1',
    vrid: 51,
    priority: 150,
    advertInterval: 1000,
    preempt: true,
    preemptDelay: 0,
    accept: true,
    vips: ['203.0.113.10/24'],
    checksum: 'rfc9568',
    acceptChecksums: ['rfc9568'],
    virtualMac: false,
  });
  assert.deepEqual(c.capacity, { maxTunnels: 20000, bandwidthBps: 2e9 });
  assert.deepEqual(c.weights, { tunnels: 1, bandwidth: 1, cpu: 1 });
  assert.equal(c.ceiling, 0.8);
  assert.equal(c.reportIntervalMs, 1000);
  assert.equal(c.staleAfter, 3);
  assert.deepEqual(c.listen, { address: '192.0.2.11', port: 7405 });
  assert.deepEqual(c.peers, [
    { address: '192.0.2.12', port: 7405 },
    { address: '192.0.2.13', port: 7405 },
  ]);
  assert.equal(c.redirect, 'init');
  assert.equal(c.key.length, 64);
});

function withDir<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'segw-cluster-cfg-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const BASE = {
  node: { name: 'gw2' },
  ike: { listen: ['198.51.100.12'] },
  connections: {
    bs: {
      local: { id: 'gw.example', auth: 'psk' },
      remote: { auth: 'psk' },
      psk: 'secret-0123456789',
      ikeProposals: 'aes128gcm16-prfsha256-ecp256',
      children: { s1: { localTs: '192.0.2.128/25', remoteTs: 'dynamic', espProposals: 'aes128gcm16' } },
    },
  },
};

function cluster(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    address: 'gw2.segw.example',
    vips: '203.0.113.10/24',
    keyFile: 'cluster.key',
    capacity: { maxTunnels: 1000, bandwidth: '500M' },
    reports: { listen: '192.0.2.12', peers: ['192.0.2.11', '192.0.2.13:7500'] },
    vrrp: { interface: 'eth1', vrid: 7 },
    ...over,
  };
}

function parse(dir: string, c: Record<string, unknown>, key: string | Buffer = `${KEY_HEX}\n`) {
  writeFileSync(join(dir, 'cluster.key'), key, { mode: 0o600 });
  return parseGatewayConfig({ ...BASE, cluster: c }, join(dir, 'gw.yaml'));
}

test('defaults: member id from node.name, VRRP defaults, ceiling 80%, peers on the listen port', () => {
  withDir((dir) => {
    const c = parse(dir, cluster()).cluster!;
    assert.equal(c.nodeId, 'gw2');
    assert.equal(c.address, 'gw2.segw.example');
    assert.equal(c.redirect, 'init');
    assert.equal(c.ceiling, 0.8);
    assert.deepEqual(c.capacity, { maxTunnels: 1000, bandwidthBps: 500e6 });
    assert.deepEqual(c.peers, [
      { address: '192.0.2.11', port: 7405 },
      { address: '192.0.2.13', port: 7500 },
    ]);
    assert.deepEqual(c.vrrp, {
      interface: 'eth1',
      vrid: 7,
      priority: 100,
      advertInterval: 1000,
      preempt: true,
      preemptDelay: 0,
      accept: true,
      vips: ['203.0.113.10/24'],
      checksum: 'rfc9568',
      acceptChecksums: ['rfc9568'],
      virtualMac: false,
    });
  });
});

test('durations, unicast VRRP, IPv6 report peers and a percentage ceiling resolve', () => {
  withDir((dir) => {
    const c = parse(
      dir,
      cluster({
        address: '2001:db8::12',
        vips: ['2001:db8:1::10/64'],
        ceiling: '65%',
        weights: { cpu: 0 },
        redirect: 'auth',
        reports: { listen: '2001:db8::12', port: 7600, interval: '100ms', staleAfter: 5, peers: ['[2001:db8::11]:7601', '2001:db8::13'] },
        vrrp: {
          interface: 'eth1',
          vrid: 255,
          priority: 255,
          advertInterval: '50ms',
          preemptDelay: '2s',
          preempt: false,
          checksum: 'pseudo-header',
          unicastPeers: ['2001:db8::11', '2001:db8::13'],
          unicastSource: '2001:db8::12',
        },
      }),
    ).cluster!;
    assert.equal(c.ceiling, 0.65);
    assert.deepEqual(c.weights, { tunnels: 1, bandwidth: 1, cpu: 0 });
    assert.equal(c.redirect, 'auth');
    assert.equal(c.reportIntervalMs, 100);
    assert.equal(c.staleAfter, 5);
    assert.deepEqual(c.peers, [
      { address: '2001:db8::11', port: 7601 },
      { address: '2001:db8::13', port: 7600 },
    ]);
    assert.equal(c.vrrp.advertInterval, 50);
    assert.equal(c.vrrp.preemptDelay, 2000);
    assert.equal(c.vrrp.preempt, false);
    assert.equal(c.vrrp.accept, true);
    assert.deepEqual(c.vrrp.acceptChecksums, ['pseudo-header']);
    assert.deepEqual(c.vrrp.unicastPeers, ['2001:db8::11', '2001:db8::13']);
    assert.equal(c.vrrp.unicastSource, '2001:db8::12');
  });
});

test('wrong cluster inputs fail with the path of the key', () => {
  const vrrp = (v: Record<string, unknown>) => ({ vrrp: { interface: 'eth1', vrid: 7, ...v } });
  const reports = (r: Record<string, unknown>) => ({ reports: { listen: '192.0.2.12', peers: ['192.0.2.11'], ...r } });
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ adress: 'x' }, /^cluster\.adress: unknown key \(did you mean "address"\?\)/],
    [{ address: undefined }, /^cluster\.address: is required/],
    [{ address: '192.0.2.300' }, /^cluster\.address: expected an IPv4 or IPv6 address or an FQDN/],
    [{ address: 'bad_name!' }, /^cluster\.address: expected an IPv4 or IPv6 address or an FQDN/],
    [{ vips: ['203.0.113.10'] }, /^cluster\.vips\[0\]: expected an address with prefix length/],
    [{ vips: ['203.0.113.10/24', '2001:db8::10/64'] }, /^cluster\.vips\[1\]: .*one address family/],
    [{ key: KEY_HEX }, /^cluster\.key: unknown key; allowed: .*keyFile/],
    [{ keyFile: 'missing.key' }, /^cluster\.keyFile: cannot read the cluster key .*missing\.key/],
    [{ redirect: 'always' }, /^cluster\.redirect: expected one of init, auth, off/],
    [{ capacity: { maxTunnels: 0, bandwidth: '1G' } }, /^cluster\.capacity\.maxTunnels: 0 is outside 1\.\./],
    [{ capacity: { maxTunnels: 10, bandwidth: 'fast' } }, /^cluster\.capacity\.bandwidth: expected a bandwidth/],
    [{ capacity: { maxTunnels: 10 } }, /^cluster\.capacity\.bandwidth: is required/],
    [{ weights: { tunnels: 0, bandwidth: 0, cpu: 0 } }, /^cluster\.weights: at least one weight/],
    [{ weights: { memory: 1 } }, /^cluster\.weights\.memory: unknown key/],
    [{ ceiling: '120%' }, /^cluster\.ceiling: expected a percentage/],
    [{ ceiling: 0 }, /^cluster\.ceiling: expected a percentage/],
    [reports({ listen: 'gw2' }), /^cluster\.reports\.listen: expected an IP address/],
    [reports({ port: 70000 }), /^cluster\.reports\.port: 70000 is outside 1\.\.65535/],
    [reports({ interval: 'often' }), /^cluster\.reports\.interval: expected a duration/],
    [reports({ staleAfter: 0 }), /^cluster\.reports\.staleAfter: 0 is outside 1\.\./],
    [reports({ peers: [] }), /^cluster\.reports\.peers: needs at least 1 entries/],
    [reports({ peers: ['192.0.2.11:99999'] }), /^cluster\.reports\.peers\[0\]: expected an address with an optional port/],
    [reports({ peers: ['gw1:7405'] }), /^cluster\.reports\.peers\[0\]: expected an address with an optional port/],
    [reports({ peers: ['192.0.2.11', '2001:db8::11'] }), /^cluster\.reports\.peers\[1\]: 2001:db8::11 is not IPv4 like reports\.listen/],
    [reports({ peers: ['192.0.2.12'] }), /^cluster\.reports\.peers\[0\]: is this member's own report address/],
    [reports({ peers: ['192.0.2.11', '192.0.2.11:7405'] }), /^cluster\.reports\.peers\[1\]: 192\.0\.2\.11:7405 is listed twice/],
    [{ vrrp: undefined }, /^cluster\.vrrp: is required/],
    [vrrp({ vrid: 0 }), /^cluster\.vrrp\.vrid: 0 is outside 1\.\.255/],
    [vrrp({ vrid: 256 }), /^cluster\.vrrp\.vrid: 256 is outside 1\.\.255/],
    [vrrp({ priority: 0 }), /^cluster\.vrrp\.priority: 0 is outside 1\.\.255/],
    [vrrp({ advertInterval: '15ms' }), /^cluster\.vrrp\.advertInterval: 15 ms: must be a multiple of 10 ms/],
    [vrrp({ advertInterval: '41s' }), /^cluster\.vrrp\.advertInterval: "41s" is outside/],
    [vrrp({ advertInterval: '5ms' }), /^cluster\.vrrp\.advertInterval: "5ms" is outside/],
    [vrrp({ preempt: 'yes' }), /^cluster\.vrrp\.preempt: expected true or false/],
    [vrrp({ checksum: 'crc32' }), /^cluster\.vrrp\.checksum: expected one of rfc9568, pseudo-header, pseudo-header-group/],
    [vrrp({ acceptChecksums: ['rfc9568', 'none'] }), /^cluster\.vrrp\.acceptChecksums\[1\]: expected one of/],
    [vrrp({ unicastPeers: ['2001:db8::11'] }), /^cluster\.vrrp\.unicastPeers\[0\]: 2001:db8::11 is not IPv4 like the VIPs/],
    [vrrp({ unicastSource: '192.0.2.12' }), /^cluster\.vrrp\.unicastSource: only used with unicastPeers/],
    [vrrp({ unicastPeers: ['192.0.2.11'], unicastSource: '2001:db8::12' }), /^cluster\.vrrp\.unicastSource: 2001:db8::12 is not IPv4/],
    [vrrp({ interface: 'a-much-too-long-name' }), /^cluster\.vrrp\.interface: expected an interface name/],
    [vrrp({ vips: ['203.0.113.10/24'] }), /^cluster\.vrrp\.vips: unknown key/],
    [vrrp({ accept: false }), /^cluster\.vrrp\.accept: must be true in a segw gateway: its master serves IKE on the VIPs/],
    [{ vips: ['2001:db8:1::10/64'], vrrp: { interface: 'eth1', vrid: 7, virtualMac: true } }, /^cluster\.vrrp\.virtualMac: .*IPv4 instances only/],
  ];
  withDir((dir) => {
    for (const [over, re] of cases) {
      assert.throws(() => parse(dir, cluster(over)), (err: unknown) => {
        assert.ok(err instanceof ConfigError, `${JSON.stringify(over)}: ${String(err)}`);
        assert.match(err.message, re, JSON.stringify(over));
        return true;
      });
    }
  });
});

test('the cluster key: read from its file, refused when short, never printed', () => {
  withDir((dir) => {
    assert.throws(() => parse(dir, cluster(), `${'ab'.repeat(15)}\n`), /^ConfigError: cluster\.keyFile: the cluster key in .* has 30 octets; use at least 32/);
    assert.throws(() => parse(dir, cluster(), Buffer.alloc(31, 7)), /has 31 octets/);
    // Raw octets are the key as they are; a text key loses its final newline only.
    assert.equal(parse(dir, cluster(), Buffer.concat([Buffer.alloc(31, 0xff), Buffer.from([0x0a])])).cluster!.key.length, 32);
    const c = parse(dir, cluster(), `${KEY_HEX}\r\n`).cluster!;
    assert.equal(c.key.length, 64);
    for (const text of [JSON.stringify(c), inspect(c, { depth: 5 }), String(c.key)]) {
      assert.ok(!text.includes(KEY_HEX), 'key material printed');
      assert.ok(text.includes('[cluster key]'));
    }
  });
});

test('a key file readable by group or others is accepted with a warning naming the fix', () => {
  const { log, lines } = captureLog('warn');
  setRootLogger(log);
  try {
    withDir((dir) => {
      parse(dir, cluster());
      assert.equal(lines.length, 0, 'a 0600 key file is not warned about');
      chmodSync(join(dir, 'cluster.key'), 0o640);
      parseGatewayConfig({ ...BASE, cluster: cluster() }, join(dir, 'gw.yaml'));
      assert.equal(lines.length, 1);
      assert.equal(lines[0]!.level, 'warn');
      assert.equal(lines[0]!.mode, '640');
      assert.match(String(lines[0]!.msg), /cluster\.keyFile: the cluster key file is readable by group or others; chmod 600/);
      assert.ok(!JSON.stringify(lines).includes(KEY_HEX));
    });
  } finally {
    setRootLogger(createRootLogger({ level: 'silent' }));
  }
});

test('segw gateway --check describes the cluster member', () => {
  const text = describeGateway(loadGatewayConfig(join(EXAMPLES, 'cluster-member.yaml')));
  assert.match(text, /\n  cluster: member gw1 at 198\.51\.100\.11, VIPs 203\.0\.113\.10\/24 \(VRRP vrid 51 on eth1, priority 150\), redirect init\n/);
  assert.match(text, /\n    load reports: 192\.0\.2\.11:7405 -> 192\.0\.2\.12:7405, 192\.0\.2\.13:7405 every 1000 ms, stale after 3\n/);
  assert.ok(!text.includes('5e6c1a0f'), 'no key material');
});

test('balancer settings: per-member ceilings, pins (redirect: auth only), drain pacing with defaults', () => {
  withDir((dir) => {
    const d = parse(dir, cluster()).cluster!;
    assert.deepEqual(d.ceilings, {});
    assert.deepEqual(d.pins, []);
    assert.deepEqual(d.drain, { ratePerSec: 50, retryMs: 10_000 });
    const c = parse(
      dir,
      cluster({
        redirect: 'auth',
        ceilings: [{ member: 'gw3', ceiling: '70%' }],
        pins: [{ peer: '*.north.example.net', member: 'gw1' }, { connection: 'bs', peer: 'lab-*', member: 'self' }],
        drain: { rate: 200, retry: '30s' },
      }),
    ).cluster!;
    assert.deepEqual(c.ceilings, { gw3: 0.7 });
    assert.deepEqual(c.pins, [{ peer: '*.north.example.net', member: 'gw1' }, { connection: 'bs', peer: 'lab-*', member: 'self' }]);
    assert.deepEqual(c.drain, { ratePerSec: 200, retryMs: 30_000 });
    assert.throws(() => parse(dir, cluster({ pins: [{ peer: '*', member: 'gw1' }] })), (e: Error) => e instanceof ConfigError && /cluster\.pins\[0\].*redirect: auth/.test(e.message));
    assert.throws(() => parse(dir, cluster({ drain: { rate: 0 } })), ConfigError);
  });
});

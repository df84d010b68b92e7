/** `segw vrrp --config`: the options file (cluster.vrrp or top level), defaults, and errors that name the option. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadVrrpOptions } from '../../src/cli/vrrp.js';
import { ConfigError } from '../../src/errors.js';

function withFile(text: string, fn: (path: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'segw-vrrp-cfg-'));
  try {
    const p = join(dir, 'vrrp.yaml');
    writeFileSync(p, text);
    fn(p);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('cluster.vrrp with defaults filled in (RFC 9568 checksum, accept and preempt on)', () => {
  withFile('cluster:\n  vrrp:\n    interface: eth0\n    vrid: 51\n    vips: [203.0.113.10/24]\n', (p) => {
    assert.deepEqual(loadVrrpOptions(p), {
      interface: 'eth0', vrid: 51, vips: ['203.0.113.10/24'], priority: 100, advertInterval: 1000, preempt: true, preemptDelay: 0,
      accept: true, checksum: 'rfc9568', acceptChecksums: ['rfc9568'], virtualMac: false,
    });
  });
});

test('segw vrrp alone allows accept: false (Accept_Mode) and virtualMac: true', () => {
  withFile('interface: eth0\nvrid: 51\nvips: [203.0.113.10/24]\naccept: false\nvirtualMac: true\n', (p) => {
    const o = loadVrrpOptions(p);
    assert.equal(o.accept, false);
    assert.equal(o.virtualMac, true);
  });
});

test('top-level options and unicast peers', () => {
  withFile('interface: eth0\nvrid: 7\nvips: ["2001:db8::10/64"]\nunicastPeers: ["2001:db8::2"]\nadvertInterval: 100\n', (p) => {
    const o = loadVrrpOptions(p);
    assert.deepEqual(o.unicastPeers, ['2001:db8::2']);
    assert.equal(o.advertInterval, 100);
  });
});

const bad: [string, RegExp][] = [
  ['interface: eth0\nvrid: 51\nvips: [203.0.113.10/24]\nprioritty: 5\n', /cluster\.vrrp\.prioritty: unknown option/],
  ['interface: eth0\nvrid: 300\nvips: [203.0.113.10/24]\n', /vrid: must be an integer 1\.\.255/],
  ['interface: eth0\nvrid: 5\nvips: [203.0.113.10/24]\nchecksum: crc\n', /checksum: must be one of rfc9568, pseudo-header, pseudo-header-group/],
  ['interface: eth0\nvrid: 5\nvips: [203.0.113.10/24]\nunicastPeers: ["2001:db8::2"]\n', /unicastPeers\[0\].*IPv4/],
  ['interface: eth0\nvrid: 5\nvips: [nonsense]\n', /vips\[0\]: "nonsense" is not an address in CIDR form/],
  ['interface: eth0\nvrid: 5\nvips: ["2001:db8::10/64"]\nvirtualMac: true\n', /virtualMac: .*IPv4 instances only/],
  ['interface: eth0\nvrid: 5\nvips: [203.0.113.10/24]\naccept: "no"\n', /accept: must be true or false/],
  ['vrid: [', /cannot read the VRRP configuration/],
];
for (const [text, re] of bad) {
  test(`refused: ${re.source}`, () => {
    withFile(text, (p) => assert.throws(() => loadVrrpOptions(p), (e: unknown) => e instanceof ConfigError && re.test((e as Error).message)));
  });
}

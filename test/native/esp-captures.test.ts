// The real ESP-in-UDP packets strongSwan 5.9.8 sent (test/fixtures/captures), decrypted by the
// engine with the child SA keys strongSwan logged: the ICMP echo inside comes out intact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { readKeys, readUdpDatagrams } from '../support/pcap.js';
import { bareEngine, gcmSa, ts } from '../support/esp-fixtures.js';

const DIR = new URL('../fixtures/captures/', import.meta.url).pathname;

for (const name of ['psk-aesgcm128-ecp256', 'psk-aescbc256-sha256-x25519']) {
  test(`${name}: every ESP-in-UDP packet decrypts to an ICMP echo between the traffic selectors`, () => {
    assert.ok(existsSync(`${DIR}${name}.pcap`), 'capture fixture present');
    const keys = readKeys(`${DIR}${name}.keys.txt`);
    const text = readFileSync(`${DIR}${name}.keys.txt`, 'utf8');
    const m = /established with SPIs ([0-9a-f]+)_i ([0-9a-f]+)_o/.exec(text)!;
    const spiIn = parseInt(m[1], 16), spiOut = parseInt(m[2], 16); // as the initiator sees them
    const e = bareEngine();
    try {
      // Initiator -> responder packets carry the responder's inbound SPI (= initiator's _o) and
      // the initiator's key; the replies carry the initiator's inbound SPI and the responder's key.
      const common = { localTs: [ts('192.0.2.128/25')], remoteTs: [ts('192.0.2.0/25')] };
      const toResp = e.addSa(gcmSa({ spi: spiOut, direction: 'in', encryptionKey: keys.get('encryption initiator key')!, ...common }));
      const toInit = e.addSa(gcmSa({ spi: spiIn, direction: 'in', encryptionKey: keys.get('encryption responder key')!,
        localTs: common.remoteTs, remoteTs: common.localTs }));
      const esp = readUdpDatagrams(`${DIR}${name}.pcap`).filter((d) => d.dport === 4500 && d.payload.readUInt32BE(0) !== 0);
      assert.equal(esp.length, 4, 'two pings: two requests, two replies');
      for (const d of esp) {
        const r = e.decapsulate(d.payload);
        assert.equal(r.verdict, 'ok', `frame ${d.frame}`);
        const ip = r.inner!;
        assert.equal(ip[0] >> 4, 4);
        assert.equal(ip[9], 1, 'ICMP');
        const src = Array.from(ip.subarray(12, 16)).join('.'), dst = Array.from(ip.subarray(16, 20)).join('.');
        const request = d.src === '198.51.100.1';
        assert.equal(ip[20], request ? 8 : 0, 'echo request out, echo reply back');
        assert.ok(src.startsWith('192.0.2.') && dst.startsWith('192.0.2.'), `${src} -> ${dst}`);
        // The ICMP checksum over the message verifies: the payload is intact.
        let s = 0;
        const icmp = ip.subarray(20, ip.readUInt16BE(2));
        for (let i = 0; i < icmp.length; i += 2) s += (icmp[i] << 8) | (icmp[i + 1] ?? 0);
        while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
        assert.equal(s, 0xffff, 'ICMP checksum');
      }
      const c = e.readCounters(Uint32Array.from([toResp, toInit]));
      assert.deepEqual([c[0], c[6]], [2n, 2n], 'two packets on each SA');
      // Replaying the first capture packet is caught by the window.
      assert.equal(e.decapsulate(esp[0].payload).verdict, 'replay');
      assert.equal(e.readCounters(Uint32Array.from([toResp]))[2], 1n);
    } finally {
      e.close();
    }
  });
}

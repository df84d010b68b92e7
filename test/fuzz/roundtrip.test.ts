/**
 * Encode/decode round trips as properties (fast-check): any message segw's codec can write, it
 * reads back to the same value (RFC 7296 §3 payloads, including traffic selectors §3.13.1); the
 * notify data formats of RFC 7296 §3.10.1, RFC 5685 §8 and RFC 7427 §4 likewise; traffic
 * selectors survive wire form and config text, and narrowing stays inside both selectors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  decodeMessage,
  decodeStruct,
  encodeMessage,
  encodeStruct,
  INVALID_KE_DATA,
  REDIRECT_DATA,
  REDIRECTED_FROM_DATA,
  SIGNATURE_HASH_ALGORITHMS_DATA,
  type IkeMessage,
  type Payload,
} from '../../src/ike/codec/index.js';
import { ExchangeType, GatewayIdType, PayloadType, TsType } from '../../src/ike/constants.js';
import { bytesToIp, ipToBytes, prefixRange } from '../../src/net/ip.js';
import { checkAdvert, encodeAdvert } from '../../src/vrrp/packet.js';
import { CHECKSUM_FORMS } from '../../src/vrrp/constants.js';
import { ClusterKey } from '../../src/cluster/key.js';
import { decodeReport, encodeReport } from '../../src/cluster/report.js';

/** The network address of `addr` under a /len mask. */
function prefixOf(addr: string, family: 4 | 6, len: number): string {
  const b = ipToBytes(addr);
  for (let i = 0; i < b.length; i++) {
    const keep = Math.max(0, Math.min(8, len - i * 8));
    b[i] = b[i]! & ((0xff << (8 - keep)) & 0xff);
  }
  return bytesToIp(b);
}
import { intersectTs, parseTs, tsContained, tsEqual, tsFromWire, tsToString, tsToWire, type TrafficSelector } from '../../src/ike/traffic-selectors.js';

const RUNS = { numRuns: Number(process.env.SEGW_FC_RUNS ?? 500) };
// Plain objects, as the codec makes them (deepEqual compares prototypes).
const rec = <T,>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> => fc.record(model, { noNullPrototype: true }) as fc.Arbitrary<T>;
const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max }).map((u) => Buffer.from(u));
const u8 = fc.integer({ min: 0, max: 255 });
const u16 = fc.integer({ min: 0, max: 65535 });

const header = rec({
  spiI: bytes(8, 8),
  spiR: bytes(8, 8),
  majorVersion: fc.constant(2),
  minorVersion: fc.constant(0),
  exchangeType: fc.constantFrom(ExchangeType.IKE_SA_INIT, ExchangeType.IKE_AUTH, ExchangeType.CREATE_CHILD_SA, ExchangeType.INFORMATIONAL),
  flags: fc.constantFrom(0, 0x08, 0x20, 0x28),
  messageId: fc.integer({ min: 0, max: 0xffffffff }),
});

const transform = fc.record(
  { type: fc.integer({ min: 1, max: 5 }), id: u16, keyLength: fc.constantFrom(128, 192, 256) },
  { requiredKeys: ['type', 'id'], noNullPrototype: true },
);
const proposal = rec({
  num: fc.integer({ min: 1, max: 255 }),
  protocol: fc.constantFrom(1, 3),
  spi: fc.constantFrom(0, 4, 8).chain((n) => bytes(n, n)),
  transforms: fc.array(transform, { minLength: 1, maxLength: 6 }),
});

const tsWire = fc.oneof(
  rec({ tsType: fc.constant(TsType.TS_IPV4_ADDR_RANGE), ipProtocol: u8, startPort: u16, endPort: u16, startAddr: bytes(4, 4), endAddr: bytes(4, 4) }),
  rec({ tsType: fc.constant(TsType.TS_IPV6_ADDR_RANGE), ipProtocol: u8, startPort: u16, endPort: u16, startAddr: bytes(16, 16), endAddr: bytes(16, 16) }),
);

const payload: fc.Arbitrary<Payload> = fc.oneof(
  rec({ type: fc.constant(PayloadType.SA), proposals: fc.array(proposal, { minLength: 1, maxLength: 3 }) }),
  rec({ type: fc.constant(PayloadType.KE), group: u16, data: bytes(0, 64) }),
  rec({ type: fc.constantFrom(PayloadType.IDi, PayloadType.IDr), idType: u8, data: bytes(0, 40) }),
  rec({ type: fc.constant(PayloadType.AUTH), method: u8, data: bytes(0, 64) }),
  rec({ type: fc.constant(PayloadType.NONCE), data: bytes(16, 64) }),
  rec({ type: fc.constant(PayloadType.CERT), encoding: u8, data: bytes(0, 64) }),
  rec({ type: fc.constant(PayloadType.CERTREQ), encoding: u8, data: bytes(0, 60) }),
  fc.oneof(
    rec({ type: fc.constant(PayloadType.NOTIFY), protocol: fc.constant(0), spi: bytes(0, 0), notifyType: u16, data: bytes(0, 40) }),
    rec({ type: fc.constant(PayloadType.NOTIFY), protocol: fc.constant(3), spi: bytes(4, 4), notifyType: u16, data: bytes(0, 40) }),
  ),
  fc.oneof(
    rec({ type: fc.constant(PayloadType.DELETE), protocol: fc.constant(1), spis: fc.constant([] as Buffer[]) }),
    rec({ type: fc.constant(PayloadType.DELETE), protocol: fc.constant(3), spis: fc.array(bytes(4, 4), { minLength: 1, maxLength: 5 }) }),
  ),
  rec({ type: fc.constant(PayloadType.VENDOR_ID), data: bytes(1, 32) }),
  rec({ type: fc.constantFrom(PayloadType.TSi, PayloadType.TSr), selectors: fc.array(tsWire, { minLength: 1, maxLength: 4 }) }),
  rec({ type: fc.constant(PayloadType.CP), cfgType: fc.integer({ min: 1, max: 4 }), attributes: fc.array(rec({ type: fc.integer({ min: 1, max: 0x7fff }), value: bytes(0, 16) }), { maxLength: 4 }) }),
) as fc.Arbitrary<Payload>;

const message: fc.Arbitrary<IkeMessage> = rec({ header, payloads: fc.array(payload, { maxLength: 8 }) });

/** The codec reports the critical bit it read; the generated values leave it unset. */
function withoutCritical(m: IkeMessage): IkeMessage {
  return { ...m, payloads: m.payloads.map(({ critical: _c, ...p }) => p as Payload) };
}

test('IKE messages: decode(encode(m)) == m for any message of known payloads', () => {
  fc.assert(
    fc.property(message, (m) => {
      const wire = encodeMessage(m);
      const r = decodeMessage(wire);
      assert.ok(r.ok, r.ok ? '' : `${r.error.code}: ${r.error.detail}`);
      assert.deepEqual(withoutCritical(r.message), m);
      assert.ok(encodeMessage(r.message).equals(wire), 're-encoding changed the octets');
    }),
    RUNS,
  );
});

const gatewayIdent = fc.oneof(
  rec({ gwIdentType: fc.constant(GatewayIdType.IPV4 as number), gwIdent: bytes(4, 4) }),
  rec({ gwIdentType: fc.constant(GatewayIdType.IPV6 as number), gwIdent: bytes(16, 16) }),
  rec({ gwIdentType: fc.constant(GatewayIdType.FQDN as number), gwIdent: fc.domain().map((d) => Buffer.from(d.slice(0, 255))) }),
);

test('notify data: REDIRECT, REDIRECTED_FROM, INVALID_KE_PAYLOAD, SIGNATURE_HASH_ALGORITHMS round-trip', () => {
  const roundTrip = <T>(spec: Parameters<typeof encodeStruct<T>>[0], v: T) => {
    const d = decodeStruct(spec, encodeStruct(spec, v));
    assert.ok(d.ok, d.ok ? '' : d.detail);
    assert.deepEqual(d.value, v);
  };
  fc.assert(fc.property(gatewayIdent, bytes(0, 64), (g, nonce) => roundTrip(REDIRECT_DATA, { ...g, nonce })), RUNS);
  fc.assert(fc.property(gatewayIdent, (g) => roundTrip(REDIRECTED_FROM_DATA, g)), RUNS);
  fc.assert(fc.property(u16, (group) => roundTrip(INVALID_KE_DATA, { group })), RUNS);
  fc.assert(fc.property(fc.array(u16.map((id) => ({ id })), { maxLength: 8 }), (algorithms) => roundTrip(SIGNATURE_HASH_ALGORITHMS_DATA, { algorithms })), RUNS);
});

test('notify data: a gateway identity of the wrong length for its type is refused, never misread', () => {
  fc.assert(
    fc.property(fc.constantFrom(GatewayIdType.IPV4, GatewayIdType.IPV6), bytes(0, 20), (type, ident) => {
      fc.pre(ident.length !== (type === GatewayIdType.IPV4 ? 4 : 16));
      const wire = Buffer.concat([Buffer.from([type, ident.length]), ident]);
      assert.equal(decodeStruct(REDIRECTED_FROM_DATA, wire).ok, false);
    }),
    RUNS,
  );
});

/** A selector with canonical addresses (start <= end) and ports (start <= end). */
const selector: fc.Arbitrary<TrafficSelector> = fc
  .tuple(fc.constantFrom(4, 6), bytes(16, 16), bytes(16, 16), fc.constantFrom(0, 1, 6, 17, 58, 132), u16, u16)
  .map(([family, a, b, protocol, p1, p2]) => {
    const n = family === 4 ? 4 : 16;
    const [s, e] = Buffer.compare(a.subarray(0, n), b.subarray(0, n)) <= 0 ? [a, b] : [b, a];
    return {
      family: family as 4 | 6,
      protocol,
      startAddr: bytesToIp(s.subarray(0, n)),
      endAddr: bytesToIp(e.subarray(0, n)),
      startPort: Math.min(p1, p2),
      endPort: Math.max(p1, p2),
    };
  });

const prefixSelector: fc.Arbitrary<TrafficSelector> = fc
  .tuple(selector, fc.integer({ min: 0, max: 128 }))
  .map(([ts, len]) => {
    const l = ts.family === 4 ? len % 33 : len;
    const addr = prefixOf(ts.startAddr, ts.family, l);
    const range = prefixRange({ family: ts.family, addr, len: l });
    return { ...ts, startAddr: range.start, endAddr: range.end };
  });

test('traffic selectors: wire form and config text round-trip; intersections lie inside both', () => {
  fc.assert(
    fc.property(selector, (ts) => {
      assert.deepEqual(tsFromWire(tsToWire(ts)), ts);
    }),
    RUNS,
  );
  // Config text: tsToString writes a prefix as config syntax (a non-prefix range it writes as
  // "start-end" for logs, which configs do not take).
  fc.assert(
    fc.property(prefixSelector, (ts) => {
      const text = tsToString(ts);
      assert.ok(tsEqual(parseTs(text), ts), `${text} parsed to ${JSON.stringify(parseTs(text))}`);
    }),
    RUNS,
  );
  fc.assert(
    fc.property(selector, selector, (a, b) => {
      const i = intersectTs(a, b);
      const j = intersectTs(b, a);
      assert.equal(i === undefined, j === undefined);
      if (i && j) {
        assert.ok(tsContained(i, a) && tsContained(i, b), 'intersection outside an operand');
        assert.ok(tsEqual(i, j), 'intersection not symmetric');
      }
    }),
    RUNS,
  );
});

// --- the cluster's own wire formats: VRRP adverts (RFC 9568 §5) and load reports.

/** Records with Object's prototype, as the decoders build them (deepStrictEqual compares prototypes). */
const plain = { noNullPrototype: true } as const;

const vrrpAdvert = (family: 4 | 6) =>
  fc.record({
    vrid: fc.integer({ min: 1, max: 255 }),
    priority: fc.integer({ min: 0, max: 255 }),
    maxAdvertInterval: fc.integer({ min: 1, max: 0x0fff }),
    addresses: fc.array(
      fc.uint8Array({ minLength: family === 4 ? 4 : 16, maxLength: family === 4 ? 4 : 16 }).map((b) => bytesToIp(Buffer.from(b), family)),
      { minLength: 1, maxLength: 16 },
    ),
  }, plain);

test('VRRP adverts: what encodeAdvert writes, checkAdvert accepts as the same advert, in every checksum form', () => {
  for (const family of [4, 6] as const) {
    const ends = family === 4 ? ({ family, src: '192.0.2.2', dst: '224.0.0.18' } as const) : ({ family, src: 'fe80::2', dst: 'ff02::12' } as const);
    const forms = family === 4 ? CHECKSUM_FORMS : (['rfc9568'] as const);
    fc.assert(
      fc.property(vrrpAdvert(family), fc.constantFrom(...forms), (a, form) => {
        const r = checkAdvert({ ...ends, ttl: 255, data: encodeAdvert(a, ends, form) }, { vrid: a.vrid, acceptChecksums: [form] });
        assert.ok(r.ok, r.ok ? '' : r.detail);
        assert.deepEqual(r.advert, a);
        assert.equal(r.checksumForm, form);
      }),
    );
  }
});

test('load reports: decode(encode(r)) == r; any flipped bit makes the datagram refused', () => {
  const key = new ClusterKey(Buffer.alloc(32, 7));
  const report = fc.record(
    {
    nodeId: fc.stringMatching(/^[A-Za-z0-9_.-]{1,64}$/),
    address: fc.oneof(fc.ipV4(), fc.ipV6(), fc.domain()),
    epoch: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    sequence: fc.bigInt({ min: 1n, max: (1n << 64n) - 1n }),
    intervalMs: fc.integer({ min: 1, max: 0xffffffff }),
    role: fc.constantFrom('unknown', 'init', 'backup', 'master'),
    draining: fc.boolean(),
    leaving: fc.boolean(),
    load: fc.record({
      tunnels: fc.integer({ min: 0, max: 0xffffffff }),
      childSas: fc.integer({ min: 0, max: 0xffffffff }),
      bytesPerSec: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
      cpu: fc.integer({ min: 0, max: 1000 }).map((p) => p / 1000),
    }, plain),
    capacity: fc.record({ maxTunnels: fc.integer({ min: 0, max: 0xffffffff }), bandwidthBps: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }) }, plain),
    },
    plain,
  );
  fc.assert(
    fc.property(report, fc.nat(), (r, bit) => {
      const wire = encodeReport(r, key);
      const d = decodeReport(wire, key);
      assert.ok(d.ok, d.ok ? '' : d.reason);
      assert.deepEqual(d.report, r);
      const bad = Buffer.from(wire);
      bad[(bit >> 3) % bad.length] ^= 1 << (bit & 7);
      assert.equal(decodeReport(bad, key).ok, false, 'a changed datagram still decoded');
    }),
  );
});

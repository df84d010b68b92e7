/**
 * Writes the seed corpora in ./corpus from real traffic: strongSwan's IKE and ESP datagrams in
 * test/fixtures/captures, a full exchange between two segw daemons (IPv4 and IPv6: IKE_SA_INIT,
 * IKE_AUTH, CREATE_CHILD_SA, INFORMATIONAL), the example configs, and inner IP packets built
 * here (UDP/TCP/ICMP over IPv4 and IPv6, a TCP super-packet with its virtio-net header).
 * Deterministic apart from the exchange's random SPIs, nonces and keys.
 *
 *   node --import tsx test/fuzz/seeds.ts [NAME...]   (rewrites ./corpus/*, or only NAME's)
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import pino from 'pino';
import { CAPTURES_DIR, readFrames, readUdpDatagrams } from '../support/pcap.js';
import { encodeAdvert } from '../../src/vrrp/packet.js';
import { CHECKSUM_FORMS } from '../../src/vrrp/constants.js';
import { encodeReport } from '../../src/cluster/report.js';
import { MAC_OCTETS } from '../../src/cluster/key.js';
import { FUZZ_VRID as VRRP_FUZZ_VRID } from './targets/vrrp.js';
import { FUZZ_KEY as LOAD_FUZZ_KEY } from './targets/load-report.js';
import { Pair } from '../exchange/harness.js';
import { ExchangeType } from '../../src/ike/constants.js';
import type { SkTransform } from '../../src/ike/crypto/types.js';
import type { IkeSa } from '../../src/ike/sa/ike-sa.js';
import { CORPUS_DIR } from './registry.js';

const root = new URL('../../', import.meta.url).pathname;
const corpora = new Map<string, Buffer[]>();
const add = (name: string, b: Buffer) => (corpora.get(name) ?? corpora.set(name, []).get(name)!).push(b);
const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);

// --- strongSwan captures: IKE (port 500, or 4500 behind the non-ESP marker) and ESP.
for (const f of readdirSync(CAPTURES_DIR).filter((f) => f.endsWith('.pcap'))) {
  for (const d of readUdpDatagrams(join(CAPTURES_DIR, f))) {
    let ike: Buffer | null = null;
    if (d.dport === 500 || d.sport === 500) ike = d.payload;
    else if (d.payload.length > 4 && d.payload.readUInt32BE(0) === 0) ike = d.payload.subarray(4);
    if (ike) {
      add('ike-decode', ike);
      add('responder', Buffer.concat([Buffer.from([0, d.dport === 4500 ? 1 : 0]), u16(ike.length), ike]));
    } else {
      add('native-esp_inbound', Buffer.concat([Buffer.from([0, 2, 0]), u16(d.payload.length), d.payload]));
    }
  }
}

// --- a segw exchange, with the plaintext of each protected request the initiator sends.
const EXCHANGE_INDEX = new Map<number, number>([
  [ExchangeType.IKE_AUTH, 0],
  [ExchangeType.CREATE_CHILD_SA, 1],
  [ExchangeType.INFORMATIONAL, 2],
]);
/** Wraps an SA's SK_e/SK_a transform so each plaintext it seals (requests or responses) is kept as a record. */
function recordSeals(sa: IkeSa, responses: boolean, out: Buffer[]): void {
  const sk = sa.skOut as SkTransform;
  const seal = sk.seal.bind(sk);
  sk.seal = (aad: Buffer, plain: Buffer) => {
    const ex = EXCHANGE_INDEX.get(aad[18]!);
    const body = plain.subarray(0, plain.length - 1 - plain[plain.length - 1]!);
    if (ex !== undefined && ((aad[19]! & 0x20) !== 0) === responses) out.push(Buffer.concat([Buffer.from([ex, aad[28]!]), u16(body.length), body]));
    return seal(aad, plain);
  };
}

async function exchange(v6: boolean, gcm: boolean): Promise<void> {
  const silent = pino({ level: 'silent' });
  const proposals = ['aes128gcm16-prfsha256-x25519', 'aes256-sha256-x25519'];
  const p = new Pair({ v6, bs: { ikeProposals: [proposals[gcm ? 0 : 1]!] }, gw: { ikeProposals: proposals }, bsDaemon: { log: silent }, gwDaemon: { log: silent } });
  await p.start();
  const requests: Buffer[] = [];
  const responses: Buffer[] = [];
  try {
    await p.initiate();
    await p.next(); // IKE_SA_INIT request
    await p.next(); // IKE_SA_INIT response: both ends have SK keys now
    const sa = p.bs.daemon.manager.ikeSaList()[0]!;
    recordSeals(sa, false, requests);
    recordSeals(p.gw.daemon.manager.ikeSaList()[0]!, true, responses);
    await p.run();
    const child = sa.children[0];
    if (child) await p.bs.daemon.rekeyChild(child);
    await p.run();
    await p.bs.daemon.dpd(sa);
    await p.run();
    for (const d of p.wire.log) add('ike-decode', d.data);
    // The gateway's IKE_SA_INIT answer, for the initiator target (its SPIs patched in by flag 1).
    const answer = p.wire.log.find((x) => x.from.address === p.gw.addr)!;
    add('initiator', Buffer.concat([Buffer.from([0, 1]), u16(answer.data.length), answer.data]));
  } finally {
    await p.stop();
  }
  const mode = Buffer.from([1 | (gcm ? 2 : 0)]);
  add('responder', Buffer.concat([mode, ...requests]));
  for (const r of requests) add('responder', Buffer.concat([mode, r]));
  add('initiator', Buffer.concat([mode, ...responses]));
  for (const r of responses) add('initiator', Buffer.concat([mode, r]));
}
await exchange(false, true);
await exchange(true, false);

// --- configs
for (const f of readdirSync(join(root, 'examples')).filter((f) => f.endsWith('.yaml'))) add('config', readFileSync(join(root, 'examples', f)));
add('config', readFileSync(join(root, 'test/fuzz/seeds/gateway-full.yaml')));
add('config', Buffer.from(readFileSync(join(root, 'examples/gateway-psk.yaml'), 'utf8').replace('pskFile: psk.txt', 'psk: "a secret"')));

// --- inner IP packets for the native targets
function ipv4(proto: number, l4: Buffer, src = [198, 51, 100, 7], dst = [203, 0, 113, 9]): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + l4.length, 2);
  h[8] = 64;
  h[9] = proto;
  Buffer.from(src).copy(h, 12);
  Buffer.from(dst).copy(h, 16);
  return Buffer.concat([h, l4]);
}
function ipv6(next: number, l4: Buffer): Buffer {
  const h = Buffer.alloc(40);
  h[0] = 0x60;
  h.writeUInt16BE(l4.length, 4);
  h[6] = next;
  h[7] = 64;
  Buffer.from('20010db8001000000000000000000007', 'hex').copy(h, 8);
  Buffer.from('20010db8002000000000000000000009', 'hex').copy(h, 24);
  return Buffer.concat([h, l4]);
}
const udp = (len: number) => Buffer.concat([Buffer.from([0x08, 0x68, 0x08, 0x68]), u16(8 + len), u16(0), Buffer.alloc(len, 0x5a)]);
const tcp = (len: number, flags = 0x10) => {
  const t = Buffer.alloc(20 + len, 0x61);
  t.writeUInt16BE(40000, 0);
  t.writeUInt16BE(443, 2);
  t.writeUInt32BE(1000, 4);
  t.writeUInt32BE(1, 8);
  t[12] = 0x50;
  t[13] = flags;
  t.writeUInt16BE(65535, 14);
  t.writeUInt32BE(0, 16);
  return t;
};
const icmp = Buffer.from([8, 0, 0, 0, 0, 1, 0, 1, 1, 2, 3, 4]);
const inner = [ipv4(17, udp(64)), ipv4(6, tcp(100)), ipv4(1, icmp), ipv6(17, udp(64)), ipv6(6, tcp(100)), ipv6(58, icmp)];
// A fragment (MF set) and an IPv6 packet behind a hop-by-hop header.
const frag = ipv4(17, udp(32));
frag[6] = 0x20;
inner.push(frag, ipv6(0, Buffer.concat([Buffer.from([17, 0, 1, 4, 0, 0, 0, 0]), udp(16)])));
for (const ip of inner) {
  add('native-esp_packet', Buffer.concat([Buffer.from([ip[0]! >> 4 === 6 ? 1 : 0]), ip]));
  add('native-esp_outbound', Buffer.concat([Buffer.from([0]), ip]));
  add('native-esp_outbound', Buffer.concat([Buffer.from([4 | 1]), Buffer.alloc(10), ip]));
  // Inbound: an authenticated packet carrying it ([seq][plaintext = ip, padding, trailer]).
  const pad = (4 - ((ip.length + 2) % 4)) % 4;
  const plain = Buffer.concat([ip, Buffer.from(Array.from({ length: pad }, (_, i) => i + 1)), Buffer.from([pad, ip[0]! >> 4 === 6 ? 41 : 4])]);
  const rec = Buffer.concat([Buffer.from([0, 0, 0, 1]), plain]);
  add('native-esp_inbound', Buffer.concat([Buffer.from([0, 2, 1]), u16(rec.length), rec]));
}
// TCP super-packets: virtio-net header (little-endian, as the kernel writes it) + IPv4/IPv6.
for (const ip of [ipv4(6, tcp(4000)), ipv6(6, tcp(4000))]) {
  const v6 = ip[0]! >> 4 === 6;
  const h = Buffer.alloc(10);
  h[0] = 1; // NEEDS_CSUM
  h[1] = v6 ? 4 : 1;
  h.writeUInt16LE(v6 ? 60 : 40, 2);
  h.writeUInt16LE(1400, 4);
  h.writeUInt16LE(v6 ? 40 : 20, 6);
  h.writeUInt16LE(16, 8);
  add('native-esp_outbound', Buffer.concat([Buffer.from([4]), h, ip]));
}
// Inbound: a run of in-order TCP segments of one flow (coalesced into one TUN write).
{
  const recs: Buffer[] = [];
  for (let i = 0; i < 4; i++) {
    const t = tcp(1000);
    t.writeUInt32BE(1000 + i * 1000, 4);
    const ip = ipv4(6, t);
    const pad = (4 - ((ip.length + 2) % 4)) % 4;
    const plain = Buffer.concat([ip, Buffer.from(Array.from({ length: pad }, (_, k) => k + 1)), Buffer.from([pad, 4])]);
    const rec = Buffer.concat([Buffer.from([0, 0, 0, i + 1]), plain]);
    recs.push(Buffer.concat([Buffer.from([1]), u16(rec.length), rec]));
  }
  add('native-esp_inbound', Buffer.concat([Buffer.from([0, 2]), ...recs]));
}

// --- VRRP: keepalived 2.2.7's own adverts (IPv4 with its RFC 5798 pseudo-header checksum, from
// 192.0.2.2 as the target's fixed source, so they pass as received; IPv6 from its link-local
// address, so the target re-checksums them for its fixed source), and segw's in every form.
for (const f of readFrames(join(CAPTURES_DIR, 'keepalived-vrrp.pcap'))) {
  const ip = f.data.subarray(14);
  const v6 = ip[0]! >> 4 === 6;
  const msg = v6 ? ip.subarray(40) : ip.subarray((ip[0]! & 15) * 4);
  add('vrrp', Buffer.concat([Buffer.from([v6 ? 1 | (1 << 1) : 0, v6 ? ip[7]! : ip[8]!]), msg]));
}
for (const [family, addresses] of [[4, ['192.0.2.100']], [4, ['192.0.2.100', '192.0.2.101', '192.0.2.102']], [6, ['2001:db8::100']]] as const) {
  const ends = family === 4 ? { family, src: '192.0.2.2', dst: '224.0.0.18' } as const : { family, src: 'fe80::2', dst: 'ff02::12' } as const;
  CHECKSUM_FORMS.filter((form) => family === 4 || form === 'rfc9568').forEach((form, i) => {
    for (const priority of [0, 100, 255]) {
      const msg = encodeAdvert({ vrid: VRRP_FUZZ_VRID, priority, maxAdvertInterval: 100, addresses: [...addresses] }, ends, form);
      add('vrrp', Buffer.concat([Buffer.from([(family === 6 ? 1 : 0) | ((i + 1) << 1) | 8, 255]), msg]));
    }
  });
}

// --- load reports: real ones sealed with the target's key (mode 0), and their bodies (mode 1).
for (const [i, role] of (['master', 'backup', 'init'] as const).entries()) {
  const report = encodeReport(
    {
      nodeId: `gw${i + 1}`,
      address: ['192.0.2.11', '2001:db8::12', 'gw3.example.net'][i]!,
      epoch: 1_733_300_000_000n + BigInt(i),
      sequence: BigInt(i + 1),
      intervalMs: 1000,
      role,
      draining: i === 1,
      leaving: i === 2,
      load: { tunnels: 100 * i, childSas: 120 * i, bytesPerSec: 1e6 * i, cpu: 0.25 * i },
      capacity: { maxTunnels: 10_000, bandwidthBps: 1e9 },
    },
    LOAD_FUZZ_KEY,
  );
  add('load-report', Buffer.concat([Buffer.from([0]), report]));
  add('load-report', Buffer.concat([Buffer.from([1]), report.subarray(0, report.length - MAC_OCTETS)]));
}

// `node seeds.ts NAME...` rewrites only those corpora (the exchange's seeds change every run).
const only = process.argv.slice(2);
for (const [name, inputs] of corpora) {
  if (only.length > 0 && !only.includes(name)) continue;
  const dir = join(CORPUS_DIR, name);
  mkdirSync(dir, { recursive: true });
  // Generated seeds are replaced; findings' inputs (regression-*) stay.
  for (const f of readdirSync(dir)) if (!f.startsWith('regression-')) rmSync(join(dir, f));
  for (const b of inputs) writeFileSync(join(dir, createHash('sha1').update(b).digest('hex').slice(0, 16)), b);
  console.log(`${name}: ${inputs.length} seeds`);
}

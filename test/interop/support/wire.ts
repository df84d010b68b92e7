/**
 * The wire check of every scenario: tshark decodes each IKE message in the capture, decrypted
 * with the SK_* keys strongSwan logged (charon ike level 4), and every message segw sent must
 * decode with no malformed flag and no expert error or warning, inside the SK payload too.
 *
 * tshark needs the keys per IKE SA (SPI pair), but charon logs keys without SPIs; each logged
 * key set is matched to the SPI pair whose protected messages it opens (with segw's codec,
 * which only checks the ICV), then handed to tshark as ikev2_decryption_table records.
 */
import { run } from '../../../src/lab/exec.js';
import { severityName } from '../../../src/lab/peers/tshark.js';
import { EncrId, IntegId, ProtocolId } from '../../../src/ike/constants.js';
import { decodeMessage, decodeProtected, FragmentReassembler, type Decoded } from '../../../src/ike/codec/index.js';
import { createSkTransform } from '../../../src/ike/crypto/index.js';
import type { IkeSuite } from '../../../src/ike/crypto/types.js';
import { ikeSuiteOf, parseProposal } from '../../../src/ike/proposal.js';
import { readUdpDatagrams } from '../../support/pcap.js';

export interface IkeKeySet {
  skAi: Buffer;
  skAr: Buffer;
  skEi: Buffer;
  skEr: Buffer;
}

/** Every SK_a and SK_e set charon logged at ike level 4 ("Sk_ei secret => 20 bytes @ ..." + hexdump). */
export function keysFromCharonLog(text: string): IkeKeySet[] {
  const sets: IkeKeySet[] = [];
  const partial = new Map<string, Partial<Record<'ai' | 'ar' | 'ei' | 'er', Buffer>>>();
  let cur: { thread: string; which: 'ai' | 'ar' | 'ei' | 'er' | undefined; len: number; bytes: number[] } | undefined;
  const flush = () => {
    if (!cur?.which) return;
    const p = partial.get(cur.thread) ?? {};
    p[cur.which] = Buffer.from(cur.bytes.slice(0, cur.len));
    partial.set(cur.thread, p);
    // AEAD suites have no SK_a*: charon logs none.
    if (cur.which === 'er' && p.ei) {
      sets.push({ skAi: p.ai ?? Buffer.alloc(0), skAr: p.ar ?? Buffer.alloc(0), skEi: p.ei, skEr: p.er! });
      partial.delete(cur.thread);
    }
  };
  for (const line of text.split('\n')) {
    const m = /^\S+ (\d+)\[IKE\] (?:<[^>]*> )?(.*)$/.exec(line);
    if (!m) continue;
    const [, thread, body] = m as unknown as [string, string, string];
    const head = /^Sk_(\w+) secret => (\d+) bytes/.exec(body);
    if (head) {
      flush();
      const which = (['ai', 'ar', 'ei', 'er'] as const).find((w) => w === head[1]);
      cur = { thread, which, len: Number(head[2]), bytes: [] };
      if (cur.len === 0) flush();
      continue;
    }
    const dump = /^\s*\d+: ((?:[0-9A-F]{2} ){0,15}[0-9A-F]{2})/.exec(body);
    if (dump && cur && cur.thread === thread && cur.bytes.length < cur.len) {
      for (const h of dump[1]!.split(' ')) cur.bytes.push(parseInt(h, 16));
      if (cur.bytes.length >= cur.len) {
        flush();
        cur = undefined;
      }
    }
  }
  return sets;
}

/** tshark's names (packet-isakmp.c) for the algorithms segw implements. */
function tsharkEncr(s: IkeSuite): string {
  if (s.encr === EncrId.ENCR_AES_GCM_16) return `AES-GCM-${s.encrKeyLength} with 16 octet ICV [RFC5282]`;
  if (s.encr === EncrId.ENCR_AES_CBC) return `AES-CBC-${s.encrKeyLength} [RFC3602]`;
  throw new Error(`no tshark name for ENCR ${s.encr}`);
}

function tsharkInteg(s: IkeSuite): string {
  const names: Record<number, string> = {
    [IntegId.NONE]: 'NONE [RFC4306]',
    [IntegId.AUTH_HMAC_SHA2_256_128]: 'HMAC_SHA2_256_128 [RFC4868]',
    [IntegId.AUTH_HMAC_SHA2_384_192]: 'HMAC_SHA2_384_192 [RFC4868]',
    [IntegId.AUTH_HMAC_SHA2_512_256]: 'HMAC_SHA2_512_256 [RFC4868]',
  };
  const n = names[s.integ];
  if (!n) throw new Error(`no tshark name for INTEG ${s.integ}`);
  return n;
}

interface IkeDatagram {
  frame: number;
  decoded: Decoded;
  pair: string;
  fromInitiator: boolean;
}

function ikeDatagrams(file: string): IkeDatagram[] {
  const out: IkeDatagram[] = [];
  for (const u of readUdpDatagrams(file)) {
    if (u.sport !== 500 && u.dport !== 500 && u.sport !== 4500 && u.dport !== 4500) continue;
    let p = u.payload;
    if (u.sport === 4500 || u.dport === 4500) {
      if (p.length < 4 || p.readUInt32BE(0) !== 0) continue; // ESP or a NAT-keepalive
      p = p.subarray(4);
    }
    const r = decodeMessage(p);
    if (!r.ok) continue;
    const h = r.message.header;
    out.push({
      frame: u.frame,
      decoded: { message: r.message, raw: Buffer.from(r.raw) },
      pair: `${h.spiI.toString('hex')}_${h.spiR.toString('hex')}`,
      fromInitiator: (h.flags & 0x08) !== 0,
    });
  }
  return out;
}

/** Whether `keys` open this protected message (SK) or fragment (SKF). */
function opens(d: IkeDatagram, suite: IkeSuite, keys: IkeKeySet): boolean {
  const sk = d.fromInitiator ? createSkTransform(suite, keys.skEi, keys.skAi) : createSkTransform(suite, keys.skEr, keys.skAr);
  const last = d.decoded.message.payloads.at(-1);
  if (last?.type === 46) return decodeProtected(d.decoded, sk).ok;
  if (last?.type === 53) return new FragmentReassembler().add(d.decoded, sk).ok;
  return false;
}

/** SPI pair -> the logged key set that opens its messages. */
export function matchKeys(file: string, suite: IkeSuite, sets: IkeKeySet[]): Map<string, IkeKeySet> {
  const byPair = new Map<string, IkeDatagram[]>();
  for (const d of ikeDatagrams(file)) {
    const t = d.decoded.message.payloads.at(-1)?.type;
    if (t !== 46 && t !== 53) continue;
    byPair.set(d.pair, [...(byPair.get(d.pair) ?? []), d]);
  }
  const out = new Map<string, IkeKeySet>();
  for (const [pair, ds] of byPair) {
    const k = sets.find((s) => opens(ds[0]!, suite, s));
    if (k) out.set(pair, k);
  }
  return out;
}

export interface IkeFrame {
  frame: number;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  spiI: string;
  spiR: string;
  exchange: number;
  response: boolean;
  /** Payload types tshark decoded, the SK payload's contents included once decrypted. */
  payloads: number[];
  notifies: number[];
  /** RFC 7383 fragment number / total, when the message is an SKF fragment. */
  fragment?: { number: number; total: number };
  encrypted: boolean;
  decrypted: boolean;
  malformed: boolean;
  expert: { severity: string; message: string }[];
}

export interface WireReport {
  file: string;
  ike: IkeFrame[];
  /** ESP-in-UDP frames (SPI in hex). */
  esp: { frame: number; src: string; dst: string; sport: number; dport: number; spi: string }[];
  /** IKE frames segw sent. */
  fromSegw: IkeFrame[];
  /** What is wrong with the frames segw sent (empty when the wire is clean). */
  problems: string[];
  /** SPI pairs whose keys were found in charon's log. */
  keyedPairs: string[];
}

const FIELDS = [
  'frame.number',
  'ip.src',
  'ip.dst',
  'udp.srcport',
  'udp.dstport',
  'isakmp.ispi',
  'isakmp.rspi',
  'isakmp.exchangetype',
  'isakmp.flag_r',
  'isakmp.typepayload',
  'isakmp.notify.msgtype',
  'isakmp.frag.number',
  'isakmp.frag.total',
  'isakmp.enc.data',
  'isakmp.enc.decrypted',
  '_ws.malformed',
  '_ws.expert.severity',
  '_ws.expert.message',
  'esp.spi',
  'ipv6.src',
  'ipv6.dst',
];

/** Decodes the capture with tshark (decrypting with the logged keys) and judges segw's frames. */
export async function checkWire(file: string, opts: { segwAddrs: string[]; ikeProposal: string; charonLog: string }): Promise<WireReport> {
  const suite = ikeSuiteOf(parseProposal(opts.ikeProposal, ProtocolId.IKE));
  const keys = matchKeys(file, suite, keysFromCharonLog(opts.charonLog));
  const args = ['-n', '-2', '-r', file, '-Y', 'isakmp || esp', '-T', 'fields', '-E', 'separator=\t', '-E', 'occurrence=a', '-E', 'aggregator=|'];
  for (const [pair, k] of keys) {
    const [i, r] = pair.split('_');
    const rec = [i, r, k.skEi.toString('hex'), k.skEr.toString('hex'), `"${tsharkEncr(suite)}"`, k.skAi.toString('hex'), k.skAr.toString('hex'), `"${tsharkInteg(suite)}"`];
    args.push('-o', `uat:ikev2_decryption_table:${rec.join(',')}`);
  }
  for (const f of FIELDS) args.push('-e', f);
  const out = await run('tshark', args, { timeoutMs: 60_000 });
  const ike: IkeFrame[] = [];
  const esp: WireReport['esp'] = [];
  for (const line of out.stdout.split('\n')) {
    if (!line.trim()) continue;
    const c = line.split('\t');
    const first = (i: number) => (c[i] ?? '').split('|')[0] ?? '';
    const nums = (i: number) => (c[i] ? c[i]!.split('|').map(Number) : []);
    const base = { frame: Number(c[0]), src: first(1) || first(19), dst: first(2) || first(20), sport: Number(first(3)), dport: Number(first(4)) };
    if (c[18]) {
      esp.push({ ...base, spi: first(18).replace(/^0x/, '') });
      continue;
    }
    if (!c[7]) continue;
    const sev = (c[16] ? c[16].split('|') : []).map(severityName);
    const msgs = c[17] ? c[17].split('|') : [];
    ike.push({
      ...base,
      spiI: first(5),
      spiR: first(6),
      exchange: Number(first(7)),
      response: first(8) === '1' || first(8) === 'True',
      payloads: nums(9),
      notifies: nums(10),
      ...(c[11] ? { fragment: { number: Number(first(11)), total: Number(first(12)) } } : {}),
      encrypted: Boolean(c[13]),
      decrypted: Boolean(c[14]),
      malformed: Boolean(c[15]),
      expert: sev.map((severity, i) => ({ severity, message: msgs[i] ?? '' })),
    });
  }
  const fromSegw = ike.filter((f) => opts.segwAddrs.includes(f.src));
  const problems: string[] = [];
  for (const f of fromSegw) {
    const what = `frame ${f.frame} (exchange ${f.exchange} ${f.response ? 'response' : 'request'}, ${f.spiI}_${f.spiR})`;
    if (f.malformed) problems.push(`${what}: malformed`);
    for (const e of f.expert) if (e.severity === 'error' || e.severity === 'warning') problems.push(`${what}: expert ${e.severity}: ${e.message}`);
    if (f.encrypted && !f.decrypted) problems.push(`${what}: not decrypted (no key set from charon's log opened it)`);
  }
  return { file, ike, esp, fromSegw, problems, keyedPairs: [...keys.keys()] };
}

/**
 * The cluster's load-report path (src/cluster/report.ts, table.ts) on datagrams from a
 * configured peer: decodeReport never throws; a datagram that does not carry the cluster key's
 * MAC is never accepted (a forgery); an authentic report re-encodes to one that decodes to the
 * same value; the membership table applies it and then refuses the same datagram again (replay),
 * and counts every outcome under a known reason.
 *
 * Input: byte 0 bit 0 = 0: the datagram as it arrives (seeds are real reports; a mutation breaks
 * their MAC); 1: the target sets the length field and seals the rest with the key,
 * so the fuzzer explores what an authentic member (or one with a bug) can send past the MAC.
 */
import { isDeepStrictEqual } from 'node:util';
import { ClusterKey, MAC_OCTETS } from '../../../src/cluster/key.js';
import { decodeReport, encodeReport } from '../../../src/cluster/report.js';
import { MembershipTable, REJECT_REASONS, staleAfterMs } from '../../../src/cluster/table.js';
import { invariant, type FuzzTarget } from '../registry.js';

export const FUZZ_KEY = new ClusterKey(Buffer.alloc(32, 0x5a));
export const FUZZ_PEER = '192.0.2.12';
/** Where the length field sits (after magic u32, version u8, flags u8): see report.ts's HEADER. */
const LENGTH_OFFSET = 6;

/** The datagram with its length field and MAC made right, as an authentic sender would. */
export function seal(body: Buffer): Buffer {
  const signed = Buffer.from(body);
  if (signed.length >= LENGTH_OFFSET + 2) signed.writeUInt16BE(Math.min(0xffff, signed.length + MAC_OCTETS), LENGTH_OFFSET);
  return Buffer.concat([signed, FUZZ_KEY.mac(signed)]);
}

export const target: FuzzTarget = {
  name: 'load-report',
  input: 'mode octet + one load-report datagram (mode 1: sealed by the target)',
  fuzz(data) {
    if (data.length < 1) return;
    const datagram = data[0]! & 1 ? seal(data.subarray(1)) : data.subarray(1);
    const d = decodeReport(datagram, FUZZ_KEY);
    if (d.ok) {
      const macAt = datagram.length - MAC_OCTETS;
      invariant(FUZZ_KEY.verify(datagram.subarray(0, macAt), datagram.subarray(macAt)), 'a datagram without the cluster key\'s MAC was accepted');
      const again = decodeReport(encodeReport(d.report, FUZZ_KEY), FUZZ_KEY);
      invariant(again.ok, `an accepted report re-encodes to one that does not decode: ${again.ok ? '' : again.reason}`);
      invariant(isDeepStrictEqual(again.report, d.report), 'decode(encode(report)) differs from the report');
    }
    const table = new MembershipTable({ selfId: 'gw-self', key: FUZZ_KEY, staleAfter: 3, peers: [FUZZ_PEER] });
    const first = table.receive(datagram, FUZZ_PEER, 1000);
    invariant(first.accepted === (d.ok && d.report.nodeId !== 'gw-self'), `table and decoder disagree: ${JSON.stringify(first)}`);
    const second = table.receive(datagram, FUZZ_PEER, 1001);
    if (first.accepted) invariant(!second.accepted && second.reason === 'replay', `the same report was accepted twice: ${JSON.stringify(second)}`);
    invariant(!table.receive(datagram, '192.0.2.99', 1002).accepted, 'a report from an unconfigured address was accepted');
    const rejected = Object.entries(table.counters.rejected);
    invariant(rejected.every(([r]) => (REJECT_REASONS as readonly string[]).includes(r)), 'a rejection counted under an unknown reason');
    invariant(table.counters.accepted + rejected.reduce((n, [, c]) => n + c, 0) === 3, 'a datagram was not counted');
    // A member that falls silent goes stale after K of its own intervals, whatever it claimed.
    const silent = 1001 + staleAfterMs(3, d.ok ? d.report.intervalMs : 1) + 1;
    table.sweep(silent);
    for (const e of table.entries(silent)) invariant(e.self || e.stale, `member ${e.report.nodeId} not stale after K intervals of silence`);
    for (const e of table.candidates(silent - 2, { tunnels: 1, bandwidth: 1, cpu: 1 }, 0.8)) {
      invariant(!e.report.draining && !e.stale, 'a draining or stale member is a redirect candidate');
    }
  },
};

/**
 * Malformed ESP-in-UDP payloads an attacker without the keys can send at an SA (RFC 4303): each
 * kind is built from a genuine packet sealed with the SA's own key (test/support/esp-fixtures),
 * then broken the way an attacker can break it, and names the drop reason the engine must
 * count (native/src/esp/packet.h `Verdict`):
 *
 *   bad-spi    an SPI no SA has                                            -> no-sa
 *   bad-icv    a fresh sequence number ahead of the window, ICV flipped     -> integrity
 *   truncated  SPI and sequence number only (shorter than header+IV+ICV)    -> truncated
 *   replay     an authentic packet with a sequence number already received  -> replay (*)
 *   bad-length a fresh packet one octet short or long (the ICV lands wrong) -> integrity
 *
 * (*) while that number is inside the receiver's window. With ESN, a number below the window
 * is taken to be from the next 2^32 epoch (RFC 4303 App. A2.2), so an old replay fails the ICV
 * and is counted as integrity instead (bench/flood's ESP row, where iperf3 moves the window).
 *
 * None of them is authentic, so none moves the anti-replay window (RFC 4303 §3.4.3: it moves
 * only after the ICV verified) and the tunnel they are aimed at keeps working.
 */
import type { NativeSa } from '../../src/kernel/userspace/native.js';
import { bareEngine, gcmSa, icmpEcho } from './esp-fixtures.js';

export type MalformedKind = 'bad-spi' | 'bad-icv' | 'truncated' | 'replay' | 'bad-length';
export const MALFORMED_KINDS: readonly MalformedKind[] = ['bad-spi', 'bad-icv', 'truncated', 'replay', 'bad-length'];

/** The engine's drop reason (`stats().drops.in` key) for each kind. */
export const EXPECTED_REASON: Readonly<Record<MalformedKind, string>> = {
  'bad-spi': 'no-sa',
  'bad-icv': 'integrity',
  truncated: 'truncated',
  replay: 'replay',
  'bad-length': 'integrity',
};

export interface MalformedSet {
  kind: MalformedKind;
  packets: Buffer[];
}

export interface TargetSa {
  spi: number;
  /** AES-GCM-16 key and salt, as the IKE code hands them to the data plane. */
  encryptionKey: Buffer;
  esn: boolean;
  /** Inner addresses of a packet the SA carries. */
  innerSrc: string;
  innerDst: string;
  /** Sequence numbers the receiver has already accepted (replays reuse them): 1..replayUpTo. */
  replayUpTo: number;
}

/**
 * `perKind` distinct packets of every kind (distinct sequence numbers where that matters), each
 * kind's sequence numbers far from the others' and from the tunnel's own.
 */
export function malformedEsp(t: TargetSa, perKind: number): MalformedSet[] {
  const e = bareEngine();
  try {
    const sa: NativeSa = { ...gcmSa({ spi: t.spi, encryptionKey: t.encryptionKey, esn: t.esn }), direction: 'out' };
    const out = e.addSa(sa);
    const inner = icmpEcho(t.innerSrc, t.innerDst, 56);
    const seal = (seq: number): Buffer => {
      e.setSeq(out, BigInt(seq - 1));
      const r = e.espSeal(out, inner, 4);
      if (!r.packet) throw new Error(`sealing a packet for the malformed set failed: ${r.verdict}`);
      return Buffer.from(r.packet);
    };
    const range = (n: number, f: (i: number) => Buffer) => Array.from({ length: n }, (_, i) => f(i));
    const FAR = 0x40000000; // far ahead of the tunnel's own counter, within one ESN epoch
    return [
      { kind: 'bad-spi', packets: range(perKind, (i) => { const p = seal(FAR + i); p.writeUInt32BE((t.spi ^ 0x5a5a0000 ^ (i + 1)) >>> 0, 0); return p; }) },
      { kind: 'bad-icv', packets: range(perKind, (i) => { const p = seal(FAR + perKind + i); p[p.length - 1]! ^= 0x01; return p; }) },
      { kind: 'truncated', packets: range(perKind, (i) => seal(FAR + 2 * perKind + i).subarray(0, 8)) },
      { kind: 'replay', packets: range(perKind, (i) => seal(1 + (i % t.replayUpTo))) },
      { kind: 'bad-length', packets: range(perKind, (i) => { const p = seal(FAR + 3 * perKind + i); return i % 2 ? p.subarray(0, p.length - 1) : Buffer.concat([p, Buffer.alloc(1)]); }) },
    ];
  } finally {
    e.close();
  }
}

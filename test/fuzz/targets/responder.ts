/**
 * The whole responder path: datagrams into a gateway IkeDaemon (stub kernel, in-memory wire,
 * manual clock), then its timers run for longer than any half-open or retransmit timeout.
 * Whatever it does, nothing throws out, nothing hangs (the fuzzer's timeout), and no handler
 * hits the daemon's safety nets ("bug while ..." in its log: the manager and each IKE SA catch
 * a throw, log it and drop the datagram or the SA, so a throw there is a defect the wire hides).
 *
 * Input: byte 0 picks the mode.
 *   even: unauthenticated. Records [to u8][length u16][datagram] arrive from one peer, to port
 *     500 or 4500 (bit 0 of `to`). Invariant (RFC 7296 §2.21, the reflection rule segw keeps):
 *     one datagram in draws at most one datagram out.
 *   odd: an authenticated peer. A real initiator runs IKE_SA_INIT with the gateway (x25519,
 *     bit 1 of byte 0: AES-GCM-16 instead of AES-CBC + HMAC), then each record
 *     [exchange u8][first payload u8][length u16][plaintext] becomes a protected request
 *     (message IDs 1, 2, ...) sealed with the initiator's SK_ei/SK_ai, so the gateway's
 *     handlers see arbitrary payload chains that passed the ICV.
 */
import { ExchangeType, HeaderFlag } from '../../../src/ike/constants.js';
import { paddedPlaintext, sealMessage } from '../../../src/ike/codec/protected.js';
import { Writer } from '../../../src/ike/codec/struct.js';
import pino from 'pino';
import { captureLog } from '../../support/log-capture.js';
import { Pair } from '../../exchange/harness.js';
import { invariant, type FuzzTarget } from '../registry.js';

const MAX_RECORDS = 8;
const EXCHANGES = [ExchangeType.IKE_AUTH, ExchangeType.CREATE_CHILD_SA, ExchangeType.INFORMATIONAL, ExchangeType.IKE_SA_INIT];
const PEER = { address: '192.0.2.66', port: 500 };
const GW = '192.0.2.1';

class Records {
  private off = 1;
  constructor(private readonly data: Buffer) {}
  /** The next record's `fields` leading octets and body, or null at the end. */
  next(fields: number): { head: number[]; body: Buffer } | null {
    if (this.off + fields + 2 > this.data.length) return null;
    const head = [...this.data.subarray(this.off, this.off + fields)];
    const len = this.data.readUInt16BE(this.off + fields);
    const start = this.off + fields + 2;
    const body = this.data.subarray(start, Math.min(start + len, this.data.length));
    this.off = start + body.length;
    return { head, body };
  }
}

// One logger of each kind for the whole run: building pino loggers was a tenth of each input.
// The capture writes synchronously, so every line lands before the input's check reads it.
const capture = captureLog('warn');
const silent = pino({ level: 'silent' });

function pair(gcm: boolean) {
  capture.lines.length = 0;
  const proposals = ['aes128gcm16-prfsha256-x25519', 'aes256-sha256-x25519'];
  const p = new Pair({
    bs: { ikeProposals: [proposals[gcm ? 0 : 1]!] },
    gw: { ikeProposals: proposals },
    gwDaemon: { log: capture.log },
    bsDaemon: { log: silent },
  });
  return { p, lines: capture.lines };
}

function bugs(lines: Record<string, unknown>[]): string[] {
  return lines.map((l) => String(l.msg)).filter((m) => /\bbug\b/.test(m));
}

async function unauthenticated(data: Buffer): Promise<void> {
  const { p, lines } = pair(false);
  await p.start();
  try {
    const recs = new Records(data);
    let inCount = 0;
    for (let r = recs.next(1); r && inCount < MAX_RECORDS; r = recs.next(1)) {
      const port = r.head[0]! & 1 ? 4500 : 500;
      p.wire.deliver({ from: { ...PEER, port }, to: { address: GW, port }, data: Buffer.from(r.body), natT: port === 4500 });
      inCount++;
      await p.settle();
      const out = p.wire.log.filter((d) => d.from.address === GW).length;
      invariant(out <= inCount, `${inCount} unauthenticated datagrams drew ${out} datagrams`);
    }
    await p.advance(120_000);
    await p.advance(120_000);
    const b = bugs(lines);
    invariant(b.length === 0, `daemon safety net caught: ${b.join('; ')}`);
  } finally {
    await p.stop();
  }
}

async function authenticated(data: Buffer): Promise<void> {
  const { p, lines } = pair((data[0]! & 2) !== 0);
  await p.start();
  try {
    await p.initiate();
    await p.next(); // IKE_SA_INIT request -->
    await p.next(); // <-- IKE_SA_INIT response
    p.wire.dropAll(); // the initiator's own IKE_AUTH request: replaced by the records
    const sa = p.bs.daemon.manager.ikeSaList()[0];
    invariant(sa?.skOut, 'the initiator has no SK keys after IKE_SA_INIT');
    const gwSock = p.wire.log[0]!.to;
    const from = p.wire.log[0]!.from;
    const recs = new Records(data);
    let id = 1;
    for (let r = recs.next(2); r && id <= MAX_RECORDS; r = recs.next(2), id++) {
      const header = { ...sa.newMessage(EXCHANGES[r.head[0]! & 3]!, id, false).header, flags: HeaderFlag.INITIATOR };
      const w = new Writer(r.body.length + 32);
      w.raw(r.body);
      const dgram = sealMessage(header, r.head[1]!, paddedPlaintext(w, sa.skOut.blockSize), sa.skOut, null);
      p.wire.deliver({ from, to: gwSock, data: Buffer.from(dgram), natT: false });
      await p.settle();
    }
    await p.advance(120_000);
    await p.advance(120_000);
    const b = bugs(lines);
    invariant(b.length === 0, `daemon safety net caught: ${b.join('; ')}`);
  } finally {
    await p.stop();
  }
}

export const target: FuzzTarget = {
  name: 'responder',
  input: 'mode octet, then datagrams (or plaintexts of protected requests) for a gateway daemon',
  async fuzz(data) {
    if (data.length === 0) return;
    if (data[0]! & 1) await authenticated(data);
    else await unauthenticated(data);
  },
};

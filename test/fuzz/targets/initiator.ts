/**
 * The initiator path (a base station, src/initiator's IKE side): what a gateway, or anyone on
 * the path, answers it. The base station sends IKE_SA_INIT; the answers come from the input.
 * Nothing may throw out, hang, or trip the daemon's safety nets ("bug while ...").
 *
 * Input: byte 0 picks the mode.
 *   even: unauthenticated answers. Records [flags u8][length u16][datagram]; with flags bit 0
 *     the datagram's SPIi and message ID are set to the pending request's, so it reaches the
 *     half-open SA instead of being dropped at the SPI lookup.
 *   odd: a gateway that completed IKE_SA_INIT (real keys, x25519; bit 1: AES-GCM-16). Records
 *     [exchange u8][first payload u8][length u16][plaintext] become protected responses sealed
 *     with the gateway's SK_er/SK_ar, the first with message ID 1 (the IKE_AUTH response).
 */
import pino from 'pino';
import { ExchangeType, HeaderFlag } from '../../../src/ike/constants.js';
import { paddedPlaintext, sealMessage } from '../../../src/ike/codec/protected.js';
import { Writer } from '../../../src/ike/codec/struct.js';
import { captureLog } from '../../support/log-capture.js';
import { Pair } from '../../exchange/harness.js';
import { invariant, type FuzzTarget } from '../registry.js';

const MAX_RECORDS = 8;
const EXCHANGES = [ExchangeType.IKE_AUTH, ExchangeType.CREATE_CHILD_SA, ExchangeType.INFORMATIONAL, ExchangeType.IKE_SA_INIT];

function records(data: Buffer, fields: number): { head: number[]; body: Buffer }[] {
  const out: { head: number[]; body: Buffer }[] = [];
  let off = 1;
  while (off + fields + 2 <= data.length && out.length < MAX_RECORDS) {
    const head = [...data.subarray(off, off + fields)];
    const len = data.readUInt16BE(off + fields);
    const start = off + fields + 2;
    const body = data.subarray(start, Math.min(start + len, data.length));
    out.push({ head, body });
    off = start + body.length;
  }
  return out;
}

// One logger of each kind for the whole run (see responder.ts).
const capture = captureLog('warn');
const silent = pino({ level: 'silent' });

export const target: FuzzTarget = {
  name: 'initiator',
  input: 'mode octet, then answers (or plaintexts of protected responses) to a base station',
  async fuzz(data) {
    if (data.length === 0) return;
    const log = capture;
    log.lines.length = 0;
    const proposals = ['aes128gcm16-prfsha256-x25519', 'aes256-sha256-x25519'];
    const p = new Pair({
      bs: { ikeProposals: [proposals[data[0]! & 2 ? 0 : 1]!] },
      gw: { ikeProposals: proposals },
      bsDaemon: { log: log.log },
      gwDaemon: { log: silent },
    });
    await p.start();
    try {
      await p.initiate();
      const request = p.wire.queue[0]!;
      if (data[0]! & 1) {
        await p.next(); // IKE_SA_INIT request -->
        await p.next(); // <-- IKE_SA_INIT response
        p.wire.dropAll(); // the IKE_AUTH request: the gateway never sees it
        const gwSa = p.gw.daemon.manager.ikeSaList()[0];
        invariant(gwSa?.skOut, 'the gateway has no SK keys after IKE_SA_INIT');
        let id = 1;
        for (const r of records(data, 2)) {
          const header = { ...gwSa.newMessage(EXCHANGES[r.head[0]! & 3]!, id++, true).header, flags: HeaderFlag.RESPONSE };
          const w = new Writer(r.body.length + 32);
          w.raw(r.body);
          const dgram = sealMessage(header, r.head[1]!, paddedPlaintext(w, gwSa.skOut.blockSize), gwSa.skOut, null);
          p.wire.deliver({ from: request.to, to: request.from, data: Buffer.from(dgram), natT: false });
          await p.settle();
        }
      } else {
        p.wire.dropAll();
        for (const r of records(data, 1)) {
          const d = Buffer.from(r.body);
          if (r.head[0]! & 1 && d.length >= 28) {
            request.data.copy(d, 0, 0, 8); // SPIi
            d.writeUInt32BE(0, 20); // message ID of IKE_SA_INIT
          }
          p.wire.deliver({ from: request.to, to: request.from, data: d, natT: false });
          await p.settle();
        }
      }
      await p.advance(120_000);
      await p.advance(120_000);
      const bugs = log.lines.map((l) => String(l.msg)).filter((m) => /\bbug\b/.test(m));
      invariant(bugs.length === 0, `daemon safety net caught: ${bugs.join('; ')}`);
    } finally {
      await p.stop();
    }
  },
};

/**
 * The half-open bound under a spoofed IKE_SA_INIT flood (RFC 7296 §2.6), message by message:
 *   - spoofed sources never see the gateway's answers, so they cannot return a cookie: once
 *     `cookieThreshold` SAs are half-open every further request is answered with N(COOKIE)
 *     and creates no state, and the count stays at the threshold;
 *   - sources that do return cookies (a flood from addresses the attacker owns) can fill the
 *     table, but never beyond `halfOpenMax`;
 *   - a legitimate initiator in the middle of the spoofed flood returns its cookie and connects.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Pair } from './harness.js';
import { IkeState } from '../../src/ike/sa/ike-sa.js';
import { NotifyStatus, PayloadType } from '../../src/ike/constants.js';
import { decodeMessage, encodeMessage } from '../../src/ike/codec/index.js';
import { findNotify } from '../../src/ike/codec/access.js';
import type { IkeMessage, NotifyPayload } from '../../src/ike/codec/types.js';
import type { WireDatagram } from '../../src/ike/transport/memory.js';

const COOKIE_THRESHOLD = 5;
const HALF_OPEN_MAX = 20;
const settings = { cookieThreshold: COOKIE_THRESHOLD, halfOpenMax: HALF_OPEN_MAX, halfOpenPerPeer: 100 };

/** The base station's IKE_SA_INIT request, taken off the wire (not delivered). */
async function initRequest(p: Pair): Promise<WireDatagram> {
  await p.bs.daemon.initiate('bs');
  await p.settle();
  const [d] = p.wire.dropAll();
  return d!;
}

/** `req` with initiator SPI number `n` (each a new half-open request to the gateway). */
function withSpi(req: WireDatagram, n: number): Buffer {
  const data = Buffer.from(req.data);
  data.writeUInt32BE(0x5f000000, 0);
  data.writeUInt32BE(n >>> 0, 4);
  return data;
}

/** Spoofed source i of the flood: 198.51.100.0/24 and 203.0.113.0/24, never the base station's. */
const spoofed = (i: number) => `${i % 2 ? '198.51.100' : '203.0.113'}.${1 + (i % 250)}`;

function cookieOf(d: WireDatagram): Buffer | undefined {
  const dec = decodeMessage(d.data);
  if (!dec.ok) return undefined;
  return findNotify(dec.message.payloads, NotifyStatus.COOKIE)?.data;
}

/** §2.6: the request again with N(COOKIE) as its first payload. */
function withCookie(data: Buffer, cookie: Buffer): Buffer {
  const dec = decodeMessage(data);
  assert.ok(dec.ok);
  const n: NotifyPayload = { type: PayloadType.NOTIFY, protocol: 0, spi: Buffer.alloc(0), notifyType: NotifyStatus.COOKIE, data: cookie };
  const msg: IkeMessage = { header: dec.message.header, payloads: [n, ...dec.message.payloads] };
  return encodeMessage(msg);
}

test('spoofed flood: cookies engage at the threshold, half-open stays there, and a base station connects in the middle of it', async () => {
  const p = new Pair({ gwDaemon: { settings } });
  await p.start();
  try {
    const req = await initRequest(p);
    let most = 0;
    let cookiesSeen = 0;
    const flood = async (from: number, n: number) => {
      for (let i = from; i < from + n; i++) {
        p.wire.deliver({ ...req, from: { address: spoofed(i), port: 500 }, data: withSpi(req, i) });
        most = Math.max(most, p.gw.daemon.manager.halfOpenCount);
      }
      await p.settle();
      // The answers go to the spoofed addresses, which do nothing with them; the base
      // station's own messages stay on the wire.
      const q = p.wire.queue;
      for (let k = q.length - 1; k >= 0; k--) {
        if (q[k]!.to.address === p.bs.addr || q[k]!.from.address === p.bs.addr) continue;
        if (cookieOf(q[k]!)) cookiesSeen++;
        q.splice(k, 1);
      }
      most = Math.max(most, p.gw.daemon.manager.halfOpenCount);
    };
    await flood(0, 500);
    assert.equal(most, COOKIE_THRESHOLD, 'half-open SAs stop growing at the cookie threshold');
    assert.equal(p.gw.daemon.counters.cookie_sent, 500 - COOKIE_THRESHOLD, 'every request above the threshold got N(COOKIE)');
    assert.equal(cookiesSeen, 500 - COOKIE_THRESHOLD);

    // A base station starts while the flood goes on: IKE_SA_INIT, N(COOKIE), IKE_SA_INIT again
    // with the cookie, IKE_AUTH; spoofed requests are interleaved with each of its messages.
    const bsSa = await p.initiate();
    for (let step = 0, sent = 500; p.wire.queue.length > 0 && step < 20; step++, sent += 50) {
      await p.next();
      await flood(sent, 50);
    }
    assert.equal(bsSa.state, IkeState.ESTABLISHED, 'the base station is up');
    assert.ok(p.peerOf(bsSa, p.gw)?.state === IkeState.ESTABLISHED, 'and the gateway holds its SA');
    assert.ok(p.gw.daemon.counters.cookie_sent! > 500, 'cookies were still being asked of everyone');
    assert.ok(most <= COOKIE_THRESHOLD + 1, `half-open never beyond the threshold plus the base station's (${most})`);
  } finally {
    await p.stop();
  }
});

test('a flood that returns cookies fills the half-open table up to halfOpenMax and never beyond', async () => {
  const p = new Pair({ gwDaemon: { settings } });
  await p.start();
  try {
    const req = await initRequest(p);
    let most = 0;
    // Round 1: 200 requests from 200 addresses; above the threshold each gets a cookie.
    for (let i = 0; i < 200; i++) p.wire.deliver({ ...req, from: { address: spoofed(i), port: 500 }, data: withSpi(req, i) });
    await p.settle();
    const answers = p.wire.dropAll();
    most = Math.max(most, p.gw.daemon.manager.halfOpenCount);
    // Round 2: each source returns its cookie, as an attacker that owns its addresses can.
    let returned = 0;
    for (const a of answers) {
      const cookie = cookieOf(a);
      if (!cookie) continue;
      const i = a.data.readUInt32BE(4);
      p.wire.deliver({ ...req, from: a.to, data: withCookie(withSpi(req, i), cookie) });
      returned++;
      most = Math.max(most, p.gw.daemon.manager.halfOpenCount);
    }
    await p.settle();
    p.wire.dropAll();
    most = Math.max(most, p.gw.daemon.manager.halfOpenCount);
    assert.equal(returned, 200 - COOKIE_THRESHOLD);
    assert.equal(most, HALF_OPEN_MAX, 'the table fills to halfOpenMax');
    assert.equal(p.gw.daemon.manager.halfOpenCount, HALF_OPEN_MAX, 'and not one beyond');
    assert.equal(p.gw.daemon.counters.half_open_limit, 200 - HALF_OPEN_MAX, 'the rest refused and counted');
    assert.equal(p.gw.daemon.counters.half_open_reserve ?? 0, 0, 'strangers get no reserve');
  } finally {
    await p.stop();
  }
});

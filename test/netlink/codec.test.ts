/**
 * Attributes, messages and acknowledgements on raw bytes: what the kernel sends (including the
 * extended ACK) is read correctly, and what segw writes is aligned and padded as netlink wants.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attr, attrs, decodeAttrs, encodeAttrs, nlIp, nlString, nlU32, splitAttrs } from '../../src/netlink/attr.js';
import { flagNames, nameOf, NLM_F, NLMSG } from '../../src/netlink/constants.js';
import { NetlinkError, errnoName } from '../../src/netlink/errors.js';
import { encodeMessage, parseAck, splitMessages } from '../../src/netlink/message.js';
import { bytesToIp, ipToBytes } from '../../src/net/ip.js';
import { RTM, RTA } from '../../src/netlink/rtnetlink.js';
import { XFRM_MSG, XFRMA } from '../../src/netlink/xfrm.js';
import { describeRtnetlink, describeXfrm } from '../../src/netlink/describe.js';

const T = attrs('T', { T_NAME: attr(1, nlString), T_NUM: attr(2, nlU32), T_ADDR: attr(3, nlIp) });

test('attributes: header, payload, zero padding to 4 octets, in the order given', () => {
  const b = encodeAttrs(T, { T_NAME: 'a0', T_NUM: 7 });
  // len 7 ("a0\0" + 4), type 1, "a0\0", one pad octet; len 8, type 2, 7
  assert.equal(b.toString('hex'), '07000100' + '613000' + '00' + '08000200' + '07000000');
  assert.deepEqual(decodeAttrs(T, b), { T_NAME: 'a0', T_NUM: 7 });
});

test('attributes: unknown types are kept aside, a truncated header ends the walk', () => {
  const b = Buffer.concat([encodeAttrs(T, { T_NUM: 1 }), Buffer.from('0800630001000000', 'hex'), Buffer.from('ff00', 'hex')]);
  const d = decodeAttrs(T, b);
  assert.equal(d.T_NUM, 1);
  assert.equal(d.unknown?.length, 1);
  assert.equal(d.unknown?.[0].type, 0x63);
  assert.equal(splitAttrs(Buffer.from('0300', 'hex')).length, 0);
});

test('addresses: IPv4 and IPv6 text <-> octets (RFC 5952 output)', () => {
  assert.equal(ipToBytes('192.0.2.1').toString('hex'), 'c0000201');
  assert.equal(ipToBytes('2001:db8::1').toString('hex'), '20010db8000000000000000000000001');
  assert.equal(ipToBytes('::ffff:192.0.2.1').toString('hex'), '00000000000000000000ffffc0000201');
  assert.equal(bytesToIp(ipToBytes('2001:db8:0:0:1:0:0:1'), 6), '2001:db8::1:0:0:1');
  assert.equal(bytesToIp(ipToBytes('2001:DB8:0:1::'), 6), '2001:db8:0:1::');
  assert.equal(bytesToIp(Buffer.alloc(16), 6), '::');
  assert.equal(bytesToIp(ipToBytes('2001:db8:1:1:1:1:1:1'), 6), '2001:db8:1:1:1:1:1:1');
});

test('messages: nlmsg_len counts the unpadded message; a datagram splits into its messages', () => {
  const a = encodeMessage({ type: RTM.RTM_GETLINK, flags: NLM_F.NLM_F_REQUEST, seq: 9 }, Buffer.from([1, 2, 3]));
  assert.equal(a.readUInt32LE(0), 19);
  assert.equal(a.length, 20);
  const b = encodeMessage({ type: NLMSG.NLMSG_DONE, flags: NLM_F.NLM_F_MULTI, seq: 9 }, Buffer.alloc(4));
  const { messages, malformed } = splitMessages(Buffer.concat([a, b]));
  assert.equal(malformed, undefined);
  assert.deepEqual(messages.map((m) => [m.type, m.seq, m.payload.length]), [[RTM.RTM_GETLINK, 9, 3], [NLMSG.NLMSG_DONE, 9, 4]]);
  const bad = Buffer.from(a);
  bad.writeUInt32LE(400, 0);
  assert.match(splitMessages(bad).malformed ?? '', /nlmsg_len 400/);
});

/** An error ACK as the kernel writes it with NETLINK_CAP_ACK and NETLINK_EXT_ACK. */
function errorAck(errno: number, text: string): Buffer {
  const req = encodeMessage({ type: XFRM_MSG.XFRM_MSG_NEWSA, flags: 5, seq: 42, pid: 1234 }, Buffer.alloc(224));
  const tlv = encodeAttrs(attrs('E', { MSG: attr(1, nlString), OFFS: attr(2, nlU32) }), { MSG: text, OFFS: 240 });
  const body = Buffer.concat([Buffer.alloc(4), req.subarray(0, 16), tlv]);
  body.writeInt32LE(-errno, 0);
  body.writeUInt32LE(req.length, 4); // the echoed header keeps the request's full length
  return encodeMessage({ type: NLMSG.NLMSG_ERROR, flags: 0x100 | 0x200, seq: 42, pid: 1234 }, body);
}

test('acknowledgements: errno, the echoed request and the extended-ack message and offset', () => {
  const { messages } = splitMessages(errorAck(93, 'Requested type not found'));
  const ack = parseAck(messages[0]);
  assert.equal(ack.error, -93);
  assert.equal(ack.request.type, XFRM_MSG.XFRM_MSG_NEWSA);
  assert.equal(ack.request.seq, 42);
  assert.equal(ack.extAck, 'Requested type not found');
  assert.equal(ack.extAckOffset, 240);
});

test('NetlinkError names the operation, the errno and the kernel message; code is stable', () => {
  const e = new NetlinkError({ errno: -17, operation: 'RTM_NEWROUTE', detail: 'add route 192.0.2.0/25 table 254', extAck: 'x' });
  assert.equal(e.code, 'SEGW_NETLINK');
  assert.equal(e.errno, 'EEXIST');
  assert.equal(e.errnoNumber, 17);
  assert.equal(e.operation, 'RTM_NEWROUTE');
  assert.match(e.message, /^RTM_NEWROUTE \(add route 192\.0\.2\.0\/25 table 254\) failed: EEXIST .*kernel says: "x"/);
  assert.equal(errnoName(3), 'ESRCH');
  assert.equal(errnoName(2), 'ENOENT');
});

test('name tables: every enum prints names, flags print as a set', () => {
  assert.equal(nameOf(XFRM_MSG, 0x1a), 'XFRM_MSG_UPDSA');
  assert.equal(nameOf(XFRMA.types, 23), 'XFRMA_REPLAY_ESN_VAL');
  assert.equal(nameOf(RTA.types, 15), 'RTA_TABLE');
  assert.equal(nameOf(RTM, 999), 'UNKNOWN(999)');
  assert.equal(flagNames(NLM_F, 0x5), 'NLM_F_REQUEST|NLM_F_ACK');
  const d = describeRtnetlink(encodeMessage({ type: RTM.RTM_NEWROUTE, flags: 0x605 }, Buffer.alloc(12)));
  assert.equal(d[0].type, 'RTM_NEWROUTE');
  assert.equal(d[0].flags, 'NLM_F_REQUEST|NLM_F_ACK|NLM_F_EXCL|NLM_F_CREATE');
});

test('malformed input: random and bit-flipped datagrams never throw from the decoders', () => {
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
  const real = [
    encodeMessage({ type: XFRM_MSG.XFRM_MSG_NEWSA, flags: 5 }, Buffer.alloc(224), encodeAttrs(XFRMA, { XFRMA_MARK: { v: 1, m: 2 }, XFRMA_ALG_CRYPT: { alg_name: 'cbc(aes)', alg_key_len: 128, alg_key: Buffer.alloc(16) } })),
    errorAck(22, 'bad'),
    encodeMessage({ type: RTM.RTM_NEWROUTE, flags: 2 }, Buffer.alloc(12), encodeAttrs(RTA, { RTA_DST: '192.0.2.0', RTA_OIF: 3 })),
  ];
  for (let i = 0; i < 3000; i++) {
    let b: Buffer;
    if (i % 2) {
      b = Buffer.from(real[i % real.length]);
      for (let k = 0; k < 1 + (i % 5); k++) b[rnd() % b.length] ^= 1 << rnd() % 8;
    } else {
      b = Buffer.from(Array.from({ length: rnd() }, rnd));
    }
    const { messages } = splitMessages(b);
    for (const m of messages) if (m.type === NLMSG.NLMSG_ERROR) parseAck(m);
    describeXfrm(b);
    describeRtnetlink(b);
  }
});

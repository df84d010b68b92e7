/**
 * The declared structures have the kernel's layout on x86_64. The expected sizes and offsets
 * are what gcc reports with offsetof/sizeof over linux/xfrm.h, linux/rtnetlink.h,
 * linux/if_addr.h and linux/netlink.h (Debian 12 headers); a wrong alignment rule or a missing
 * field would move them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as x from '../../src/netlink/xfrm.js';
import { ifaddrmsg, ifinfomsg, rtmsg } from '../../src/netlink/rtnetlink.js';
import { nlmsgerr, nlmsghdr } from '../../src/netlink/message.js';
import { bytes, struct, u64, u8, u16, u32 } from '../../src/netlink/struct.js';

test('XFRM structures: sizeof matches gcc on x86_64', () => {
  const sizes: [{ name: string; size: number }, number][] = [
    [x.xfrm_id, 24],
    [x.xfrm_selector, 56],
    [x.xfrm_lifetime_cfg, 64],
    [x.xfrm_lifetime_cur, 32],
    [x.xfrm_usersa_info, 224],
    [x.xfrm_usersa_id, 24],
    [x.xfrm_userspi_info, 232],
    [x.xfrm_userpolicy_info, 168],
    [x.xfrm_userpolicy_id, 64],
    [x.xfrm_user_tmpl, 64],
    [x.xfrm_encap_tmpl, 24],
    [x.xfrm_algo, 68],
    [x.xfrm_algo_auth, 72],
    [x.xfrm_algo_aead, 72],
    [x.xfrm_replay_state_esn, 24],
    [x.xfrm_mark, 8],
    [x.xfrm_user_expire, 232],
    [x.xfrm_user_polexpire, 176],
    [x.xfrm_user_acquire, 280],
    [x.xfrm_usersa_flush, 1],
    [x.xfrm_userpolicy_type, 6],
    [x.xfrm_aevent_id, 48],
    [x.xfrm_user_offload, 8],
  ];
  for (const [s, size] of sizes) assert.equal(s.size, size, `sizeof(struct ${s.name})`);
});

test('XFRM structures: field offsets match gcc (padding where the kernel has it)', () => {
  const info = x.xfrm_usersa_info;
  assert.deepEqual(
    ['sel', 'id', 'saddr', 'lft', 'curlft', 'stats', 'seq', 'reqid', 'family', 'mode', 'replay_window', 'flags'].map((f) =>
      info.offsetOf(f as keyof ReturnType<typeof info.zero> & string),
    ),
    [0, 56, 80, 96, 160, 192, 204, 208, 212, 214, 215, 216],
  );
  assert.equal(x.xfrm_selector.offsetOf('ifindex'), 48);
  assert.equal(x.xfrm_selector.offsetOf('user'), 52);
  assert.equal(x.xfrm_user_tmpl.offsetOf('saddr'), 28, 'two octets of padding after family');
  assert.equal(x.xfrm_user_tmpl.offsetOf('reqid'), 44);
  assert.equal(x.xfrm_user_tmpl.offsetOf('aalgos'), 52, 'one octet of padding after optional');
  assert.equal(x.xfrm_userpolicy_info.offsetOf('priority'), 152);
  assert.equal(x.xfrm_userpolicy_info.offsetOf('dir'), 160);
  assert.equal(x.xfrm_encap_tmpl.offsetOf('encap_oa'), 8);
  assert.equal(x.xfrm_algo_aead.offsetOf('alg_key'), 72);
});

test('rtnetlink and netlink headers: sizes match gcc', () => {
  assert.equal(nlmsghdr.size, 16);
  assert.equal(nlmsgerr.size, 20);
  assert.equal(rtmsg.size, 12);
  assert.equal(ifinfomsg.size, 16);
  assert.equal(ifaddrmsg.size, 8);
});

test('C layout rules: u64 aligns to 8, the struct is padded to its alignment', () => {
  const s = struct('t', { a: u8, b: u64, c: u16 });
  assert.equal(s.offsetOf('b'), 8);
  assert.equal(s.offsetOf('c'), 16);
  assert.equal(s.size, 24);
  const t = struct('t2', { a: u8, addr: bytes(16, 4), n: u32 });
  assert.equal(t.offsetOf('addr'), 4);
  assert.equal(t.size, 24);
});

test('encode writes zeros for missing fields and padding; decode reads back what was written', () => {
  const v = {
    sel: { ...x.xfrm_selector.zero(), dport: 443, dport_mask: 0xffff, family: 2, prefixlen_d: 24, proto: 6 },
    id: { daddr: Buffer.from('c6336402000000000000000000000000', 'hex'), spi: 0xc0000001, proto: 50 },
    reqid: 7,
    family: 2,
    mode: 1,
    flags: 0x80,
  };
  const b = x.xfrm_usersa_info.encode(v);
  assert.equal(b.length, 224);
  assert.equal(b.readUInt16BE(32), 443, 'ports are network order');
  assert.equal(b.readUInt32BE(56 + 16), 0xc0000001, 'SPI is network order');
  assert.equal(b.readUInt32LE(208), 7, 'reqid is host order');
  assert.deepEqual(b.subarray(217, 224), Buffer.alloc(7), 'trailing padding is zero');
  const d = x.xfrm_usersa_info.decode(b);
  assert.equal(d.sel.dport, 443);
  assert.equal(d.id.spi, 0xc0000001);
  assert.equal(d.lft.hard_byte_limit, 0n);
  assert.equal(d.flags, 0x80);
});

test('a flexible array member takes the rest of the attribute', () => {
  const key = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
  const b = x.xfrm_algo.encode({ alg_name: 'cbc(aes)', alg_key_len: 128, alg_key: key });
  assert.equal(b.length, 68 + 16);
  const d = x.xfrm_algo.decode(b);
  assert.equal(d.alg_name, 'cbc(aes)');
  assert.deepEqual(d.alg_key, key);
  assert.throws(() => x.xfrm_algo.encode({ alg_name: 'x'.repeat(64) }), /does not fit/);
  assert.throws(() => x.xfrm_usersa_info.decode(Buffer.alloc(100)), /need 224/);
});

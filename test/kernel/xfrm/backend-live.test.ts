/**
 * The XFRM backend against this kernel, in a lab namespace. Policies install here, so they are
 * proven live against `ip xfrm policy`; SAs cannot (no ESP), but allocated SPIs (larval SAs) can,
 * and so can the failure path: a failed install must leave nothing behind.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually } from '../../support/eventually.js';
import { Lab, type Host } from '../../../src/lab/lab.js';
import { XfrmKernelIpsec } from '../../../src/kernel/xfrm/backend.js';
import { NetlinkError } from '../../../src/netlink/errors.js';
import { NetlinkListener } from '../../../src/netlink/listener.js';
import { NETLINK } from '../../../src/netlink/constants.js';
import { XFRM_MSG, XFRMNLGRP, xfrm_user_expire, xfrm_user_mapping } from '../../../src/netlink/xfrm.js';
import { encodeMessage, splitMessages } from '../../../src/netlink/message.js';
import { xfrmAddress } from '../../../src/netlink/addr.js';
import { probeKernelIpsec } from '../../../src/kernel/probe.js';
import type { PolicyParams, SaParams, SaRef, TrafficSelector } from '../../../src/kernel/types.js';

let lab: Lab;
let gw: Host;
let xfrm: XfrmKernelIpsec;
before(async () => {
  lab = await Lab.create('xfrmlive');
  gw = await lab.host('gw');
  xfrm = XfrmKernelIpsec.open({ netns: `/run/netns/${gw.ns}` });
});
after(async () => {
  await xfrm?.close();
  await lab?.close();
});

const ts = (startAddr: string, endAddr: string): TrafficSelector => ({
  family: startAddr.includes(':') ? 6 : 4,
  protocol: 0,
  startAddr,
  endAddr,
  startPort: 0,
  endPort: 65535,
});

const policy = (direction: PolicyParams['direction'], over: Partial<PolicyParams> = {}): PolicyParams => ({
  direction,
  src: direction === 'out' ? ts('192.0.2.128', '192.0.2.255') : ts('192.0.2.0', '192.0.2.127'),
  dst: direction === 'out' ? ts('192.0.2.0', '192.0.2.127') : ts('192.0.2.128', '192.0.2.255'),
  tmplSrc: direction === 'out' ? '198.51.100.2' : '198.51.100.1',
  tmplDst: direction === 'out' ? '198.51.100.1' : '198.51.100.2',
  reqid: 11,
  mode: 'tunnel',
  priority: 2000,
  ...over,
});

const ipXfrm = async (what: 'policy' | 'state') => (await gw.exec('ip', ['xfrm', what])).stdout;

test('policies: in/out/fwd installed live, seen by `ip xfrm policy`, listed, deleted', async () => {
  for (const d of ['out', 'in', 'fwd'] as const) await xfrm.addPolicy(policy(d));
  const shown = await ipXfrm('policy');
  assert.match(shown, /src 192\.0\.2\.128\/25 dst 192\.0\.2\.0\/25 \n\tdir out priority 2000/);
  assert.match(shown, /src 192\.0\.2\.0\/25 dst 192\.0\.2\.128\/25 \n\tdir in priority 2000/);
  assert.match(shown, /dir fwd priority 2000[\s\S]*tmpl src 198\.51\.100\.1 dst 198\.51\.100\.2\n\t\tproto esp reqid 11 mode tunnel/);
  const listed = await xfrm.listPolicies();
  assert.deepEqual(listed.map((p) => `${p.direction} ${p.src} ${p.dst} ${p.templates[0].reqid}`).sort(), [
    'fwd 192.0.2.0/25 192.0.2.128/25 11',
    'in 192.0.2.0/25 192.0.2.128/25 11',
    'out 192.0.2.128/25 192.0.2.0/25 11',
  ]);
  for (const d of ['out', 'in', 'fwd'] as const) await xfrm.deletePolicy(policy(d));
  assert.equal((await ipXfrm('policy')).trim(), '');
});

test('policies: updatePolicy (UPDPOLICY) moves the templates to a new peer address in place', async () => {
  for (const d of ['out', 'in', 'fwd'] as const) await xfrm.addPolicy(policy(d));
  // The peer (198.51.100.1) now appears as 198.51.100.9: its NAT changed address.
  await xfrm.updatePolicy(policy('out', { tmplDst: '198.51.100.9' }));
  for (const d of ['in', 'fwd'] as const) await xfrm.updatePolicy(policy(d, { tmplSrc: '198.51.100.9' }));
  const shown = await ipXfrm('policy');
  assert.match(shown, /dir out priority 2000[\s\S]*?tmpl src 198\.51\.100\.2 dst 198\.51\.100\.9/);
  assert.match(shown, /dir in priority 2000[\s\S]*?tmpl src 198\.51\.100\.9 dst 198\.51\.100\.2/);
  assert.doesNotMatch(shown, /198\.51\.100\.1\s/, 'no template left on the old address');
  assert.equal((await xfrm.listPolicies()).length, 3, 'replaced, not added');
  for (const d of ['out', 'in', 'fwd'] as const) await xfrm.deletePolicy(policy(d));
});

test('policies: a duplicate is EEXIST and a missing one ENOENT, each naming the operation', async () => {
  await xfrm.addPolicy(policy('out'));
  await assert.rejects(xfrm.addPolicy(policy('out')), (e: NetlinkError) => {
    assert.equal(e.errno, 'EEXIST');
    assert.equal(e.operation, 'XFRM_MSG_NEWPOLICY');
    assert.match(e.message, /add policy out 192\.0\.2\.128-192\.0\.2\.255 -> 192\.0\.2\.0-192\.0\.2\.127\) failed: EEXIST/);
    return true;
  });
  await xfrm.deletePolicy(policy('out'));
  await assert.rejects(xfrm.deletePolicy(policy('out')), { errno: 'ENOENT', operation: 'XFRM_MSG_DELPOLICY' });
});

test('policies: a range that is not one prefix becomes several policies; a failure rolls all back', async () => {
  const p = policy('out', { dst: ts('192.0.2.1', '192.0.2.6') }); // .1/32 .2/31 .4/31 .6/32
  await xfrm.addPolicy(p);
  assert.deepEqual((await xfrm.listPolicies()).map((x) => x.dst).sort(), ['192.0.2.1/32', '192.0.2.2/31', '192.0.2.4/31', '192.0.2.6/32']);
  await xfrm.deletePolicy(p);
  // One of the four already exists: the add fails and leaves none of its own behind.
  const blocker = policy('out', { dst: ts('192.0.2.4', '192.0.2.5') });
  await xfrm.addPolicy(blocker);
  await assert.rejects(xfrm.addPolicy(p), { errno: 'EEXIST' });
  assert.deepEqual((await xfrm.listPolicies()).map((x) => x.dst), ['192.0.2.4/31']);
  await xfrm.deletePolicy(blocker);
});

test('policies with a mark are separate from unmarked ones', async () => {
  const marked = policy('out', { mark: { value: 7, mask: 0xff } });
  await xfrm.addPolicy(policy('out'));
  await xfrm.addPolicy(marked);
  const listed = await xfrm.listPolicies();
  assert.deepEqual(listed.map((x) => x.mark?.value ?? 0).sort(), [0, 7]);
  assert.match(await ipXfrm('policy'), /mark 0x7\/0xff/);
  await xfrm.deletePolicy(marked);
  await xfrm.deletePolicy(policy('out'));
});

test('ALLOCSPI reserves distinct SPIs in the range; GETSA reads the larval SA; DELSA removes it', async () => {
  const a = await xfrm.allocateSpi('198.51.100.1', '198.51.100.2', 'esp');
  const b = await xfrm.allocateSpi('198.51.100.1', '198.51.100.2', 'esp');
  assert.notEqual(a, b);
  for (const spi of [a, b]) assert.ok(spi >= 0xc0000000 && spi <= 0xcfffffff, spi.toString(16));
  const shown = await ipXfrm('state');
  assert.ok(shown.includes(`spi 0x${a.toString(16).padStart(8, '0')}`), shown);
  const counters = await xfrm.querySa({ dst: '198.51.100.2', spi: a, protocol: 'esp' });
  assert.deepEqual(counters, { packets: 0n, bytes: 0n, replayDrops: 0n, integrityFailures: 0n, lastUsedMs: 0 });
  const sas = await xfrm.listSas();
  assert.deepEqual(sas.map((s) => [s.spi, s.larval, s.src, s.dst]).sort(), [
    [a, true, '198.51.100.1', '198.51.100.2'],
    [b, true, '198.51.100.1', '198.51.100.2'],
  ].sort());
  for (const spi of [a, b]) await xfrm.deleteSa({ dst: '198.51.100.2', spi, protocol: 'esp' });
  assert.equal((await ipXfrm('state')).trim(), '');
  await assert.rejects(xfrm.querySa({ dst: '198.51.100.2', spi: a, protocol: 'esp' }), { errno: 'ESRCH', operation: 'XFRM_MSG_GETSA' });
});

function sa(spi: number, over: Partial<SaParams> = {}): SaParams {
  return {
    direction: 'in',
    src: '198.51.100.1',
    dst: '198.51.100.2',
    spi,
    protocol: 'esp',
    mode: 'tunnel',
    reqid: 11,
    encryption: 'aes-cbc',
    encryptionKey: Buffer.alloc(16, 1),
    integrity: 'hmac-sha2-256-128',
    integrityKey: Buffer.alloc(32, 2),
    esn: true,
    replayWindow: 64,
    lifetime: { softBytes: 0n, hardBytes: 0n, softPackets: 0n, hardPackets: 0n },
    localTs: [],
    remoteTs: [],
    ...over,
  };
}

test('a failed SA install leaves no state: NEWSA refused, and UPDSA refused on an allocated SPI', async () => {
  // This kernel has no ESP: the kernel's own words come back in the error.
  await assert.rejects(xfrm.addSa(sa(0xc1000001)), (e: NetlinkError) => {
    assert.equal(e.operation, 'XFRM_MSG_NEWSA');
    assert.equal(e.errno, 'EPROTONOSUPPORT');
    assert.equal(e.extAck, 'Requested type not found');
    assert.match(e.message, /add SA esp spi 0xc1000001 dst 198\.51\.100\.2\) failed: EPROTONOSUPPORT/);
    return true;
  });
  assert.equal((await ipXfrm('state')).trim(), '');
  const spi = await xfrm.allocateSpi('198.51.100.1', '198.51.100.2', 'esp');
  assert.notEqual((await ipXfrm('state')).trim(), '', 'the larval SA exists');
  await assert.rejects(xfrm.updateSa(sa(spi)), { operation: 'XFRM_MSG_UPDSA', errno: 'EPROTONOSUPPORT' });
  assert.equal((await ipXfrm('state')).trim(), '', 'the larval SA was removed with the failed install');
  // AES-GCM: this kernel lacks the algorithm too, and says so.
  await assert.rejects(xfrm.addSa(sa(0xc1000002, { encryption: 'aes-gcm-16', encryptionKey: Buffer.alloc(20), integrity: undefined })), {
    errno: 'ENOSYS',
    extAck: 'Requested AEAD algorithm not found',
  });
});

test('parameters the kernel cannot express are refused before anything is sent', async () => {
  await assert.rejects(xfrm.addSa(sa(0xc1000003, { encryptionKey: Buffer.alloc(15) })), { code: 'SEGW_XFRM_PARAM' });
  await assert.rejects(xfrm.addSa(sa(0xc1000004, { integrityKey: Buffer.alloc(20) })), /hmac-sha2-256-128 key of 20 octets/);
  await assert.rejects(xfrm.addSa(sa(0xc1000005, { replayWindow: 5000 })), /replay window 5000/);
});

test('expiry: the kernel multicasts XFRM_MSG_EXPIRE for an allocated SPI left unused; the backend does not tell IKE', async () => {
  await gw.sysctl('net.core.xfrm_acq_expires', 1);
  const seen: number[] = [];
  const events: SaRef[] = [];
  xfrm.setEventHandler({ onExpire: (ref) => events.push(ref) });
  const listener = NetlinkListener.open({
    protocol: NETLINK.NETLINK_XFRM,
    netns: `/run/netns/${gw.ns}`,
    groups: [XFRMNLGRP.XFRMNLGRP_EXPIRE],
    onMessage: (m) => m.type === XFRM_MSG.XFRM_MSG_EXPIRE && seen.push(xfrm_user_expire.decode(m.payload).state.id.spi),
  });
  try {
    const spi = await xfrm.allocateSpi('198.51.100.1', '198.51.100.2', 'esp');
    await eventually(() => seen.includes(spi), { what: 'the expiry notification', intervalMs: 100 });
    assert.equal((await ipXfrm('state')).trim(), '');
    assert.deepEqual(events, [], 'an unused SPI is not an SA expiry for IKE');
  } finally {
    listener.close();
  }
});

test('expiry of an installed SA reaches the IKE handler with kind and reason', () => {
  const events: [SaRef, string, string][] = [];
  xfrm.setEventHandler({ onExpire: (ref, kind, reason) => events.push([ref, kind, reason]) });
  const body = xfrm_user_expire.encode({
    state: {
      ...xfrm_user_expire.zero().state,
      id: { daddr: xfrmAddress('198.51.100.2'), spi: 0xc2000001, proto: 50 },
      saddr: xfrmAddress('198.51.100.1'),
      family: 2,
      lft: { ...xfrm_user_expire.zero().state.lft, soft_byte_limit: 1000n, hard_byte_limit: 2000n, soft_packet_limit: 0xffffffffffffffffn, hard_packet_limit: 0xffffffffffffffffn },
      curlft: { bytes: 1200n, packets: 3n, add_time: 0n, use_time: 0n },
    },
    hard: 0,
  });
  const [m] = splitMessages(encodeMessage({ type: XFRM_MSG.XFRM_MSG_EXPIRE, flags: 0 }, body)).messages;
  xfrm.onNotification(m);
  assert.deepEqual(events, [[{ dst: '198.51.100.2', spi: 0xc2000001, protocol: 'esp' }, 'soft', 'bytes']]);
});

test('XFRM_MSG_MAPPING (ESP-in-UDP from a new NAT mapping) reaches the IKE handler with the new endpoint', () => {
  const events: [SaRef, { address: string; port: number }][] = [];
  xfrm.setEventHandler({ onExpire: () => {}, onMapping: (ref, remote) => events.push([ref, remote]) });
  // struct xfrm_user_mapping as the kernel's xfrm_send_mapping() fills it.
  const body = xfrm_user_mapping.encode({
    id: { daddr: xfrmAddress('203.0.113.2'), spi: 0xc2000002, family: 2, proto: 50 },
    reqid: 7,
    old_saddr: xfrmAddress('198.51.100.254'),
    new_saddr: xfrmAddress('198.51.100.254'),
    old_sport: 4500,
    new_sport: 61234,
  });
  const [m] = splitMessages(encodeMessage({ type: XFRM_MSG.XFRM_MSG_MAPPING, flags: 0 }, body)).messages;
  xfrm.onNotification(m);
  assert.deepEqual(events, [[{ dst: '203.0.113.2', spi: 0xc2000002, protocol: 'esp' }, { address: '198.51.100.254', port: 61234 }]]);
  assert.equal(xfrm_user_mapping.size, 64, 'sizeof(struct xfrm_user_mapping) on x86-64');
  // The 16-bit ports are in network order in the kernel's struct.
  assert.equal(m.payload.readUInt16BE(xfrm_user_mapping.size - 2), 61234);
});

test('flush removes every ESP SA and every policy of the namespace', async () => {
  await xfrm.addPolicy(policy('out'));
  await xfrm.allocateSpi('198.51.100.1', '198.51.100.2', 'esp');
  await xfrm.flush();
  assert.equal((await ipXfrm('state')).trim(), '');
  assert.equal((await ipXfrm('policy')).trim(), '');
});

test('probe: this kernel refuses ESP, so the userspace data plane is chosen, and says why', async () => {
  const r = await probeKernelIpsec();
  assert.equal(r.backend, 'userspace');
  assert.equal(r.esp, false);
  assert.match(r.suites['aes-cbc+hmac-sha2-256-128'].error ?? '', /EPROTONOSUPPORT "Requested type not found"/);
  assert.match(r.suites['aes-gcm-16'].error ?? '', /ENOSYS/);
  assert.match(r.reason, /userspace ESP data plane/);
});

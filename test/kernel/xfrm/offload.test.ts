/**
 * ESP offload on the XFRM backend (src/kernel/xfrm/offload.ts): the XFRMA_OFFLOAD_DEV request,
 * iproute2's bytes for the same, and the fallback to software, driven by the answers a real kernel
 * gave (./fixtures/offload-answers.json, recorded by test/kernel-esp/offload.test.ts's guest).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { XfrmKernelIpsec } from '../../../src/kernel/xfrm/backend.js';
import { offloadAttr, resultOf, stepDown } from '../../../src/kernel/xfrm/offload.js';
import * as msg from '../../../src/kernel/xfrm/messages.js';
import { encodeMessage } from '../../../src/netlink/message.js';
import { NLM_F } from '../../../src/netlink/constants.js';
import { withLab, type Host } from '../../../src/lab/lab.js';
import { captureSendmsg, findMessage, normalise } from '../../netlink/strace-capture.js';
import { describe, replayTransport, type RecordedAnswer, offloadTestSa } from './offload-replay.js';
import { captureLog } from '../../support/log-capture.js';
import { setRootLogger } from '../../../src/log/index.js';

const { answers } = JSON.parse(readFileSync(new URL('./fixtures/offload-answers.json', import.meta.url), 'utf8')) as { answers: RecordedAnswer[] };
const sa = offloadTestSa;

test('the offload flags: IPv6, inbound and packet mode (struct xfrm_user_offload)', () => {
  assert.deepEqual(offloadAttr({ direction: 'out', dst: '198.51.100.2' }, 0, 'crypto'), { ifindex: 0, flags: 0 });
  assert.deepEqual(offloadAttr({ direction: 'in', dst: '198.51.100.1' }, 3, 'crypto'), { ifindex: 3, flags: 2 });
  assert.deepEqual(offloadAttr({ direction: 'out', dst: '2001:db8::2' }, 0, 'packet'), { ifindex: 0, flags: 5 });
  assert.deepEqual(offloadAttr({ direction: 'in', dst: '2001:db8::1' }, 0, 'packet'), { ifindex: 0, flags: 7 });
  assert.equal(stepDown('packet'), 'crypto');
  assert.equal(stepDown('crypto'), undefined);
  assert.equal(resultOf(undefined), 'software');
  assert.equal(resultOf({ ifindex: 2, flags: 2 }), 'crypto');
  assert.equal(resultOf({ ifindex: 2, flags: 4 }), 'packet');
});

test('packet offload refused by the kernel (Linux 6.1): each SA falls back to crypto offload, which a veth takes in software; NAT-T SAs are not offered', async () => {
  const seen: string[] = [];
  const x = XfrmKernelIpsec.over(replayTransport(answers, seen), { offload: { mode: 'packet', ifindex: 0 } });
  const logs = captureLog();
  const old = setRootLogger(logs.log);
  try {
    await x.addSa(sa(0xc0000101, 'out'));
    await x.addSa(sa(0xc0000102, 'in'));
    await x.addSa(sa(0xc0000103, 'out', { esn: true, replayWindow: 128 }));
    await x.addSa(sa(0xc0000104, 'out', { encap: { sport: 4500, dport: 4500 } }));
  } finally {
    setRootLogger(old);
  }
  assert.deepEqual(x.offloadStatus(), {
    mode: 'packet',
    installed: { crypto: 0, packet: 0, software: 4 },
    notOffered: { 'udp-encap': 1 },
    refused: { 'packet: EINVAL: Unrecognized flags in offload request': 3 },
  });
  assert.deepEqual(seen, answers.slice(0, 10).map((a) => a.request), 'the same requests, in the same order, as the live kernel saw');
  assert.equal(x.offloadOf({ dst: '198.51.100.2', spi: 0xc0000101, protocol: 'esp' }), 'software');
  const warned = logs.lines.filter((l) => l.level === 'warn' && /refused packet offload/.test(String(l.msg)));
  assert.ok(warned.length >= 1, 'the refusal is logged at warn (rate limited per reason)');
  for (const w of warned) assert.match(String(w.err), /Unrecognized flags in offload request/, 'with the kernel\'s own words');
});

test('an SA a device takes is reported as offloaded (the read-back lists XFRMA_OFFLOAD_DEV)', async () => {
  // Constructed, not recorded: no machine here has a device with IPsec offload.
  const took: RecordedAnswer[] = [{ request: 'XFRM_MSG_NEWSA offload=flags:0,dev' }, { request: 'XFRM_MSG_GETSA', offloadListed: true }];
  const x = XfrmKernelIpsec.over(replayTransport(took), { offload: { mode: 'crypto', ifindex: 4 } });
  await x.addSa(sa(0xc0000301, 'out'));
  assert.equal(x.offloadOf({ dst: '198.51.100.2', spi: 0xc0000301, protocol: 'esp' }), 'crypto');
  assert.deepEqual(x.offloadStatus()?.installed, { crypto: 1, packet: 0, software: 0 });
});

test('a failure that is not about offload is the install\'s own: no retry hides it', async () => {
  const refused: RecordedAnswer[] = [{ request: 'XFRM_MSG_NEWSA offload=flags:0', errno: 'EEXIST' }];
  const seen: string[] = [];
  const x = XfrmKernelIpsec.over(replayTransport(refused, seen), { offload: { mode: 'crypto', ifindex: 0 } });
  await assert.rejects(x.addSa(sa(0xc0000401, 'out')), (e: Error & { errno?: string }) => e.errno === 'EEXIST');
  assert.deepEqual(seen, ['XFRM_MSG_NEWSA offload=flags:0']);
});

test('without offload configured the requests carry no XFRMA_OFFLOAD_DEV', async () => {
  const seen: string[] = [];
  const x = XfrmKernelIpsec.over(replayTransport([{ request: 'XFRM_MSG_NEWSA no-offload' }], seen));
  await x.addSa(sa(0xc0000501, 'out'));
  assert.deepEqual(seen, ['XFRM_MSG_NEWSA no-offload']);
  assert.equal(x.offloadStatus(), undefined);
});

test('XFRMA_OFFLOAD_DEV is what iproute2 sends for `offload dev DEV dir in|out`', async () => {
  await withLab('xfrmoffl', async (lab) => {
    const host = await lab.host('gw');
    await host.exec('ip', ['link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1']);
    await iproute2Offload(host, Number((await host.exec('cat', ['/sys/class/net/v0/ifindex'])).stdout.trim()));
  });
});

async function iproute2Offload(host: Host, ifindex: number): Promise<void> {
  for (const direction of ['out', 'in'] as const) {
    const s = sa(0xc0000101, direction, { encryptionKey: Buffer.alloc(20, 7) });
    const ours = msg.newSa(s, offloadAttr(s, ifindex, 'crypto'));
    // prettier-ignore
    const cmd = ['ip', 'xfrm', 'state', 'add', 'src', s.src, 'dst', s.dst, 'proto', 'esp', 'spi', '0xc0000101', 'reqid', '1', 'mode', 'tunnel',
      'replay-window', '32', 'flag', 'af-unspec', 'aead', 'rfc4106(gcm(aes))', `0x${s.encryptionKey.toString('hex')}`, '128', 'offload', 'dev', 'v0', 'dir', direction];
    const c = await captureSendmsg(host, cmd);
    const sent = findMessage(c, ours.type);
    assert.ok(sent, `iproute2 sent no NEWSA: exit ${c.code} ${c.stderr}`);
    const b = encodeMessage({ type: ours.type, flags: NLM_F.NLM_F_REQUEST | NLM_F.NLM_F_ACK | ours.flags }, ours.payload);
    const built = b.subarray(0, b.readUInt32LE(0));
    assert.equal(describe(ours.type, ours.payload), `XFRM_MSG_NEWSA offload=flags:${direction === 'in' ? 2 : 0},dev`);
    assert.equal(normalise(built).toString('hex'), normalise(sent.bytes).toString('hex'), `dir ${direction}`);
  }
}

/**
 * Guest scenario: ESP offload requests (XFRMA_OFFLOAD_DEV) on a kernel with ESP. The guest's
 * devices (veth) have no IPsec offload and its kernel (6.1) has no netdevsim, so what is proven
 * here is what a production kernel answers when offload cannot be had, and that segw then
 * installs every SA in software: a request for packet offload (a flag Linux 6.1 does not know),
 * for crypto offload on a device without it (taken silently in software), for an ESN SA, and a
 * NAT-T SA (not offered). Every request and the kernel's answer is recorded: the host compares
 * them with the answers the replay test uses (test/kernel/xfrm/fixtures/offload-answers.json).
 * Run by ../offload.test.ts.
 */
import assert from 'node:assert/strict';
import { withLab } from '../../../src/lab/lab.js';
import { NetlinkSocket } from '../../../src/netlink/socket.js';
import { NETLINK } from '../../../src/netlink/constants.js';
import { XFRM_MSG } from '../../../src/netlink/xfrm.js';
import { XfrmKernelIpsec, type XfrmTransport } from '../../../src/kernel/xfrm/backend.js';
import { recordingTransport, type RecordedAnswer, offloadTestSa } from '../../kernel/xfrm/offload-replay.js';
import type { Scenario } from './scenario.js';
import { assertEspCounted, bringUp, startKernelTunnel, trafficThroughKernel } from './tunnel.js';

const sa = offloadTestSa;

/**
 * The daemon with `kernel.xfrm.offload: packet` against strongSwan: the kernel refuses packet
 * offload, the veth takes crypto offload in software, and the tunnel carries traffic on
 * software SAs; the refusal is in segw's log with the kernel's words.
 */
const offloadGateway: Scenario = (ev) =>
  withLab('koffgw', async (lab) => {
    const kt = await startKernelTunnel(lab, { ipsec: 'xfrm', xfrm: { offload: 'packet' } }, ev);
    try {
      ev.reason = kt.reason;
      assert.match(kt.reason, /ESP packet offload requested/);
      const t = await bringUp(kt);
      const r = await trafficThroughKernel(kt, t, 1);
      ev.pings = r.pings;
      assertEspCounted(r, t);
      ev.refusals = kt.segw.logLines().filter((l) => /refused packet offload/.test(l.msg)).map((l) => l.err);
      assert.ok((ev.refusals as unknown[]).length > 0, 'the refusal is logged');
      assert.doesNotMatch((await kt.topo.gw.exec('ip', ['xfrm', 'state'])).stdout, /offload/);
    } finally {
      await kt.ss.stop();
      await kt.segw.stop();
    }
  });

export const scenarios: Record<string, Scenario> = {
  'offload-gateway': offloadGateway,
  'offload-fallback': (ev) =>
    withLab('koffload', async (lab) => {
      const gw = await lab.host('gw');
      const peer = await lab.host('peer');
      await lab.link(gw, peer, { aIf: 'eth0', bIf: 'eth0', a: ['198.51.100.1/24'], b: ['198.51.100.2/24'] });
      ev.ethtool = (await gw.exec('ethtool', ['-k', 'eth0'], { allowFail: true })).stdout.split('\n').filter((l) => /esp/.test(l));
      const nl = NetlinkSocket.open({ protocol: NETLINK.NETLINK_XFRM, typeNames: XFRM_MSG, netns: `/run/netns/${gw.ns}` });
      const answers: RecordedAnswer[] = [];
      const transport: XfrmTransport = recordingTransport(nl, answers);
      const ifindex = Number((await gw.exec('cat', ['/sys/class/net/eth0/ifindex'])).stdout.trim());
      const runs: Record<string, unknown> = {};
      try {
        const packet = XfrmKernelIpsec.over(transport, { offload: { mode: 'packet', ifindex: 0 } });
        await packet.addSa(sa(0xc0000101, 'out'));
        await packet.addSa(sa(0xc0000102, 'in'));
        await packet.addSa(sa(0xc0000103, 'out', { esn: true, replayWindow: 128 }));
        await packet.addSa(sa(0xc0000104, 'out', { encap: { sport: 4500, dport: 4500 } }));
        runs.packet = packet.offloadStatus();
        const crypto = XfrmKernelIpsec.over(transport, { offload: { mode: 'crypto', ifindex } });
        await crypto.addSa(sa(0xc0000201, 'out'));
        await crypto.addSa(sa(0xc0000202, 'in'));
        runs.crypto = crypto.offloadStatus();
        runs.results = Object.fromEntries(
          [0xc0000101, 0xc0000102, 0xc0000103, 0xc0000104].map((spi) => [spi.toString(16), packet.offloadOf({ dst: spi === 0xc0000102 ? '198.51.100.1' : '198.51.100.2', spi, protocol: 'esp' })]),
        );
        runs.cryptoResults = [crypto.offloadOf({ dst: '198.51.100.2', spi: 0xc0000201, protocol: 'esp' }), crypto.offloadOf({ dst: '198.51.100.1', spi: 0xc0000202, protocol: 'esp' })];
      } finally {
        await nl.close();
      }
      ev.runs = runs;
      ev.answers = answers;
      ev.ifindex = ifindex;
      const shown = (await gw.exec('ip', ['xfrm', 'state'])).stdout;
      ev.states = shown;
      // Every SA is in the kernel, none of them offloaded (iproute2 prints "crypto offload parameters" for those).
      for (const spi of ['c0000101', 'c0000102', 'c0000103', 'c0000104', 'c0000201', 'c0000202']) assert.match(shown, new RegExp(`spi 0x${spi}`), `SA ${spi} installed`);
      assert.doesNotMatch(shown, /offload/);
      assert.ok(answers.some((a) => a.errno === 'EINVAL'), 'the kernel refused something (packet offload on 6.1)');
      assert.ok(!answers.some((a) => a.errno && a.errno !== 'EINVAL'), `only EINVAL refusals: ${JSON.stringify(answers)}`);
    }),
};

/**
 * Guest scenarios: a segw gateway on the kernel's XFRM data plane against strongSwan on the
 * kernel's ESP (./tunnel.ts). Run by ../gateway.test.ts through scripts/uml-run.
 */
import assert from 'node:assert/strict';
import { withLab } from '../../../src/lab/lab.js';
import type { Scenario } from './scenario.js';
import { bringUp, startKernelTunnel, trafficThroughKernel } from './tunnel.js';
import { xfrmPolicies } from './xfrm-show.js';

/** kernel.ipsec: xfrm, PSK: ping and iperf3 both ways, ESP counted by both kernels. */
const xfrmPsk: Scenario = async (ev) => {
  await withLab('kpsk', async (lab) => {
    const kt = await startKernelTunnel(lab, { ipsec: 'xfrm' });
    try {
      ev.dataPlane = kt.dataPlane;
      assert.equal(kt.dataPlane, 'xfrm');
      const t = await bringUp(kt);
      ev.child = t.segw.children[0];
      Object.assign(ev, await trafficThroughKernel(kt, t));
      ev.gwPolicies = await xfrmPolicies(kt.topo.gw);
    } finally {
      ev.segwLogTail = kt.segw.process.output.slice(-2000);
      await kt.ss.stop();
      await kt.segw.stop();
    }
  });
};

export const scenarios: Record<string, Scenario> = {
  'xfrm-psk': xfrmPsk,
};

/**
 * `segw basestation` keeps its tunnel up against `segw gateway`, both as processes in their own
 * namespaces: started while the gateway is down, it retries (warn, back-off) until the gateway
 * comes up; after the gateway is killed (SIGKILL: no Delete) and restarted, DPD finds the IKE SA
 * dead and the base station establishes a new one. Traffic passes through each tunnel.
 *
 * Runs behind the lab's NAT: ESP then goes in UDP (RFC 3948), the only ESP transport of the
 * userspace data plane both nodes use here (without a NAT, segw to segw carries no traffic).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, withLab } from '../../src/lab/lab.js';
import { SegwProcess } from '../../src/lab/peers/segw.js';
import { eventually } from '../support/eventually.js';
import { segwConfig, type TunnelSpec } from './support/configs.js';
import { segwView, type PeerIke } from './support/sas.js';
import { buildTopology, pingCount } from './support/topology.js';

const SPEC: TunnelSpec = {
  ike: 'aes128gcm16-prfsha256-ecp256',
  esp: 'aes128gcm16',
  // A quick DPD and retransmission give-up so a dead gateway is noticed within seconds.
  segw: { dpd: 1, retransmit: { timeout: 0.5, base: 1.5, tries: 2 } },
};

/** One established IKE SA with one installed child on both nodes, the same SPIs. */
async function tunnel(bs: SegwProcess, gw: SegwProcess, not?: PeerIke): Promise<PeerIke> {
  return eventually(
    async () => {
      const [b, g] = [await segwView(bs), await segwView(gw)];
      const up = (v: PeerIke[]) => v.filter((s) => s.state === 'ESTABLISHED' && s.children.some((c) => c.state === 'INSTALLED'));
      const [ub, ug] = [up(b), up(g)];
      if (ub.length !== 1 || ug.length !== 1) throw new Error(`established: base station ${JSON.stringify(b)}, gateway ${JSON.stringify(g)}`);
      if (ub[0]!.spiI !== ug[0]!.spiI || ub[0]!.spiR !== ug[0]!.spiR) throw new Error('SPIs differ');
      if (not && ub[0]!.spiI === not.spiI) throw new Error('still the old IKE SA');
      return ub[0]!;
    },
    { what: 'one tunnel between segw basestation and segw gateway', timeoutMs: 30_000, intervalMs: 200 },
  );
}

test('segw basestation: gateway down at start, then up; killed and restarted: the tunnel comes back each time', { timeout: 180_000 }, async () => {
  let labId = '';
  await withLab('bsreconn', async (lab) => {
    labId = lab.id;
    const topo = await buildTopology(lab, { nat: true });
    const lans = { bs: topo.bsLan, gw: topo.gwLan };
    const g = segwConfig(SPEC, 'gateway', topo.gwAddr, undefined, lans);
    const b = segwConfig(SPEC, 'basestation', topo.bsAddr, topo.gwAddr, lans);
    const bs = await SegwProcess.start(topo.bs, 'basestation', { ...b.config, reconnect: { initial: '500ms', max: '2s' } });
    const warns = (re: RegExp) => bs.logLines().filter((l) => l.level === 'warn' && l.sub === 'basestation' && re.test(l.msg));

    // Nobody answers on the gateway's address: the attempt fails, is logged at warn, and retried.
    await eventually(() => warns(/^IKE SA not established; initiating again$/).length >= 2, { what: 'two failed attempts logged', timeoutMs: 30_000 });
    const failed = warns(/^IKE SA not established/);
    assert.ok(failed.every((l) => l.reason === 'retransmit give-up' && l.peer === topo.gwAddr), JSON.stringify(failed));
    assert.deepEqual(failed.slice(0, 2).map((l) => l.attempt), [1, 2]);

    let gw = await SegwProcess.start(topo.gw, 'gateway', g.config, { name: 'gateway-1' });
    const first = await tunnel(bs, gw);
    assert.equal(await pingCount(topo.bs, topo.bsLan.addr, topo.gwLan.addr), 3, 'traffic through the first tunnel');

    // A crash: no Delete reaches the base station; its DPD finds out.
    await gw.kill();
    gw = await SegwProcess.start(topo.gw, 'gateway', g.config, { name: 'gateway-2' });
    const second = await tunnel(bs, gw, first);
    const lost = warns(/^IKE SA lost; initiating again$/);
    assert.equal(lost.length, 1, JSON.stringify(lost));
    assert.equal(lost[0]!.reason, 'retransmit give-up');
    assert.notEqual(second.spiI, first.spiI);
    assert.equal(await pingCount(topo.bs, topo.bsLan.addr, topo.gwLan.addr), 3, 'traffic through the new tunnel');
    assert.equal(await pingCount(topo.gw, topo.gwLan.addr, topo.bsLan.addr), 3, 'and back');
  });
  assert.deepEqual(await Lab.leftovers(labId), { namespaces: [], links: [] });
});

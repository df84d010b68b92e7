/**
 * segw to segw without a NAT: no NAT is detected, so the child SAs carry plain ESP (IP protocol
 * 50, RFC 4303), not ESP-in-UDP. Both ends run the userspace engine, which must then take ESP
 * from a raw socket: before it did, the tunnel came up and carried nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, withLab } from '../../src/lab/lab.js';
import { SegwProcess } from '../../src/lab/peers/segw.js';
import { eventually } from '../support/eventually.js';
import { segwConfig, type TunnelSpec } from './support/configs.js';
import { segwView } from './support/sas.js';
import { buildTopology, pingCount } from './support/topology.js';

const SPEC: TunnelSpec = { ike: 'aes128gcm16-prfsha256-ecp256', esp: 'aes128gcm16' };

test('segw basestation to segw gateway, no NAT: plain ESP carries traffic both ways', { timeout: 120_000 }, async () => {
  let labId = '';
  await withLab('plainesp', async (lab) => {
    labId = lab.id;
    const topo = await buildTopology(lab, { nat: false });
    const lans = { bs: topo.bsLan, gw: topo.gwLan };
    const g = segwConfig(SPEC, 'gateway', topo.gwAddr, undefined, lans);
    const b = segwConfig(SPEC, 'basestation', topo.bsAddr, topo.gwAddr, lans);
    const gw = await SegwProcess.start(topo.gw, 'gateway', g.config);
    const bs = await SegwProcess.start(topo.bs, 'basestation', b.config);
    const up = await eventually(async () => {
      const v = (await segwView(gw)).filter((s) => s.state === 'ESTABLISHED' && s.children.some((c) => c.state === 'INSTALLED'));
      return v.length === 1 ? v[0] : undefined;
    }, { what: 'the tunnel up on the gateway', timeoutMs: 30_000 });
    assert.equal(up.natLocal || up.natRemote, false, 'no NAT between them');
    assert.equal(await pingCount(topo.bs, topo.bsLan.addr, topo.gwLan.addr), 3, 'base station LAN to gateway LAN');
    assert.equal(await pingCount(topo.gw, topo.gwLan.addr, topo.bsLan.addr), 3, 'and back');
    await bs.stop();
    await gw.stop();
  });
  assert.deepEqual(await Lab.leftovers(labId), { namespaces: [], links: [] });
});

/**
 * Fault matrix (src/lab/faults), link faults on a 3-gateway cluster with 50 simulated base
 * stations: the master's link to the VRRP LAN is cut (both sides become master: split brain; the
 * rest carries every base station), then healed (one master, whose gratuitous ARP moves the base
 * stations' ARP entry back to it); a member's link flaps (down until the master marks it stale,
 * then up); the master's link flaps (down until a backup takes over, then up: it preempts back). After each: every base station has one tunnel, nothing stale or leaked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, withLab } from '../../src/lab/lab.js';
import { FaultCluster } from '../../src/lab/faults/cluster.js';
import { flap, flapMaster, splitBrain, type CaseContext } from '../../src/lab/faults/cases.js';

const N = 50;
const BOUND_MS = 45_000;

test(`cut the VRRP link (split brain, heal) and flap a member's and the master's link: ${N} base stations back, one master, nothing stale`, { timeout: 180_000 }, async () => {
  let labId = '';
  await withLab('fsplit', async (lab) => {
    labId = lab.id;
    let cluster: FaultCluster | undefined;
    try {
      cluster = await FaultCluster.start(lab, { baseStations: N });
      const ctx: CaseContext = { cluster, boundMs: BOUND_MS, note: () => {} };
      const master = await cluster.master();
      assert.deepEqual(Object.keys(await splitBrain.run(ctx)), ['two masters', 'rehomed', 'heal']);
      // The higher priority wins after the heal: the same master, and the others backups.
      assert.equal(await cluster.master(), master);
      assert.deepEqual(Object.keys(await flap.run(ctx)), ['converge']);
      assert.deepEqual(Object.keys(await flapMaster.run(ctx)), ['converge']);
      assert.equal(await cluster.master(), master, 'the master preempts back after its link flapped');
      assert.deepEqual(await cluster.violations(), []);
    } catch (err) {
      throw new Error(`${(err as Error).message}\nsimulator:\n${cluster?.simOutput(600) ?? ''}`);
    } finally {
      await cluster?.close();
    }
  });
  assert.deepEqual(await Lab.leftovers(labId), { namespaces: [], links: [] });
});

/**
 * Fault matrix (src/lab/faults): child SAs rekeyed every ~5 s on a 3-gateway cluster with 50
 * simulated base stations; the member holding the most is SIGKILLed the moment it logs a
 * rekey's new child SA installed. Its base stations come back on the others; restarted, it
 * leaves nothing of the killed run (no route, no second TUN device, no SA in its data plane
 * beyond its own children's), and every base station has exactly one tunnel.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, withLab } from '../../src/lab/lab.js';
import { FaultCluster } from '../../src/lab/faults/cluster.js';
import { rekeyKill } from '../../src/lab/faults/cases.js';

const N = 50;
const BOUND_MS = 45_000;

test(`SIGKILL a gateway during a child rekey: ${N} base stations back, the restarted gateway clean`, { timeout: 180_000 }, async () => {
  let labId = '';
  await withLab('frekey', async (lab) => {
    labId = lab.id;
    let cluster: FaultCluster | undefined;
    try {
      cluster = await FaultCluster.start(lab, { baseStations: N, gateway: () => ({ childRekeyS: 5 }) });
      const phases = await rekeyKill.run({ cluster, boundMs: BOUND_MS, note: () => {} });
      assert.deepEqual(Object.keys(phases), ['failover', 'restart']);
      // Rekeys go on after the restart, and the cluster still converges (nothing accumulates).
      await cluster.converge('converged again after further rekeys', BOUND_MS);
      const rekeyed = cluster.gateways.flatMap((g) => g!.logLines()).filter((l) => l.msg === 'child SA removed' && JSON.stringify(l).includes('rekey'));
      assert.ok(rekeyed.length > 0, 'child SAs were rekeyed');
    } catch (err) {
      throw new Error(`${(err as Error).message}\nsimulator:\n${cluster?.simOutput(600) ?? ''}`);
    } finally {
      await cluster?.close();
    }
  });
  assert.deepEqual(await Lab.leftovers(labId), { namespaces: [], links: [] });
});

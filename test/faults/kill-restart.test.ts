/**
 * Fault matrix (src/lab/faults), crash and restart faults on a 3-gateway cluster with 50 simulated
 * base stations and a strongSwan 5.9.8 base station on the VIP (userspace ESP, route injection):
 * kill -9 of the master, kill -9 of a member, clean restart of a member. After each: every base station has one tunnel, no stale
 * `proto segw` route, no leaked SA or TUN device, one master holding the VIP and the base
 * stations' ARP entry pointing at it; a killed gateway's leftovers (the VIP in its namespace)
 * are gone once it starts again. Times are the bench's (bench/faults); BOUND_MS is generous.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, withLab } from '../../src/lab/lab.js';
import { FaultCluster } from '../../src/lab/faults/cluster.js';
import { killMaster, killMember, restart, type CaseContext } from '../../src/lab/faults/cases.js';

const N = 50;
const BOUND_MS = 45_000;

test(`kill -9 the master, kill -9 a member, restart a member: ${N} base stations and strongSwan back each time, nothing stale or leaked`, { timeout: 240_000 }, async () => {
  let labId = '';
  await withLab('fkill', async (lab) => {
    labId = lab.id;
    let cluster: FaultCluster | undefined;
    try {
      cluster = await FaultCluster.start(lab, { baseStations: N, strongSwan: true });
      const notes: string[] = [];
      const ctx: CaseContext = { cluster, boundMs: BOUND_MS, note: (l) => notes.push(l) };

      const first = await cluster.master();
      assert.deepEqual(Object.keys(await killMaster.run(ctx)), ['failover', 'restart']);
      // The killed master left its VIP behind (a crash cleans nothing); its restart removed it
      // and, with the highest priority, it is master again.
      assert.match(notes[0]!, /gw1 killed, left the VIP/);
      assert.equal(await cluster.master(), first);

      assert.deepEqual(Object.keys(await killMember.run(ctx)), ['failover', 'restart']);
      assert.deepEqual(Object.keys(await restart.run(ctx)), ['stopped', 'started']);
      assert.deepEqual(await cluster.violations(), []);
    } catch (err) {
      throw new Error(`${(err as Error).message}\nsimulator:\n${cluster?.simOutput(600) ?? ''}`);
    } finally {
      await cluster?.close();
    }
  });
  assert.deepEqual(await Lab.leftovers(labId), { namespaces: [], links: [] });
});

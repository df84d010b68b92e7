/**
 * Fault matrix (src/lab/faults): gw2 logs to a file on a 512 KiB tmpfs, which fills up. gw2
 * reports the failure (one line on stderr) and logs there meanwhile; it keeps serving: another
 * member is killed and every base station is up again, some on gw2. When space returns, gw2's
 * log goes back to the file, whose first new line says since when it went to stderr.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, withLab } from '../../src/lab/lab.js';
import { FaultCluster } from '../../src/lab/faults/cluster.js';
import { LogDisk } from '../../src/lab/faults/log-disk.js';
import { diskFull } from '../../src/lab/faults/cases.js';

const N = 50;
const BOUND_MS = 45_000;
const LOG_GW = 1;

test(`a full disk under a gateway's log.file: it keeps serving ${N} base stations through a failover and logs to the file again once space returns`, { timeout: 180_000 }, async () => {
  let labId = '';
  await withLab('fdisk', async (lab) => {
    labId = lab.id;
    const disk = await LogDisk.mount(lab.dir, 'logdisk');
    let cluster: FaultCluster | undefined;
    try {
      cluster = await FaultCluster.start(lab, { baseStations: N, gateway: (i) => (i === LOG_GW ? { logFile: disk.file } : {}) });
      const phases = await diskFull.run({ cluster, boundMs: BOUND_MS, note: () => {}, logDisk: { gateway: LOG_GW, disk } });
      assert.deepEqual(Object.keys(phases), ['serving', 'log back']);
      const gw2 = cluster.gateways[LOG_GW]!;
      assert.match(gw2.process.output, /^segw: log\.file .*gateway\.log: write failed \(ENOSPC\); logging to standard error until it can be written again/m);
      assert.match(gw2.process.output, /"msg":"child SA installed"/, 'while the disk was full its log went to stderr');
      const back = disk.textFrom(0).split('\n').find((l) => l.includes('log.file writable again'));
      assert.ok(back, 'the recovery line in the file');
      assert.equal((JSON.parse(back) as { error: string }).error, 'ENOSPC');
      assert.deepEqual(await cluster.violations(), []);
    } catch (err) {
      throw new Error(`${(err as Error).message}\nsimulator:\n${cluster?.simOutput(600) ?? ''}`);
    } finally {
      await cluster?.close();
      await disk.unmount();
    }
  });
  assert.deepEqual(await Lab.leftovers(labId), { namespaces: [], links: [] });
});

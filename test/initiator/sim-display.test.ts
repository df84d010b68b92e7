/**
 * The simulator's progress line and report table with traffic base stations: what an operator
 * reads to see that tunnels pass packets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { progressLine, reportText } from '../../src/initiator/sim-display.js';
import type { SimProgress, SimReport } from '../../src/initiator/simulator.js';

const latency = { count: 0, minMs: 0, meanMs: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, maxMs: 0 };
const traffic = { baseStations: 2, passing: 1, sent: 20, received: 15, lost: 5 };

test('progress line: traffic passing and answered/sent when base stations carry traffic, nothing otherwise', () => {
  const p: SimProgress = { elapsedMs: 1500, count: 10, waiting: 0, connecting: 0, up: 10, retrying: 0, upPerSec: 2, perGateway: { '198.51.100.4': 10 }, etaS: 0 };
  assert.doesNotMatch(progressLine(p), /traffic/);
  assert.match(progressLine({ ...p, traffic }), / \| 198\.51\.100\.4 10 \| ETA 0s \| traffic 1\/2 passing, 15\/20 answered$/);
});

test('report: one row per traffic base station with its gateway, counts and tunnels passed', () => {
  const r: SimReport = {
    count: 10, up: 9, notUp: 1, allUpMs: null, setupsPerSec: 0, setupLatency: latency, recoveryLatency: latency, losses: 0,
    redirects: {}, distribution: {}, failures: {}, clusterMoves: 0,
    traffic: {
      summary: traffic,
      baseStations: [
        { index: 0, address: '198.18.0.0', gateway: '198.51.100.4', sent: 10, received: 10, lost: 0, sendErrors: 0, lastRttMs: 1.5, passing: true, tunnels: 3, tunnelsPassed: 3, receivedOnTunnel: 4 },
        { index: 5, address: '198.18.0.5', gateway: null, sent: 10, received: 5, lost: 5, sendErrors: 0, lastRttMs: null, passing: false, tunnels: 2, tunnelsPassed: 1, receivedOnTunnel: 0 },
      ],
    },
  };
  const text = reportText(r);
  assert.match(text, /traffic: 2 base stations, 1 passing; probes sent 20, answered 15, lost 5/);
  assert.match(text, /bs 0\s+198\.18\.0\.0\s+198\.51\.100\.4\s+10\s+10\s+0\s+0\s+1\.5\s+3\/3\s+yes/);
  assert.match(text, /bs 5\s+198\.18\.0\.5\s+\(down\)\s+10\s+5\s+5\s+0\s+-\s+1\/2\s+no/);
  assert.doesNotMatch(reportText({ ...r, traffic: undefined }), /traffic:/);
});

/**
 * DaemonLoadSource: tunnels and child SAs from the SA tables, bytes per second from the growth
 * of the installed SAs' counters (a new SA from zero, a deleted one not at all), on a manual clock.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { COUNTED_CHILDREN_PER_SEC, DaemonLoadSource } from '../../src/cluster/load.js';
import type { ChildSa } from '../../src/ike/sa/child-sa.js';
import type { IkeSa } from '../../src/ike/sa/ike-sa.js';
import type { SaCounters, SaRef } from '../../src/kernel/types.js';

const ref = (spi: number): SaRef => ({ dst: '192.0.2.2', spi, protocol: 'esp' });
const child = (spiIn: number, spiOut: number, installed = true) => ({ inRef: ref(spiIn), outRef: ref(spiOut), isInstalled: installed }) as unknown as ChildSa;
const ike = (established: boolean, dead = false) => ({ established, isDead: dead }) as unknown as IkeSa;

test('tunnels, installed child SAs and the byte rate across SAs that come and go', async () => {
  let clock = 0;
  const bytes = new Map<number, bigint>();
  let sas: IkeSa[] = [ike(true), ike(true), ike(false), ike(true, true)];
  // A child SA is one object for its life (the daemon's ChildSa): the source keys on it.
  const c34 = child(3, 4);
  let children: ChildSa[] = [child(1, 2), c34, child(5, 6, false)];
  const src = new DaemonLoadSource(
    { manager: { ikeSaList: () => sas, liveChildren: () => children } },
    { querySa: async (r: SaRef) => ({ bytes: bytes.get(r.spi) ?? 0n }) as SaCounters },
    () => clock,
  );
  bytes.set(1, 1000n).set(2, 500n).set(3, 0n).set(4, 0n);
  const first = await src.sample();
  assert.equal(first.tunnels, 2);
  assert.equal(first.childSas, 2);
  assert.equal(first.bytesPerSec, 0, 'no rate before a second sample');

  clock += 2000;
  bytes.set(1, 3000n).set(2, 1500n).set(3, 1000n);
  const second = await src.sample();
  assert.equal(second.bytesPerSec, (2000 + 1000 + 1000) / 2);
  assert.ok(second.cpu >= 0 && second.cpu <= 1);

  // Child 1/2 deleted, child 7/8 new with 4000 octets already: the new one counts from zero,
  // the deleted one's vanished counters are not a negative rate.
  children = [c34, child(7, 8)];
  sas = [ike(true)];
  clock += 1000;
  bytes.set(3, 1500n).set(7, 4000n);
  const third = await src.sample();
  assert.deepEqual([third.tunnels, third.childSas, third.bytesPerSec], [1, 2, 500 + 4000]);
});

test('two children whose outbound SAs share address and SPI (two base stations behind one NAT that chose the same SPI) count apart', async () => {
  let clock = 0;
  const bytes = new Map<SaRef, bigint>();
  const a = child(1, 9);
  const b = child(2, 9);
  const src = new DaemonLoadSource(
    { manager: { ikeSaList: () => [ike(true), ike(true)], liveChildren: () => [a, b] } },
    { querySa: async (r: SaRef) => ({ bytes: bytes.get(r) ?? 0n }) as SaCounters },
    () => clock,
  );
  bytes.set(a.outRef, 1000n).set(b.outRef, 5000n);
  await src.sample();
  clock += 1000;
  bytes.set(a.outRef, 2000n).set(b.outRef, 5500n);
  const s = await src.sample();
  assert.equal(s.bytesPerSec, 1000 + 500);
});

test(`many children: counters are read at most ${COUNTED_CHILDREN_PER_SEC} children per second; reports in between repeat the rate, tunnels stay fresh`, async () => {
  let clock = 0;
  let queries = 0;
  const n = 2 * COUNTED_CHILDREN_PER_SEC + 2000; // a full reading every 2.4 s
  const children = Array.from({ length: n }, (_, i) => child(2 * i + 1, 2 * i + 2));
  let sas = children.map(() => ike(true));
  let octets = 0n;
  const src = new DaemonLoadSource(
    { manager: { ikeSaList: () => sas, liveChildren: () => children } },
    {
      querySa: async (r: SaRef) => {
        queries++;
        return { bytes: r.spi === 1 ? octets : 0n } as SaCounters;
      },
    },
    () => clock,
  );
  await src.sample();
  assert.equal(queries, 2 * n, 'the first report reads every child');
  clock += 1000;
  octets = 5000n;
  sas = sas.slice(1);
  const second = await src.sample();
  assert.equal(queries, 2 * n, 'no reading 1 s later');
  assert.deepEqual([second.tunnels, second.bytesPerSec], [n - 1, 0]);
  clock += 1500;
  const third = await src.sample();
  assert.equal(queries, 4 * n, 'read again once the window has passed');
  assert.equal(third.bytesPerSec, 5000 / 2.5, 'the rate over the whole window');
  clock += 1000;
  assert.equal((await src.sample()).bytesPerSec, 2000, 'repeated until the next reading');
});

test('a tunnel counts from the peer\'s IKE_SA_INIT on: a responder SA being set up is load, an initiator one is not', async () => {
  // The balancer's grant for a redirected peer is consumed when the member's report shows it;
  // a setup that takes longer than the grant lives (a loaded member) must still show at once.
  const sa = (initiator: boolean, state: string) => ({ initiator, state, established: state === 'ESTABLISHED', isDead: state === 'DESTROYED' }) as unknown as IkeSa;
  const sas = [sa(false, 'ESTABLISHED'), sa(false, 'CONNECTING'), sa(false, 'CONNECTING'), sa(true, 'CONNECTING'), sa(false, 'DESTROYED'), sa(false, 'DELETING')];
  const src = new DaemonLoadSource({ manager: { ikeSaList: () => sas, liveChildren: () => [] } }, { querySa: async () => undefined as unknown as SaCounters }, () => 0);
  assert.equal((await src.sample()).tunnels, 3);
});

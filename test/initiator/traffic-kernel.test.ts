/**
 * SplitKernelIpsec: a traffic base station's SAs and policies go to the data plane (with a reqid
 * unique across shards), every other one to the shard's null kernel; deletes, queries and
 * expiries reach the side that holds the SA; ESP-in-UDP is refused for traffic SAs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StubKernelIpsec } from '../../src/kernel/stub/ipsec.js';
import type { PolicyParams, SaParams, TrafficSelector } from '../../src/kernel/types.js';
import { NullKernelIpsec } from '../../src/initiator/null-kernel.js';
import { TrafficError, TrafficKernels } from '../../src/initiator/traffic-kernel.js';

const ts = (a: string): TrafficSelector => ({ family: 4, protocol: 0, startAddr: a, endAddr: a, startPort: 0, endPort: 65535 });
const CORE: TrafficSelector = { family: 4, protocol: 0, startAddr: '192.0.2.0', endAddr: '192.0.2.255', startPort: 0, endPort: 65535 };
const TRAFFIC = new Set(['198.18.0.0', '198.18.0.5']);

function sa(local: string, spi: number, direction: 'in' | 'out', reqid: number, encap?: SaParams['encap']): SaParams {
  return {
    dst: direction === 'in' ? '198.51.100.100' : '198.51.100.1',
    src: direction === 'in' ? '198.51.100.1' : '198.51.100.100',
    spi, protocol: 'esp', direction, mode: 'tunnel', reqid,
    encryption: 'aes-gcm-16', encryptionKey: Buffer.alloc(20), esn: false, replayWindow: 32,
    lifetime: { softBytes: 0n, hardBytes: 0n, softPackets: 0n, hardPackets: 0n },
    localTs: [ts(local)], remoteTs: [CORE],
    ...(encap ? { encap } : {}),
  };
}

const policy = (local: string, direction: 'out' | 'in', reqid: number): PolicyParams => ({
  direction, reqid, mode: 'tunnel', priority: 100,
  src: direction === 'out' ? ts(local) : CORE, dst: direction === 'out' ? CORE : ts(local),
  tmplSrc: '198.51.100.100', tmplDst: '198.51.100.1',
});

function setup() {
  const data = new StubKernelIpsec();
  const kernels = new TrafficKernels(data, (t) => TRAFFIC.has(t.startAddr), 2);
  const nulls = [new NullKernelIpsec(0xc0000001), new NullKernelIpsec(0xc1000001)];
  const shards = [kernels.shard(0, nulls[0]!), kernels.shard(1, nulls[1]!)];
  return { data, kernels, nulls, shards };
}

test('traffic base stations\' SAs and policies go to the data plane, reqids made unique per shard; the rest to the null kernel', async () => {
  const { data, kernels, nulls, shards } = setup();
  // Both shards have a child with reqid 1: one a traffic base station's on each.
  await shards[0]!.addSa(sa('198.18.0.0', 0x1001, 'out', 1));
  await shards[0]!.updateSa(sa('198.18.0.0', 0xc0000001, 'in', 1));
  await shards[1]!.addSa(sa('198.18.0.5', 0x2001, 'out', 1));
  await shards[0]!.addSa(sa('198.18.0.2', 0x3001, 'out', 1));
  await shards[0]!.addPolicy(policy('198.18.0.0', 'out', 1));
  await shards[1]!.addPolicy(policy('198.18.0.5', 'out', 1));
  await shards[1]!.addPolicy(policy('198.18.0.5', 'in', 1));
  await shards[0]!.addPolicy(policy('198.18.0.2', 'out', 1));
  assert.equal(data.sas.size, 3);
  assert.deepEqual([...data.sas.values()].map((s) => s.reqid).sort(), [2, 2, 3], 'reqid * shards + shard');
  assert.deepEqual([...data.policies.values()].map((p) => p.reqid).sort(), [2, 3, 3]);
  assert.equal(nulls[0]!.sas, 1);
  assert.equal(nulls[0]!.policies, 1);
  assert.equal(kernels.sas, 3);

  // Deletes reach the side that holds the SA; SPIs come from the shard's own range.
  await shards[0]!.deleteSa({ dst: '198.51.100.1', spi: 0x1001, protocol: 'esp' });
  await shards[0]!.deleteSa({ dst: '198.51.100.1', spi: 0x3001, protocol: 'esp' });
  await shards[1]!.deletePolicy(policy('198.18.0.5', 'in', 1));
  assert.equal(data.sas.size, 2);
  assert.equal(nulls[0]!.sas, 0);
  assert.equal(data.policies.size, 2);
  assert.equal(await shards[1]!.allocateSpi('198.51.100.1', '198.51.100.100', 'esp'), 0xc1000001);
});

test('an expiry from the data plane reaches the shard that holds the SA', async () => {
  const { data, shards } = setup();
  const seen: string[] = [];
  shards[0]!.setEventHandler({ onExpire: (ref) => seen.push(`0:${ref.spi}`) });
  shards[1]!.setEventHandler({ onExpire: (ref) => seen.push(`1:${ref.spi}`) });
  await shards[1]!.addSa(sa('198.18.0.5', 0x2001, 'out', 4));
  data.expire({ dst: '198.51.100.1', spi: 0x2001, protocol: 'esp' }, 'hard');
  assert.deepEqual(seen, [`1:${0x2001}`]);
});

test('a traffic base station behind a NAT (ESP-in-UDP) is refused with what to do; others are not', async () => {
  const { data, shards } = setup();
  await assert.rejects(shards[0]!.addSa(sa('198.18.0.0', 0x1001, 'out', 1, { sport: 4500, dport: 4500 })), (err: unknown) => {
    assert.ok(err instanceof TrafficError);
    assert.equal(err.code, 'SEGW_SIM_TRAFFIC');
    assert.match(err.message, /NAT .*plain ESP/);
    return true;
  });
  assert.equal(data.sas.size, 0);
  await shards[0]!.addSa(sa('198.18.0.2', 0x3001, 'out', 1, { sport: 4500, dport: 4500 }));
});

// Interop of the userspace ESP engine with strongSwan 5.9.8 (kernel-libipsec) in namespaces:
// a strongSwan base station brings up a tunnel to a segw gateway (src/lab/demo.ts config, the
// userspace data plane because this kernel has no ESP); ping and iperf3 TCP both directions,
// tshark decodes segw's ESP-in-UDP, and a child SA rekey under traffic keeps TCP flowing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withLab, type Host } from '../../../src/lab/lab.js';
import { StrongSwan } from '../../../src/lab/peers/strongswan.js';
import { SegwProcess } from '../../../src/lab/peers/segw.js';
import { Capture } from '../../../src/lab/peers/tshark.js';
import { childSas, ikeSas } from '../../../src/lab/peers/vici-raw.js';
import { segwGatewayConfig, strongSwanBaseStation } from '../../../src/lab/demo.js';

async function iperf(client: Host, server: Host, serverAddr: string, clientAddr: string, seconds: number): Promise<number> {
  const srv = server.spawn('iperf3', ['-s', '-1', '--forceflush', '-B', serverAddr], { name: 'iperf3-s' });
  await srv.waitFor(/Server listening/);
  const r = await client.exec('iperf3', ['-c', serverAddr, '-B', clientAddr, '-t', String(seconds), '-J'], { timeoutMs: (seconds + 30) * 1000 });
  await srv.exited;
  return JSON.parse(r.stdout).end.sum_received.bits_per_second as number;
}

const installed = (sas: Awaited<ReturnType<StrongSwan['listSas']>>) =>
  sas.flatMap((e) => ikeSas(e).flatMap(([, ike]) => childSas(ike).filter((c) => c.state === 'INSTALLED')));

test('strongSwan base station <-> segw gateway on the userspace engine: ping, iperf3 both ways, rekey under traffic', { timeout: 240_000 }, async (t) => {
  await withLab('espss', async (lab) => {
    const bs = await lab.host('bs');
    const gw = await lab.host('gw');
    await lab.link(bs, gw, { a: '198.51.100.1/24', b: '198.51.100.2/24' });
    await lab.lan(bs, '192.0.2.1/25');
    await lab.lan(gw, '192.0.2.129/25');
    const segw = await SegwProcess.start(gw, 'gateway', segwGatewayConfig());
    const started = segw.logLines().find((l) => l.msg === 'gateway started');
    assert.equal(started?.dataPlane, 'userspace', 'this kernel has no ESP: the engine carries the traffic');
    const ss = await StrongSwan.start(bs, { name: 'bs', swanctl: strongSwanBaseStation() });
    try {
      const cap = await Capture.start(bs, 'eth0');
      await ss.initiate('s1', { timeoutS: 20 });
      const first = installed(await ss.waitForSas((ev) => installed(ev).length > 0));
      const ping = await bs.exec('ping', ['-c', '3', '-i', '0.2', '-W', '2', '-I', '192.0.2.1', '192.0.2.129'], { allowFail: true });
      assert.equal(ping.code, 0, 'base station -> core through the tunnel');
      const back = await gw.exec('ping', ['-c', '3', '-i', '0.2', '-W', '2', '-I', '192.0.2.129', '192.0.2.1'], { allowFail: true });
      assert.equal(back.code, 0, 'core -> base station through the tunnel');
      const frames = await cap.stop();
      const esp = frames.filter((f) => f.dport === 4500 && f.espSpi !== undefined);
      assert.ok(esp.some((f) => f.src === '198.51.100.2'), 'tshark sees segw ESP-in-UDP');
      assert.deepEqual(frames.filter((f) => f.malformed || f.expert.includes('error')), []);

      const up = await iperf(bs, gw, '192.0.2.129', '192.0.2.1', 3);
      const down = await iperf(gw, bs, '192.0.2.1', '192.0.2.129', 3);
      t.diagnostic(`iperf3 TCP base station -> core ${(up / 1e6).toFixed(0)} Mbit/s, core -> base station ${(down / 1e6).toFixed(0)} Mbit/s`);
      assert.ok(up > 10e6 && down > 10e6, `TCP ${(up / 1e6).toFixed(0)} / ${(down / 1e6).toFixed(0)} Mbit/s`);

      // Child SA rekey (CREATE_CHILD_SA) while iperf3 runs: new SPIs, TCP keeps going.
      const srv = gw.spawn('iperf3', ['-s', '-1', '--forceflush', '-B', '192.0.2.129'], { name: 'iperf3-rk' });
      await srv.waitFor(/Server listening/);
      const client = bs.exec('iperf3', ['-c', '192.0.2.129', '-B', '192.0.2.1', '-t', '6', '-J'], { timeoutMs: 40_000 });
      await new Promise((r) => setTimeout(r, 2000));
      await ss.swanctl(['--rekey', '--child', 's1']);
      const oldSpis = new Set(first.map((c) => String(c['spi-in'])));
      await ss.waitForSas((ev) => installed(ev).some((c) => !oldSpis.has(String(c['spi-in']))), 15_000);
      const r = JSON.parse((await client).stdout);
      await srv.exited;
      assert.ok(r.end.sum_received.bits_per_second > 10e6, 'TCP kept flowing across the rekey');
    } finally {
      await ss.stop();
      await segw.stop();
    }
  });
});

// Interop of the userspace ESP engine with strongSwan 5.9.8 (kernel-libipsec) in namespaces:
// a strongSwan base station brings up a tunnel to a segw gateway (src/lab/demo.ts config, the
// userspace data plane because this kernel has no ESP); ping and iperf3 TCP both directions,
// tshark decodes segw's ESP-in-UDP, per-child counters agree with strongSwan's after known
// traffic, and a child SA rekey under traffic keeps TCP flowing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withLab, type Host } from '../../../src/lab/lab.js';
import { run } from '../../../src/lab/exec.js';
import { StrongSwan } from '../../../src/lab/peers/strongswan.js';
import { SegwProcess } from '../../../src/lab/peers/segw.js';
import { Capture } from '../../../src/lab/peers/tshark.js';
import { flowedThroughout, iperf3, parseIperf, type IperfResult } from '../../../src/lab/peers/iperf.js';
import { childSas, ikeSas } from '../../../src/lab/peers/vici-raw.js';
import { segwGatewayConfig, strongSwanBaseStation } from '../../../src/lab/demo.js';
import type { IkeSaView } from '../../../src/control/views.js';

async function iperf(client: Host, server: Host, serverAddr: string, clientAddr: string, seconds: number): Promise<IperfResult> {
  return iperf3(client, server, { serverAddr, clientAddr, seconds });
}

/**
 * What both ends count per child SA, and where they count it:
 *  - strongSwan kernel-libipsec (ipsec_processor.c): `update_usestats(sa, len)` with the length
 *    of the inner IP packet, outbound after encryption succeeded, inbound after decryption and
 *    ICV check succeeded (before its inbound policy check); `swanctl --list-sas` shows the
 *    inbound SA's as bytes-in/packets-in and the outbound SA's as bytes-out/packets-out.
 *  - segw's engine (Engine::account): the inner IP packet length too (the ESP payload without
 *    header, IV, padding, trailer and ICV, TFC padding trimmed), outbound when the packet is
 *    handed to the socket, inbound after replay, ICV and selector checks passed.
 * Both count the same bytes, so with clean traffic the comparison is exact in both directions.
 */
interface ChildCounters { packetsIn: bigint; bytesIn: bigint; packetsOut: bigint; bytesOut: bigint }

async function swanCounters(ss: StrongSwan): Promise<ChildCounters> {
  const [c] = installed(await ss.listSas());
  assert.ok(c, 'strongSwan lists the child');
  const n = (k: string) => BigInt(String(c[k] ?? '0'));
  return { packetsIn: n('packets-in'), bytesIn: n('bytes-in'), packetsOut: n('packets-out'), bytesOut: n('bytes-out') };
}

async function segwCounters(segw: SegwProcess): Promise<ChildCounters & { spiIn: string; spiOut: string }> {
  const { ikeSas: sas } = await segw.ctl<{ ikeSas: IkeSaView[] }>('list-sas', { counters: true });
  const children = sas.flatMap((sa) => sa.children).filter((c) => c.state === 'INSTALLED');
  assert.equal(children.length, 1, 'segw lists one installed child');
  const c = children[0]!.counters;
  assert.ok(c, 'the data plane answered for the child');
  return {
    spiIn: children[0]!.spiIn,
    spiOut: children[0]!.spiOut,
    packetsIn: BigInt(c.packetsIn), bytesIn: BigInt(c.bytesIn), packetsOut: BigInt(c.packetsOut), bytesOut: BigInt(c.bytesOut),
  };
}

/** `count` UDP datagrams of `size` payload bytes from `from` to `to`:`port`, received by a socket there. */
async function udpOneWay(from: Host, fromAddr: string, to: Host, toAddr: string, port: number, count: number, size: number): Promise<void> {
  const rx = `const s=require('dgram').createSocket('udp4');let n=0;s.on('message',()=>{if(++n===${count}){console.log('got',n);process.exit(0)}});` +
    `s.bind(${port},'${toAddr}',()=>console.log('bound'));setTimeout(()=>{console.log('short',n);process.exit(1)},10000)`;
  const srv = to.spawn(process.execPath, ['-e', rx], { name: `udp-rx-${port}` });
  await srv.waitFor(/bound/);
  // Spaced sends: nothing is lost to a socket buffer, so the counts are exact.
  const tx = `const s=require('dgram').createSocket('udp4');const b=Buffer.alloc(${size},7);let i=0;` +
    `s.bind(0,'${fromAddr}',()=>{const t=setInterval(()=>{s.send(b,${port},'${toAddr}');if(++i===${count}){clearInterval(t);setTimeout(()=>s.close(),100)}},20)})`;
  await from.exec(process.execPath, ['-e', tx]);
  await srv.waitFor(new RegExp(`got ${count}`));
  await srv.exited;
}

/** RFC 4303 §2 / RFC 4106: header 8 + IV 8 + inner + padding to 4 with the 2-byte trailer + ICV 16. */
const espGcmLength = (inner: number) => 8 + 8 + Math.ceil((inner + 2) / 4) * 4 + 16;

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
      // Known traffic, the only traffic on the child so far (inner IPv4 sizes: ICMP echo
      // 20 + 8 + 56 = 84 bytes; UDP 20 + 8 + payload):
      //   base station -> core: 3 echo requests, 3 echo replies, 5 UDP datagrams of 200 bytes
      //   core -> base station: 3 echo replies, 3 echo requests, 7 UDP datagrams of 500 bytes
      const ping = await bs.exec('ping', ['-c', '3', '-i', '0.2', '-W', '2', '-I', '192.0.2.1', '192.0.2.129'], { allowFail: true });
      assert.equal(ping.code, 0, 'base station -> core through the tunnel');
      const back = await gw.exec('ping', ['-c', '3', '-i', '0.2', '-W', '2', '-I', '192.0.2.129', '192.0.2.1'], { allowFail: true });
      assert.equal(back.code, 0, 'core -> base station through the tunnel');
      await udpOneWay(bs, '192.0.2.1', gw, '192.0.2.129', 5001, 5, 200);
      await udpOneWay(gw, '192.0.2.129', bs, '192.0.2.1', 5002, 7, 500);
      const upInner = [...Array(6).fill(84), ...Array(5).fill(228)];
      const downInner = [...Array(6).fill(84), ...Array(7).fill(528)];
      const sum = (a: number[]) => BigInt(a.reduce((x, y) => x + y, 0));
      const sw = await swanCounters(ss);
      const sg = await segwCounters(segw);
      t.diagnostic(`strongSwan out ${sw.packetsOut} pkts/${sw.bytesOut} B, in ${sw.packetsIn}/${sw.bytesIn}; segw in ${sg.packetsIn}/${sg.bytesIn}, out ${sg.packetsOut}/${sg.bytesOut}`);
      // Exact, both directions: what one end sent is what the other received, in packets and
      // in inner-packet bytes, and both equal the traffic generated above.
      assert.deepEqual(
        { packetsOut: sw.packetsOut, bytesOut: sw.bytesOut, packetsIn: sw.packetsIn, bytesIn: sw.bytesIn },
        { packetsOut: BigInt(upInner.length), bytesOut: sum(upInner), packetsIn: BigInt(downInner.length), bytesIn: sum(downInner) },
        'strongSwan counted the generated traffic',
      );
      assert.deepEqual(
        { packetsIn: sg.packetsIn, bytesIn: sg.bytesIn, packetsOut: sg.packetsOut, bytesOut: sg.bytesOut },
        { packetsIn: sw.packetsOut, bytesIn: sw.bytesOut, packetsOut: sw.packetsIn, bytesOut: sw.bytesIn },
        'segw counters mirror strongSwan\'s',
      );

      // tshark decodes segw's ESP-in-UDP towards strongSwan: 4500 -> 4500, strongSwan's inbound
      // SPI, one frame per packet segw counted, ESP lengths that carry exactly the counted inner
      // bytes, nothing malformed and no expert error anywhere in the capture.
      const frames = await cap.stop();
      assert.deepEqual(frames.filter((f) => f.malformed || f.expert.includes('error')), []);
      const fromSegw = frames.filter((f) => f.src === '198.51.100.2' && f.espSpi !== undefined);
      const toSegw = frames.filter((f) => f.src === '198.51.100.1' && f.espSpi !== undefined);
      assert.equal(BigInt(fromSegw.length), sg.packetsOut, 'one ESP frame per packet segw counted');
      assert.equal(BigInt(toSegw.length), sg.packetsIn);
      assert.ok(fromSegw.every((f) => f.sport === 4500 && f.dport === 4500));
      assert.deepEqual(new Set(fromSegw.map((f) => f.espSpi)), new Set([parseInt(String(first[0]!['spi-in']), 16)]), 'strongSwan\'s inbound SPI');
      assert.deepEqual(new Set(toSegw.map((f) => f.espSpi)), new Set([parseInt(sg.spiIn, 16)]), 'segw\'s inbound SPI');
      const udpLengths = await run('tshark', ['-n', '-r', cap.file, '-Y', 'esp && ip.src == 198.51.100.2', '-T', 'fields', '-e', 'udp.length'], { timeoutMs: 60_000 });
      const espBytes = udpLengths.stdout.split('\n').filter((l) => l.trim()).map((l) => Number(l) - 8);
      assert.deepEqual(espBytes.sort((x, y) => x - y), downInner.map(espGcmLength).sort((x, y) => x - y), 'ESP payload = header + IV + inner + padding + trailer + ICV');

      const up = await iperf(bs, gw, '192.0.2.129', '192.0.2.1', 3);
      const down = await iperf(gw, bs, '192.0.2.1', '192.0.2.129', 3);
      // TCP passes both ways in every second (speeds: bench/esp, beside strongSwan's own).
      assert.ok(flowedThroughout(up), `base station -> core bytes per second: ${up.intervalBytes}`);
      assert.ok(flowedThroughout(down), `core -> base station bytes per second: ${down.intervalBytes}`);

      // Child SA rekey (CREATE_CHILD_SA) while iperf3 runs: new SPIs, TCP keeps going.
      const srv = gw.spawn('iperf3', ['-s', '-1', '--forceflush', '-B', '192.0.2.129'], { name: 'iperf3-rk' });
      await srv.waitFor(/Server listening/);
      const client = bs.exec('iperf3', ['-c', '192.0.2.129', '-B', '192.0.2.1', '-t', '6', '-J'], { timeoutMs: 40_000 });
      // The rekey comes once the server has received a second of this run's traffic.
      await srv.waitFor(/sec\s+[1-9][\d.]*\s+[KMG]?Bytes/, 15_000);
      await ss.swanctl(['--rekey', '--child', 's1']);
      const oldSpis = new Set(first.map((c) => String(c['spi-in'])));
      await ss.waitForSas((ev) => installed(ev).some((c) => !oldSpis.has(String(c['spi-in']))), 15_000);
      const r = parseIperf((await client).stdout);
      await srv.exited;
      assert.ok(flowedThroughout(r), `TCP kept flowing across the rekey: bytes per second ${r.intervalBytes}`);
    } finally {
      await ss.stop();
      await segw.stop();
    }
  });
});

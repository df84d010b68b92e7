/**
 * The demo behind `npm run demo` (root): today, one segw gateway and one strongSwan base
 * station in network namespaces.
 *
 *   bs (strongSwan 5.9.8)  198.51.100.1 ──── 198.51.100.2  gw (segw gateway)
 *   LAN 192.0.2.0/25                                        core LAN 192.0.2.128/25
 *
 * The base station brings up IKEv2 + ESP (AES-GCM, ESP-in-UDP) to the gateway; segw's
 * userspace ESP engine carries the traffic, and the gateway injects the base station's
 * subnet as a `proto segw` route. Ping runs through the tunnel both ways. Everything is torn
 * down at the end (or on Ctrl-C).
 */
import { Lab } from './lab.js';
import { StrongSwan } from './peers/strongswan.js';
import { SegwProcess } from './peers/segw.js';
import { childSas, ikeSas } from './peers/vici-raw.js';

const PSK = 'demo-psk-not-secret-0123';

function say(msg: string): void {
  console.log(`[demo] ${msg}`);
}

export function strongSwanBaseStation(): string {
  return `connections {
  gw {
    local_addrs = 198.51.100.1
    remote_addrs = 198.51.100.2
    version = 2
    proposals = aes128gcm16-prfsha256-ecp256
    local {
      auth = psk
      id = bs1.segw.example
    }
    remote {
      auth = psk
      id = gw.segw.example
    }
    children {
      s1 {
        local_ts = 192.0.2.0/25
        remote_ts = 192.0.2.128/25
        esp_proposals = aes128gcm16
        start_action = none
      }
    }
  }
}
secrets {
  ike-1 {
    secret = "${PSK}"
  }
}
`;
}

export function segwGatewayConfig(): Record<string, unknown> {
  return {
    node: { name: 'gw1' },
    log: { level: 'info' },
    ike: { listen: ['198.51.100.2'] },
    kernel: { ipsec: 'auto', userspace: { tun: 'segw0', mtu: 1400, threads: 2 } },
    connections: {
      basestations: {
        local: { id: 'gw.segw.example', auth: 'psk' },
        remote: { id: '%any', addrs: ['%any'], auth: 'psk' },
        psk: PSK,
        ikeProposals: ['aes128gcm16-prfsha256-ecp256'],
        children: { s1: { localTs: ['192.0.2.128/25'], remoteTs: ['192.0.2.0/25'], espProposals: ['aes128gcm16'] } },
      },
    },
  };
}

export async function demoSingleGateway(opts: { keep?: boolean } = {}): Promise<number> {
  say('note: the cluster (VRRP + redirect) is not built yet; this demo runs one segw gateway and one strongSwan base station');
  const lab = await Lab.create('demo');
  try {
    const bs = await lab.host('bs');
    const gw = await lab.host('gw');
    await lab.link(bs, gw, { a: '198.51.100.1/24', b: '198.51.100.2/24' });
    await lab.lan(bs, '192.0.2.1/25');
    await lab.lan(gw, '192.0.2.129/25');
    say(`namespaces ${bs.ns} and ${gw.ns} linked; starting segw gateway`);
    const segw = await SegwProcess.start(gw, 'gateway', segwGatewayConfig());
    const started = segw.logLines().find((l) => l.msg === 'gateway started');
    say(`segw gateway up, data plane: ${String(started?.dataPlane)} (${String(started?.reason)})`);
    const ss = await StrongSwan.start(bs, { name: 'bs', swanctl: strongSwanBaseStation() });
    say('strongSwan base station: initiating');
    await ss.initiate('s1', { timeoutS: 20 });
    const sas = await ss.waitForSas((ev) => ev.some((e) => ikeSas(e).some(([, ike]) => childSas(ike).some((c) => c.state === 'INSTALLED'))));
    const [, ike] = ikeSas(sas[0])[0];
    say(`IKE SA ${String(ike.state)}, ${String(ike['encr-alg'])}/${String(ike['dh-group'])}; child INSTALLED`);
    const ping = await bs.exec('ping', ['-c', '3', '-i', '0.2', '-W', '2', '-I', '192.0.2.1', '192.0.2.129'], { allowFail: true });
    say(`ping base station -> core through the tunnel: ${/(\d+) received/.exec(ping.stdout)?.[1] ?? 0}/3 replies`);
    const back = await gw.exec('ping', ['-c', '3', '-i', '0.2', '-W', '2', '-I', '192.0.2.129', '192.0.2.1'], { allowFail: true });
    say(`ping core -> base station through the tunnel: ${/(\d+) received/.exec(back.stdout)?.[1] ?? 0}/3 replies`);
    const routes = await gw.exec('ip', ['route', 'show', 'proto', 'segw']);
    say(`gateway's injected routes (ip route show proto segw):\n    ${routes.stdout.trim() || '(none)'}`);
    if (opts.keep) {
      say(`--keep: namespaces stay up until Ctrl-C (ip netns exec ${gw.ns} ...)`);
      await new Promise<void>((r) => process.once('SIGINT', () => r()));
    }
    await ss.stop();
    await segw.stop();
    const ok = ping.code === 0 && back.code === 0 && routes.stdout.includes('192.0.2.0/25');
    say(ok ? 'demo OK' : 'demo FAILED (see above)');
    return ok ? 0 : 1;
  } finally {
    await lab.close();
    say('namespaces removed');
  }
}

/**
 * The harness every interop test stands on: two strongSwan 5.9.8 peers (kernel-libipsec) in two
 * namespaces bring up a PSK tunnel, ping passes through it, and tshark on the link sees IKE on
 * 500 and 4500 and ESP in UDP.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withLab, Lab } from '../../src/lab/lab.js';
import { StrongSwan } from '../../src/lab/peers/strongswan.js';
import { Capture } from '../../src/lab/peers/tshark.js';
import { childSas, ikeSas } from '../../src/lab/peers/vici-raw.js';
import { ExchangeType } from '../../src/ike/constants.js';

function conf(local: string, remote: string, localId: string, remoteId: string, lts: string, rts: string, start: boolean): string {
  return `connections {
  tun {
    local_addrs = ${local}
    remote_addrs = ${remote}
    version = 2
    proposals = aes128gcm16-prfsha256-ecp256
    local {
      auth = psk
      id = ${localId}
    }
    remote {
      auth = psk
      id = ${remoteId}
    }
    children {
      net {
        local_ts = ${lts}
        remote_ts = ${rts}
        esp_proposals = aes128gcm16
        ${start ? '' : 'start_action = none'}
      }
    }
  }
}
secrets {
  ike-1 {
    id-a = a.example
    id-b = b.example
    secret = "smoke-test-psk-0123"
  }
}
`;
}

test('two strongSwan peers bring up a PSK tunnel; ping passes; tshark sees IKE and ESP-in-UDP', { timeout: 120_000 }, async () => {
  let labId = '';
  await withLab('smoke', async (lab) => {
    labId = lab.id;
    const bs = await lab.host('bs');
    const gw = await lab.host('gw');
    await lab.link(bs, gw, { a: '198.51.100.1/24', b: '198.51.100.2/24' });
    await lab.lan(bs, '192.0.2.1/25');
    await lab.lan(gw, '192.0.2.129/25');

    const cap = await Capture.start(gw, 'eth0');
    const ssGw = await StrongSwan.start(gw, {
      name: 'gw',
      swanctl: conf('198.51.100.2', '198.51.100.1', 'b.example', 'a.example', '192.0.2.128/25', '192.0.2.0/25', false),
    });
    const ssBs = await StrongSwan.start(bs, {
      name: 'bs',
      swanctl: conf('198.51.100.1', '198.51.100.2', 'a.example', 'b.example', '192.0.2.0/25', '192.0.2.128/25', true),
    });
    await ssBs.initiate('net', { timeoutS: 20 });

    const sas = await ssGw.waitForSas((events) =>
      events.some((e) => ikeSas(e).some(([, ike]) => ike.state === 'ESTABLISHED' && childSas(ike).some((c) => c.state === 'INSTALLED'))),
    );
    assert.ok(sas.length > 0);

    // ping through the tunnel, from the base station's LAN address to the gateway's
    const ping = await bs.exec('ping', ['-c', '3', '-i', '0.2', '-W', '2', '-I', '192.0.2.1', '192.0.2.129'], { allowFail: true });
    assert.equal(ping.code, 0, `ping through the tunnel failed:\n${ping.stdout}\n${ssBs.log.slice(-2000)}`);

    const frames = await cap.stop();
    const ike500 = frames.filter((f) => f.dport === 500 && f.ikeExchange === ExchangeType.IKE_SA_INIT);
    const ike4500 = frames.filter((f) => f.dport === 4500 && f.ikeExchange === ExchangeType.IKE_AUTH);
    const esp = frames.filter((f) => f.dport === 4500 && f.espSpi !== undefined);
    assert.ok(ike500.length >= 2, 'IKE_SA_INIT request and response on port 500');
    assert.ok(ike4500.length >= 2, 'IKE_AUTH on port 4500 (kernel-libipsec floats to 4500)');
    assert.ok(esp.length >= 6, `ESP-in-UDP packets for 3 pings both ways, saw ${esp.length}`);
    assert.deepEqual(frames.filter((f) => f.malformed || f.expert.includes('error')), []);

    await ssBs.stop();
    await ssGw.stop();
  });
  assert.deepEqual(await Lab.leftovers(labId), { namespaces: [], links: [] });
});

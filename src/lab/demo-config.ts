/**
 * The configurations of the cluster demo (./demo.ts), written from one description so the
 * gateways and the base stations always agree: three `segw gateway` members (VRRPv3 for the
 * VIP, HMAC load reports, userspace ESP), a strongSwan 5.9.8 base station and a `segw
 * basestation` process holding several base stations' tunnels (one connection each).
 *
 *   cluster LAN 203.0.113.0/24 (a bridge)      VIP 203.0.113.10 (the VRRP master's)
 *     gw1 .1 (priority 200)  gw2 .2 (150)  gw3 .3 (100)    core LAN 192.0.2.128/25 on each
 *     bs1 .101  strongSwan, its LAN 192.0.2.0/27
 *     bsf .102  segw basestation: bs2..bsN, LANs 192.0.2.32/27, .64/27, .96/27
 */
export const VIP = '203.0.113.10';
export const GW_PRIORITIES = [200, 150, 100] as const;
export const gwAddr = (i: number): string => `203.0.113.${i + 1}`;
export const STRONGSWAN_ADDR = '203.0.113.101';
export const FLEET_ADDR = '203.0.113.102';
/** The core LAN's address on every gateway: whichever serves a tunnel answers pings to it. */
export const CORE_ADDR = '192.0.2.129';
export const STRONGSWAN_LAN = { net: '192.0.2.0/27', addr: '192.0.2.1' };
/** The subnets of the segw base stations (bs2, bs3, bs4). */
export const FLEET_LANS = ['192.0.2.32/27', '192.0.2.64/27', '192.0.2.96/27'] as const;

const PSK = 'demo-psk-not-secret-0123';
const GW_ID = 'gw.segw.example';
const IKE = 'aes128gcm16-prfsha256-ecp256';
const ESP = 'aes128gcm16';

/** One cluster member: gateway `i` (0-based) of three. */
export function clusterGatewayConfig(i: number): Record<string, unknown> {
  const others = [0, 1, 2].filter((j) => j !== i).map(gwAddr);
  return {
    node: { name: `gw${i + 1}` },
    log: { level: 'info' },
    ike: { listen: [gwAddr(i)] },
    kernel: { ipsec: 'userspace', userspace: { tun: 'segw0', mtu: 1400, threads: 1 } },
    connections: {
      basestations: {
        local: { id: GW_ID, auth: 'psk' },
        remote: { id: '%any', addrs: ['%any'], auth: 'psk' },
        psk: PSK,
        ikeProposals: [IKE],
        dpd: 1,
        children: { s1: { localTs: ['192.0.2.128/25'], remoteTs: ['192.0.2.0/25'], espProposals: [ESP] } },
      },
    },
    cluster: {
      address: gwAddr(i),
      vips: [`${VIP}/24`],
      keyFile: 'cluster.key',
      capacity: { maxTunnels: 1000, bandwidth: '1G' },
      reports: { listen: gwAddr(i), interval: '250ms', staleAfter: 3, peers: others },
      vrrp: { interface: 'eth0', vrid: 51, priority: GW_PRIORITIES[i], advertInterval: '100ms' },
    },
  };
}

/** The `segw basestation` process: `count` base stations (bs2..), each its own IKE SA to the VIP. */
export function fleetConfig(count: number): Record<string, unknown> {
  const connections: Record<string, unknown> = {};
  for (const [k, net] of FLEET_LANS.slice(0, count).entries()) {
    connections[`bs${k + 2}`] = {
      local: { id: `bs${k + 2}.segw.example`, auth: 'psk' },
      remote: { id: GW_ID, addrs: [VIP], auth: 'psk' },
      psk: PSK,
      ikeProposals: [IKE],
      // A quick DPD and give-up so a dead master is noticed within seconds.
      dpd: 1,
      retransmit: { timeout: 0.5, base: 1.5, tries: 2 },
      children: { s1: { localTs: [net], remoteTs: ['192.0.2.128/25'], espProposals: [ESP] } },
    };
  }
  return {
    node: { name: 'bs-fleet' },
    log: { level: 'info' },
    ike: { listen: [FLEET_ADDR] },
    // IKE only: several base stations in one process share no data plane; the pings go
    // through strongSwan's tunnel.
    kernel: { ipsec: 'stub' },
    connections,
    initiate: Object.keys(connections),
    reconnect: { initial: '300ms', max: '1s' },
  };
}

/** swanctl.conf of the strongSwan base station bs1: DPD 1 s, restart on a dead peer. */
export function strongSwanClusterBaseStation(): string {
  return `connections {
  vip {
    local_addrs = ${STRONGSWAN_ADDR}
    remote_addrs = ${VIP}
    version = 2
    proposals = ${IKE}
    dpd_delay = 1s
    local {
      auth = psk
      id = bs1.segw.example
    }
    remote {
      auth = psk
      id = ${GW_ID}
    }
    children {
      s1 {
        local_ts = ${STRONGSWAN_LAN.net}
        remote_ts = 192.0.2.128/25
        esp_proposals = ${ESP}
        start_action = none
        dpd_action = restart
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

/** charon settings for bs1: give up on a silent peer within seconds (defaults take minutes). */
export const STRONGSWAN_CHARON = 'retransmit_timeout = 0.5\n  retransmit_base = 1.5\n  retransmit_tries = 2';

/**
 * One strongSwan base station (198.51.100.1, LAN 192.0.2.0/25) to one segw gateway
 * (198.51.100.2, core LAN 192.0.2.128/25): the single-gateway setup the interop tests reuse.
 */
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

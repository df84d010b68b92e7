/**
 * The configurations of the cluster demo (./demo.ts), written from one description so the
 * gateways and the base stations always agree: three `segw gateway` members (VRRPv3 for the
 * VIP, HMAC load reports, userspace ESP), a strongSwan 5.9.8 base station and a `segw
 * basestation` process holding several base stations' tunnels (one connection each).
 *
 *   cluster LAN 203.0.113.0/24 (a bridge)      VIP 203.0.113.10 (the VRRP master's)
 *     gw1 .1 (priority 200)  gw2 .2 (150)  gw3 .3 (100)    core LAN 192.0.2.128/25 on each
 *     bs1 .101  strongSwan, its LAN 192.0.2.0/27
 *     bs2 .103  segw basestation, userspace ESP, its LAN 192.0.2.32/27
 *     bsf .102  segw basestation holding bs3, bs4 (IKE only), LANs 192.0.2.64/27, .96/27
 */
export const VIP = '203.0.113.10';
export const GW_PRIORITIES = [200, 150, 100] as const;
export const gwAddr = (i: number): string => `203.0.113.${i + 1}`;
export const STRONGSWAN_ADDR = '203.0.113.101';
export const FLEET_ADDR = '203.0.113.102';
/** The core LAN's address on every gateway: whichever serves a tunnel answers pings to it. */
export const CORE_ADDR = '192.0.2.129';
export const STRONGSWAN_LAN = { net: '192.0.2.0/27', addr: '192.0.2.1' };
/** The segw base station with a data plane (pings go through its tunnel). */
export const SEGW_BS = { addr: '203.0.113.103', net: '192.0.2.32/27', lanAddr: '192.0.2.33' };
/** The subnets of the IKE-only segw base stations (bs3, bs4). */
export const FLEET_LANS = ['192.0.2.64/27', '192.0.2.96/27'] as const;

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
      // The master serves every base station itself in this demo, so the failover moves them all;
      // redirects to the least-loaded member (RFC 5685) are shown by test/cluster/gateway-balance.
      redirect: 'off',
      keyFile: 'cluster.key',
      capacity: { maxTunnels: 1000, bandwidth: '1G' },
      reports: { listen: gwAddr(i), interval: '250ms', staleAfter: 3, peers: others },
      vrrp: { interface: 'eth0', vrid: 51, priority: GW_PRIORITIES[i], advertInterval: '100ms' },
    },
  };
}

/** One base station's connection to the VIP: its own IKE SA, its subnet to the core LAN. */
function baseStationConnection(id: string, net: string): Record<string, unknown> {
  return {
    local: { id, auth: 'psk' },
    remote: { id: GW_ID, addrs: [VIP], auth: 'psk' },
    psk: PSK,
    ikeProposals: [IKE],
    // A quick DPD and give-up so a dead master is noticed within seconds.
    dpd: 1,
    retransmit: { timeout: 0.5, base: 1.5, tries: 2 },
    children: { s1: { localTs: [net], remoteTs: ['192.0.2.128/25'], espProposals: [ESP] } },
  };
}

const RECONNECT = { initial: '300ms', max: '1s' };

/** bs2: a `segw basestation` with segw's userspace ESP engine. */
export function segwBaseStationConfig(): Record<string, unknown> {
  return {
    node: { name: 'bs2' },
    log: { level: 'info' },
    ike: { listen: [SEGW_BS.addr] },
    kernel: { ipsec: 'userspace', userspace: { tun: 'segw0', mtu: 1400, threads: 1 } },
    connections: { bs2: baseStationConnection('bs2.segw.example', SEGW_BS.net) },
    initiate: ['bs2'],
    reconnect: RECONNECT,
  };
}

/** The IKE-only `segw basestation` process: `count` base stations (bs3..), one IKE SA each. */
export function fleetConfig(count: number): Record<string, unknown> {
  const connections: Record<string, unknown> = {};
  for (const [k, net] of FLEET_LANS.slice(0, count).entries()) {
    connections[`bs${k + 3}`] = baseStationConnection(`bs${k + 3}.segw.example`, net);
  }
  return {
    node: { name: 'bs-fleet' },
    log: { level: 'info' },
    ike: { listen: [FLEET_ADDR] },
    // IKE only: several base stations in one process share no data plane (their tunnels count
    // in the members table; the pings go through bs1's and bs2's).
    kernel: { ipsec: 'stub' },
    connections,
    initiate: Object.keys(connections),
    reconnect: RECONNECT,
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

/**
 * The configurations of the cluster demo (./demo.ts), written from one description so the
 * gateways, the core router and the base stations always agree.
 *
 *   access LAN 203.0.113.0/24 (bridge "ran")
 *     primary cluster  VIP 203.0.113.10 (VRRP vrid 51): gw1 .1 (priority 200), gw2 .2 (150), gw3 .3 (100)
 *     backup cluster   VIP 203.0.113.20 (VRRP vrid 52): gw4 .4 (200), gw5 .5 (150)
 *     bs1 .101  strongSwan 5.9.8 base station, its LAN 192.0.2.0/27 (192.0.2.1)
 *     sim .102  `segw basestation` simulating N base stations, base station i protecting 198.51.100.i/32
 *   core LAN 192.0.2.192/26 (bridge "core")
 *     gwN 192.0.2.(192+N), each running BIRD: segw's injected routes (kernel protocol 200) -> eBGP
 *     core .254  BIRD, AS 64500: one BGP session per gateway (AS 64512), installs what it learns
 *   service LAN 192.0.2.128/26 behind the core: core .129, srv .130 (what bs1 pings)
 *
 * Every gateway serves one connection: the core side 192.0.2.128/26 to base-station subnets in
 * 192.0.2.0/27 (bs1) or 198.51.100.0/24 (the simulator's), userspace ESP (this kernel has none),
 * routes injected into segw0 for each child SA. The primary master redirects new base stations
 * to the least-loaded member at IKE_SA_INIT (RFC 5685, `redirect: init`).
 */
export const VIP = '203.0.113.10';
export const BACKUP_VIP = '203.0.113.20';
export const GATEWAY_COUNT = 5;
/** Gateway i (0-based): gw1..gw3 form the primary cluster, gw4 and gw5 the backup. */
export const PRIMARY = [0, 1, 2] as const;
export const BACKUP = [3, 4] as const;
export const gwName = (i: number): string => `gw${i + 1}`;
export const gwAddr = (i: number): string => `203.0.113.${i + 1}`;
export const gwCoreAddr = (i: number): string => `192.0.2.${193 + i}`;
export const isPrimary = (i: number): boolean => i < 3;
const PRIORITIES = [200, 150, 100, 200, 150] as const;
export const gwPriority = (i: number): number => PRIORITIES[i]!;

export const STRONGSWAN_ADDR = '203.0.113.101';
export const STRONGSWAN_LAN = { net: '192.0.2.0/27', addr: '192.0.2.1' };
export const SIM_ADDR = '203.0.113.102';
export const SIM_POOL = '198.51.100.0/24';
/** The simulator protects one /32 of SIM_POOL per base station (network and broadcast kept free). */
export const MAX_SIMULATED = 250;

export const CORE = { lanNet: '192.0.2.192/26', addr: '192.0.2.254', as: 64500, gatewayAs: 64512 };
export const SERVICE = { net: '192.0.2.128/26', coreAddr: '192.0.2.129', server: '192.0.2.130' };

const PSK = 'demo-psk-not-secret-0123';
const GW_ID = 'gw.segw.example';
const IKE = 'aes128gcm16-prfsha256-ecp256';
const ESP = 'aes128gcm16';

/** Gateway `i`'s `segw gateway` config: a member of the primary or the backup cluster. */
export function clusterGatewayConfig(i: number): Record<string, unknown> {
  const members = isPrimary(i) ? PRIMARY : BACKUP;
  const others = members.filter((j) => j !== i).map(gwAddr);
  return {
    node: { name: gwName(i) },
    log: { level: 'info' },
    // One simulator address opens hundreds of IKE SAs at once: no per-address half-open limit.
    ike: { listen: [gwAddr(i)], cookieThreshold: 100_000, halfOpenPerPeer: 100_000, halfOpenMax: 100_000 },
    kernel: { ipsec: 'userspace', userspace: { tun: 'segw0', mtu: 1400, threads: 1 } },
    connections: {
      basestations: {
        local: { id: GW_ID, auth: 'psk' },
        remote: { id: '%any', addrs: ['%any'], auth: 'psk' },
        psk: PSK,
        ikeProposals: [IKE],
        dpd: 1,
        children: { s1: { localTs: [SERVICE.net], remoteTs: [STRONGSWAN_LAN.net, SIM_POOL], espProposals: [ESP] } },
      },
    },
    cluster: {
      address: gwAddr(i),
      vips: [`${isPrimary(i) ? VIP : BACKUP_VIP}/24`],
      redirect: 'init',
      keyFile: isPrimary(i) ? 'primary.key' : 'backup.key',
      capacity: { maxTunnels: 1000, bandwidth: '1G' },
      reports: { listen: gwAddr(i), interval: '250ms', staleAfter: 3, peers: others },
      drain: { rate: 100 },
      // No preemption: a restarted gw1 joins as a backup instead of taking the VIP back. A
      // preempted master keeps the IKE SAs it served on the VIP but can no longer send from it
      // (they linger until its DPD gives up, and a drain of it cannot finish), so the VIP moves
      // only when its master is gone.
      vrrp: { interface: 'eth0', vrid: isPrimary(i) ? 51 : 52, priority: gwPriority(i), advertInterval: '100ms', preempt: false },
    },
  };
}

/** The simulator file: `count` base stations on the primary VIP, the backup VIP after it. */
export function simulatorConfig(count: number): Record<string, unknown> {
  return {
    simulate: {
      count,
      endpoints: [SIM_ADDR],
      'subnet-pool': SIM_POOL,
      psk: PSK,
      'gateway-id': GW_ID,
      clusters: [VIP, BACKUP_VIP],
      'remote-ts': [SERVICE.net],
      arrival: { rate: 100, burst: 20 },
      reconnect: { initial: '300ms', max: '2s' },
      // A dead gateway is noticed within seconds: DPD 1 s, retransmissions given up after ~4 s
      // (0.5 + 0.75 + 1.125 + 1.7): longer than a VRRP takeover, so a base station re-homing
      // while the VIP moves stays in its cluster rather than moving to the backup.
      dpd: 1,
      retransmit: { timeout: 0.5, base: 1.5, tries: 3 },
      failback: '4s',
      probe: '1s',
      progress: '1s',
    },
  };
}

/** BIRD on the core router: one eBGP session per gateway; everything learned goes to the kernel. */
export function coreBirdConfig(): string {
  const lines = [
    '# written by the segw demo: the core router, learning base-station routes from every gateway',
    `router id ${CORE.addr};`,
    'protocol device { scan time 2; }',
    'protocol kernel { ipv4 { import none; export all; }; }',
  ];
  for (let i = 0; i < GATEWAY_COUNT; i++) {
    lines.push(
      `protocol bgp ${gwName(i)} {`,
      `  local ${CORE.addr} as ${CORE.as};`,
      `  neighbor ${gwCoreAddr(i)} as ${CORE.gatewayAs};`,
      '  hold time 9; keepalive time 3; connect delay time 1; connect retry time 2; error wait time 1, 5;',
      '  ipv4 { import all; export none; };',
      '}',
    );
  }
  return `${lines.join('\n')}\n`;
}

function strongSwanConnection(name: string, vip: string, child: string): string {
  return `  ${name} {
    local_addrs = ${STRONGSWAN_ADDR}
    remote_addrs = ${vip}
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
      ${child} {
        local_ts = ${STRONGSWAN_LAN.net}
        remote_ts = ${SERVICE.net}
        esp_proposals = ${ESP}
        start_action = none
        dpd_action = restart
      }
    }
  }`;
}

/**
 * swanctl.conf of the strongSwan base station bs1: `vip` to the primary cluster, `dr` to the
 * backup (strongSwan 5.9.8 has no list of clusters to move along: the demo brings `dr` up when
 * the primary site is gone and `vip` back after it, as the base station's management would).
 * DPD 1 s, restart on a dead peer.
 */
export function strongSwanClusterBaseStation(): string {
  return `connections {
${strongSwanConnection('vip', VIP, 's1')}
${strongSwanConnection('dr', BACKUP_VIP, 's1dr')}
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

/**
 * The fault-matrix cluster's configurations, written from one description so the gateways and the
 * simulated base stations always agree (./cluster.ts builds the topology):
 *
 *   cluster LAN 203.0.113.0/24 (a bridge)            VIP 203.0.113.10 (the VRRP master's)
 *     gw1 .1 (priority 200)  gw2 .2 (150)  gw3 .3 (100): `segw gateway`, userspace ESP (TUN
 *         segw0), route injection into the namespace's main table (`proto segw`, dev segw0),
 *         VRRPv3 every 100 ms, HMAC load reports every 200 ms, the master redirects new base
 *         stations to the least-loaded member (RFC 5685, at IKE_SA_INIT)
 *     sim .100: `segw basestation` simulating N base stations (IKE only), each protecting one
 *         /32 of 198.51.100.128/25, all initiating to the VIP
 *
 * Timers are short so each fault converges in seconds: DPD 1 s with 2 retransmissions (0.5 s,
 * 0.75 s) on both sides, reconnect back-off 300 ms .. 2 s.
 */
export const VIP = '203.0.113.10';
export const GATEWAYS = 3;
export const PRIORITIES = [200, 150, 100] as const;
export const gwAddr = (i: number): string => `203.0.113.${i + 1}`;
export const gwName = (i: number): string => `gw${i + 1}`;
export const SIM_ADDR = '203.0.113.100';
/** Base station i protects the i-th /32 of this pool (at most 128 base stations). */
export const BS_POOL = '198.51.100.128/25';
export const BS_POOL_SIZE = 128;
/** The strongSwan base station (optional): its address, identity and protected LAN (inside BS_POOL, after the simulator's /32s). */
export const STRONGSWAN = { addr: '203.0.113.101', id: 'bs-strongswan.ran.segw.example', lan: '198.51.100.240/28', lanAddr: '198.51.100.241' } as const;
/** With the strongSwan base station the simulator's /32s must stay below its LAN. */
export const BS_POOL_SIZE_WITH_STRONGSWAN = 112;
/** The core side of every child SA. */
export const CORE_NET = '192.0.2.0/24';
/** segw's rtm_protocol for injected routes (src/kernel/types.ts ROUTE_PROTO_SEGW). */
export const PROTO_SEGW = 200;
export const TUN = 'segw0';
export const CLUSTER_KEY_FILE = 'faults-cluster.key';

const PSK = 'fault matrix psk, not secret 0123456789';
const GW_ID = 'gw.segw.example';
const IKE = 'aes128gcm16-prfsha256-ecp256';
const ESP = 'aes128gcm16';
const DPD_S = 1;
const RETRANSMIT = { timeout: 0.5, base: 1.5, tries: 2 };

export interface GatewayOptions {
  /** Child SA rekey time in seconds (short lifetimes for the rekey fault); unset: no rekey. */
  childRekeyS?: number;
  /** IKE SA rekey time in seconds; unset: no rekey. */
  ikeRekeyS?: number;
  /** log.file (absolute); unset: the log goes to standard output. */
  logFile?: string;
}

/** Gateway `i` (0-based) of the three. */
export function faultGatewayConfig(i: number, opts: GatewayOptions = {}): Record<string, unknown> {
  const others = [...Array(GATEWAYS).keys()].filter((j) => j !== i).map(gwAddr);
  const lifetime = opts.childRekeyS ? { lifetime: { rekey: opts.childRekeyS, jitter: opts.childRekeyS / 4 } } : {};
  return {
    node: { name: gwName(i) },
    log: { level: 'info', ...(opts.logFile && { file: opts.logFile }) },
    // Every base station comes from the one simulator address: the per-source limits must not bite.
    ike: { listen: [gwAddr(i)], cookieThreshold: 10_000, halfOpenPerPeer: 10_000, halfOpenMax: 10_000 },
    kernel: { ipsec: 'userspace', userspace: { tun: TUN, mtu: 1400, threads: 1 }, routes: { enabled: true } },
    connections: {
      ran: {
        local: { id: GW_ID, auth: 'psk' },
        remote: { id: '%any', addrs: ['%any'], auth: 'psk' },
        psk: PSK,
        ikeProposals: [IKE],
        dpd: DPD_S,
        retransmit: RETRANSMIT,
        ...(opts.ikeRekeyS && { ikeLifetime: { rekey: opts.ikeRekeyS, jitter: opts.ikeRekeyS / 4 } }),
        children: { core: { localTs: [CORE_NET], remoteTs: [BS_POOL], espProposals: [ESP], ...lifetime } },
      },
    },
    cluster: {
      address: gwAddr(i),
      vips: [`${VIP}/24`],
      redirect: 'init',
      keyFile: CLUSTER_KEY_FILE,
      capacity: { maxTunnels: 1000, bandwidth: '1G' },
      reports: { listen: gwAddr(i), interval: '200ms', staleAfter: 3, peers: others },
      vrrp: { interface: 'eth0', vrid: 51, priority: PRIORITIES[i], advertInterval: '100ms' },
    },
  };
}

/** The simulator's file: `count` base stations to the VIP, kept up with a short back-off. */
export function faultSimulatorConfig(count: number, withStrongSwan = false): Record<string, unknown> {
  const max = withStrongSwan ? BS_POOL_SIZE_WITH_STRONGSWAN : BS_POOL_SIZE;
  if (count > max) throw new RangeError(`at most ${max} simulated base stations (one /32 each of ${BS_POOL}${withStrongSwan ? ` below ${STRONGSWAN.lan}` : ''})`);
  return {
    simulate: {
      count,
      endpoints: [SIM_ADDR],
      'subnet-pool': BS_POOL,
      psk: PSK,
      'gateway-id': GW_ID,
      clusters: [VIP],
      'remote-ts': [CORE_NET],
      arrival: { rate: 100, burst: 10 },
      reconnect: { initial: '300ms', max: '2s' },
      dpd: DPD_S,
      retransmit: RETRANSMIT,
      failback: 'never',
      progress: '200ms',
    },
  };
}

/**
 * swanctl.conf of the strongSwan base station: to the VIP, following the master's redirect
 * (charon's default), DPD 1 s; a dead gateway's SA or a gateway's Delete brings it back.
 */
export function faultStrongSwanConf(): string {
  return `connections {
  vip {
    local_addrs = ${STRONGSWAN.addr}
    remote_addrs = ${VIP}
    version = 2
    proposals = ${IKE}
    dpd_delay = 1s
    keyingtries = 0
    local {
      auth = psk
      id = ${STRONGSWAN.id}
    }
    remote {
      auth = psk
      id = ${GW_ID}
    }
    children {
      s1 {
        local_ts = ${STRONGSWAN.lan}
        remote_ts = ${CORE_NET}
        esp_proposals = ${ESP}
        start_action = start
        dpd_action = restart
        close_action = restart
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

/** charon settings: give up on a silent gateway within seconds, as the simulator does. */
export const FAULT_STRONGSWAN_CHARON = `retransmit_timeout = ${RETRANSMIT.timeout}\n  retransmit_base = ${RETRANSMIT.base}\n  retransmit_tries = ${RETRANSMIT.tries}`;

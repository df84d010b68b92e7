/**
 * The two peers' configurations for one scenario, written from one description so both ends
 * always agree: swanctl.conf for strongSwan 5.9.8, the YAML object for segw.
 */
import type { CertSet } from './certs.js';
import { BS_ID, GW_ID } from './certs.js';
import { BS_LAN, GW_LAN, type Lan } from './topology.js';

export const PSK = 'interop-psk-not-secret-0123456789';

export interface TunnelSpec {
  /** IKE and ESP proposals, strongSwan syntax (segw reads the same strings). */
  ike: string;
  esp: string;
  /** Certificates (pubkey auth) or, when absent, the PSK. */
  certs?: CertSet;
  /**
   * strongSwan side: DPD delay, IKE and child rekey times (seconds; unset = defaults); its own
   * IKE proposals and PSK when they are to differ from segw's (negotiation failures, retries).
   */
  swan?: {
    dpdDelay?: number;
    /** The child's dpd_action (what charon does when DPD finds the peer dead; unset = none). */
    dpdAction?: 'clear' | 'trap' | 'restart';
    /** Initiation attempts before charon gives up (its `keyingtries`; 0 = forever; unset = 1). */
    keyingTries?: number;
    ikeRekey?: number; childRekey?: number; fragmentation?: 'yes' | 'no' | 'force'; ike?: string; psk?: string;
    /** How strongSwan requires its peer to authenticate, when not as itself (a refused AUTH). */
    remoteAuth?: 'psk' | 'pubkey';
  };
  /** segw side: the same, in segw's terms. */
  segw?: {
    dpd?: number;
    ikeRekey?: number;
    childRekey?: number;
    fragmentation?: boolean;
    fragmentSize?: number;
    ike?: string[];
    retransmit?: { timeout?: number; base?: number; tries?: number };
  };
}

interface SwanEnds {
  localAddr: string;
  /** The peer's address, or %any for a responder that accepts any. */
  remoteAddr: string;
  localId: string;
  remoteId: string;
  localTs: string;
  remoteTs: string;
}

/** swanctl.conf with one connection "tun" and its child "net". */
export function swanctlConf(spec: TunnelSpec, ends: SwanEnds): string {
  const s = spec.swan ?? {};
  const auth = spec.certs ? 'pubkey' : 'psk';
  const lines = [
    'connections {',
    '  tun {',
    `    local_addrs = ${ends.localAddr}`,
    `    remote_addrs = ${ends.remoteAddr}`,
    '    version = 2',
    `    proposals = ${s.ike ?? spec.ike}`,
    `    fragmentation = ${s.fragmentation ?? 'yes'}`,
    ...(s.dpdDelay ? [`    dpd_delay = ${s.dpdDelay}s`] : []),
    ...(s.keyingTries !== undefined ? [`    keyingtries = ${s.keyingTries}`] : []),
    // Explicit over/rand times: strongSwan's defaults (10 % of a few seconds) round to 0.
    ...(s.ikeRekey ? [`    rekey_time = ${s.ikeRekey}s`, `    over_time = ${s.ikeRekey}s`, '    rand_time = 0'] : []),
    '    local {',
    `      auth = ${auth}`,
    `      id = ${ends.localId}`,
    ...(spec.certs ? ['      certs = own.pem'] : []),
    '    }',
    '    remote {',
    `      auth = ${s.remoteAuth ?? auth}`,
    `      id = ${ends.remoteId}`,
    '    }',
    '    children {',
    '      net {',
    `        local_ts = ${ends.localTs}`,
    `        remote_ts = ${ends.remoteTs}`,
    `        esp_proposals = ${spec.esp}`,
    ...(s.childRekey ? [`        rekey_time = ${s.childRekey}s`, `        life_time = ${s.childRekey * 2}s`, '        rand_time = 0'] : []),
    ...(s.dpdAction ? [`        dpd_action = ${s.dpdAction}`] : []),
    '        start_action = none',
    '      }',
    '    }',
    '  }',
    '}',
  ];
  if (!spec.certs) lines.push('secrets {', '  ike-psk {', `    secret = "${s.psk ?? PSK}"`, '  }', '}');
  return `${lines.join('\n')}\n`;
}

/** The protected LANs of both ends (IPv4 unless a scenario says otherwise). */
export interface Lans {
  bs: Lan;
  gw: Lan;
}
const V4_LANS: Lans = { bs: BS_LAN, gw: GW_LAN };

/** strongSwan as the base station (initiator) towards `gwAddr`. */
export function swanBaseStation(spec: TunnelSpec, bsAddr: string, gwAddr: string, lans: Lans = V4_LANS): string {
  return swanctlConf(spec, {
    localAddr: bsAddr,
    remoteAddr: gwAddr,
    localId: BS_ID,
    remoteId: GW_ID,
    localTs: lans.bs.net,
    remoteTs: lans.gw.net,
  });
}

/** strongSwan as the gateway (responder), accepting the base station from anywhere. */
export function swanGateway(spec: TunnelSpec, gwAddr: string, lans: Lans = V4_LANS): string {
  return swanctlConf(spec, {
    localAddr: gwAddr,
    remoteAddr: '%any',
    localId: GW_ID,
    remoteId: BS_ID,
    localTs: lans.gw.net,
    remoteTs: lans.bs.net,
  });
}

function segwConnection(spec: TunnelSpec, role: 'gateway' | 'basestation', peerAddr: string | undefined, lans: Lans): Record<string, unknown> {
  const s = spec.segw ?? {};
  const gw = role === 'gateway';
  const auth = spec.certs
    ? {
        local: { id: gw ? GW_ID : BS_ID, auth: 'pubkey', certs: ['own.pem', ...spec.certs.intermediatePems.map((_p, i) => `intermediate${i + 1}.pem`)], privateKey: 'own.key' },
        remote: {
          id: gw ? '%any' : GW_ID, addrs: [peerAddr ?? '%any'], auth: 'pubkey', cacerts: ['root.pem'],
          ...(spec.certs.crlPem ? { crls: ['ca.crl'] } : {}),
        },
      }
    : {
        local: { id: gw ? GW_ID : BS_ID, auth: 'psk' },
        remote: { id: gw ? '%any' : GW_ID, addrs: [peerAddr ?? '%any'], auth: 'psk' },
        psk: PSK,
      };
  return {
    ...auth,
    ikeProposals: s.ike ?? [spec.ike],
    ...(s.ikeRekey ? { ikeLifetime: { rekey: s.ikeRekey, jitter: 0 } } : {}),
    ...(s.dpd ? { dpd: s.dpd } : {}),
    fragmentation: s.fragmentation ?? true,
    ...(s.fragmentSize ? { fragmentSize: s.fragmentSize } : {}),
    ...(s.retransmit ? { retransmit: s.retransmit } : {}),
    children: {
      net: {
        localTs: [gw ? lans.gw.net : lans.bs.net],
        remoteTs: [gw ? lans.bs.net : lans.gw.net],
        espProposals: [spec.esp],
        ...(s.childRekey ? { lifetime: { rekey: s.childRekey, jitter: 0 } } : {}),
      },
    },
  };
}

/** segw's config (gateway or base station) and the files it names (certificates, keys). */
export function segwConfig(
  spec: TunnelSpec,
  role: 'gateway' | 'basestation',
  ownAddr: string,
  peerAddr?: string,
  lans: Lans = V4_LANS,
): { config: Record<string, unknown>; files: Record<string, string> } {
  const files: Record<string, string> = {};
  if (spec.certs) {
    const own = role === 'gateway' ? spec.certs.gw : spec.certs.bs;
    files['own.pem'] = own.certPem;
    files['own.key'] = own.keyPem;
    files['root.pem'] = spec.certs.rootPem;
    spec.certs.intermediatePems.forEach((p, i) => (files[`intermediate${i + 1}.pem`] = p));
    if (spec.certs.crlPem) files['ca.crl'] = spec.certs.crlPem;
  }
  const config = {
    node: { name: role === 'gateway' ? 'gw1' : 'bs1' },
    log: { level: 'debug' },
    ike: { listen: [ownAddr] },
    kernel: { ipsec: 'auto', userspace: { tun: 'segw0', mtu: 1400, threads: 1 } },
    connections: { tun: segwConnection(spec, role, peerAddr, lans) },
    ...(role === 'basestation' ? { initiate: ['tun'] } : {}),
  };
  return { config, files };
}

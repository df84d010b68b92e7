/**
 * The base-station profile the load benches share (bench/intake, bench/flood, bench/balance): one
 * PSK connection "ran" whose base stations take an address from POOL behind a child to the core,
 * as a segw gateway connection and as the same connection in charon's swanctl.conf, with charon's
 * logging off (as in bench/ike-setup) so that logging does not weigh on its side.
 */
export const RAN_PROPOSAL = 'aes128gcm16-prfsha256-ecp256';
export const RAN_GW_ID = 'gw.segw.example';
export const RAN_POOL = '198.18.0.0/15';

export interface RanProfile {
  psk: string;
  /** The core's traffic selector (the gateway's side of the child). */
  coreTs: string;
}

/** The `connections:` entry of a segw gateway serving the profile. */
export function segwRanConnections(p: RanProfile): Record<string, unknown> {
  return {
    ran: {
      local: { id: RAN_GW_ID, auth: 'psk' },
      remote: { id: '%any', addrs: ['%any'], auth: 'psk' },
      psk: p.psk,
      ikeProposals: [RAN_PROPOSAL],
      children: { core: { localTs: [p.coreTs], remoteTs: [RAN_POOL], espProposals: ['aes128gcm16'] } },
    },
  };
}

/** charon's swanctl.conf for the same connection, answering on `localAddr`. */
export function charonRanSwanctl(p: RanProfile, localAddr: string): string {
  return `connections {
  ran {
    version = 2
    local_addrs = ${localAddr}
    proposals = ${RAN_PROPOSAL}
    send_certreq = no
    local { auth = psk
      id = ${RAN_GW_ID} }
    remote { auth = psk }
    children {
      core { local_ts = ${p.coreTs}
        remote_ts = ${RAN_POOL}
        esp_proposals = aes128gcm16 }
    }
  }
}
secrets { ike-ran { secret = "${p.psk}" } }
`;
}

/** charon's log levels with every subsystem off. */
export const CHARON_QUIET: Record<string, number> = Object.fromEntries(
  ['dmn', 'mgr', 'ike', 'chd', 'cfg', 'knl', 'net', 'enc', 'lib', 'asn', 'job', 'esp', 'tls', 'app'].map((k) => [k, -1]),
);

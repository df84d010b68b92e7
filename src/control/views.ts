/**
 * IKE and child SAs as the control socket shows them: plain JSON, SPIs in hex as they appear on
 * the wire (and in `swanctl --list-sas`), algorithms by their IANA names, no key material.
 */
import { DhGroup, EncrId, IntegId, PrfId, nameOf } from '../ike/constants.js';
import type { IkeSuite } from '../ike/crypto/types.js';
import type { EspSuite } from '../ike/proposal.js';
import { IkeFlag, type IkeSa } from '../ike/sa/ike-sa.js';
import { hex, type ChildSa } from '../ike/sa/child-sa.js';
import { tsToString } from '../ike/traffic-selectors.js';
import type { IpsecStats, SaCounters } from '../kernel/types.js';

export interface EndpointView {
  address: string;
  port: number;
  /** Our configured identity (local) or the authenticated peer identity (remote). */
  id: string | null;
}

export interface ChildSaView {
  name: string;
  state: string;
  reqid: number;
  /** Our inbound SPI (the peer sends with it) and our outbound SPI, 8 hex digits each. */
  spiIn: string;
  spiOut: string;
  mode: string;
  encap: boolean;
  esp: { encryption: string; keySize: number; integrity: string | null; esn: boolean; dhGroup: string | null } | null;
  localTs: string[];
  remoteTs: string[];
  /** Seconds since installation (0 if not installed). */
  installedS: number;
  /**
   * SA counters from the data plane, with `list-sas {counters: true}`: packets and bytes each
   * way, and the inbound SA's drops by reason (`other`: malformed, selector mismatch, expired;
   * absent where the data plane does not tell).
   */
  counters?: {
    packetsIn: string;
    bytesIn: string;
    packetsOut: string;
    bytesOut: string;
    dropsIn: { replay: string; integrity: string; other?: string };
  } | null;
}

export interface IkeSaView {
  /** SPIi_SPIr in hex: how every other method names this IKE SA. */
  name: string;
  connection: string | null;
  state: string;
  /** We are the original initiator of this IKE SA (after a rekey: of the rekeyed SA). */
  initiator: boolean;
  spiI: string;
  spiR: string;
  local: EndpointView;
  remote: EndpointView;
  nat: { local: boolean; remote: boolean };
  proposal: { encryption: string; keySize: number; integrity: string | null; prf: string; dhGroup: string } | null;
  /** Seconds since the SA was established (0 if not yet). */
  establishedS: number;
  tasks: { active: string[]; queued: string[] };
  children: ChildSaView[];
}

function ikeProposal(s: IkeSuite | undefined): IkeSaView['proposal'] {
  if (!s) return null;
  return {
    encryption: nameOf(EncrId, s.encr),
    keySize: s.encrKeyLength,
    integrity: s.integ === IntegId.NONE ? null : nameOf(IntegId, s.integ),
    prf: nameOf(PrfId, s.prf),
    dhGroup: nameOf(DhGroup, s.dh),
  };
}

function espProposal(s: EspSuite | undefined): ChildSaView['esp'] {
  if (!s) return null;
  const keyBytes = s.encryption === 'aes-gcm-16' ? s.encrKeyBytes - 4 : s.encrKeyBytes;
  return {
    encryption: s.encryption,
    keySize: keyBytes * 8,
    integrity: s.integrity ?? null,
    esn: s.esn,
    dhGroup: s.dh === DhGroup.NONE ? null : nameOf(DhGroup, s.dh),
  };
}

const seconds = (now: number, at: number) => (at > 0 ? Math.max(0, Math.round((now - at) / 1000)) : 0);

export function childSaView(c: ChildSa, counters?: { in?: SaCounters; out?: SaCounters } | null): ChildSaView {
  const v: ChildSaView = {
    name: c.name,
    state: c.state,
    reqid: c.reqid,
    spiIn: hex(c.spiIn),
    spiOut: hex(c.spiOut),
    mode: c.cfg.mode,
    encap: c.ike.natDetected,
    esp: espProposal(c.suite),
    localTs: c.localTs.map(tsToString),
    remoteTs: c.remoteTs.map(tsToString),
    installedS: seconds(c.ike.ctx.scheduler.now(), c.installedAt),
  };
  if (counters !== undefined) {
    v.counters = counters && {
      packetsIn: String(counters.in?.packets ?? 0n),
      bytesIn: String(counters.in?.bytes ?? 0n),
      packetsOut: String(counters.out?.packets ?? 0n),
      bytesOut: String(counters.out?.bytes ?? 0n),
      dropsIn: {
        replay: String(counters.in?.replayDrops ?? 0n),
        integrity: String(counters.in?.integrityFailures ?? 0n),
        ...(counters.in?.otherDrops !== undefined && { other: String(counters.in.otherDrops) }),
      },
    };
  }
  return v;
}

export function ikeSaView(sa: IkeSa, children: ChildSaView[] = sa.children.map((c) => childSaView(c))): IkeSaView {
  return {
    name: sa.name,
    connection: sa.conn?.name ?? null,
    state: sa.state,
    initiator: sa.initiator,
    spiI: sa.spiI.toString('hex'),
    spiR: sa.spiR.toString('hex'),
    local: { address: sa.local.address, port: sa.local.port, id: sa.conn?.cfg.local.id ?? null },
    remote: { address: sa.remote.address, port: sa.remote.port, id: sa.peerId ?? null },
    nat: { local: sa.has(IkeFlag.NAT_LOCAL), remote: sa.has(IkeFlag.NAT_REMOTE) },
    proposal: ikeProposal(sa.suite),
    establishedS: seconds(sa.ctx.scheduler.now(), sa.establishedAt),
    tasks: { active: sa.tm.activeTasks().map((t) => t.type), queued: sa.tm.queuedTasks().map((t) => t.type) },
    children,
  };
}

/**
 * The data plane's drops in `status`: by reason and in total, per direction, or why the backend
 * cannot count them.
 */
export type EspDropsView =
  | {
      available: true; in: Record<string, number>; out: Record<string, number>; totalIn: number; totalOut: number;
      /** SAs and policies the data plane holds now (where it tells): compare with list-sas to find leaks. */
      installed?: { sas: number; policies: number };
    }
  | { available: false; reason: string };

export function espDropsView(stats: IpsecStats): EspDropsView {
  if (!stats.available) return stats;
  const total = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
  const { in: inbound, out } = stats.drops;
  return { available: true, in: inbound, out, totalIn: total(inbound), totalOut: total(out), ...(stats.installed && { installed: stats.installed }) };
}

/**
 * XFRM messages from the kernel, read through the declarations in src/netlink/xfrm.ts: SAs
 * (NEWSA replies to GETSA/ALLOCSPI and dump parts), policies (dump parts) and expiry events.
 */
import { familyOfAf } from '../../netlink/addr.js';
import { bytesToIp, type Family } from '../../net/ip.js';
import { decodeAttrs } from '../../netlink/attr.js';
import { nlmsgAlign } from '../../netlink/constants.js';
import type { NlMessage } from '../../netlink/message.js';
import {
  XFRM_MODE,
  XFRM_POLICY_DIR,
  XFRMA,
  xfrm_user_expire,
  xfrm_user_mapping,
  xfrm_userpolicy_info,
  xfrm_usersa_info,
  type xfrm_selector,
} from '../../netlink/xfrm.js';
import type { ExpireKind, PolicyDirection, SaCounters, SaRef } from '../types.js';

type Selector = ReturnType<typeof xfrm_selector.zero>;

export interface XfrmSa {
  src: string;
  dst: string;
  spi: number;
  proto: number;
  reqid: number;
  mode: 'tunnel' | 'transport' | 'other';
  family: Family;
  replayWindow: number;
  flags: number;
  /** Larval (allocated, not yet filled): no algorithm attached. */
  larval: boolean;
  counters: SaCounters;
  mark?: { value: number; mask: number };
  encap?: { type: number; sport: number; dport: number };
  algorithms: string[];
  /** XFRMA_OFFLOAD_DEV: listed while a device offloads the SA. */
  offload?: { ifindex: number; flags: number };
}

export interface XfrmPolicy {
  direction: PolicyDirection | 'other';
  src: string;
  dst: string;
  priority: number;
  index: number;
  proto: number;
  sport: number;
  dport: number;
  mark?: { value: number; mask: number };
  templates: { src: string; dst: string; reqid: number; mode: number; proto: number }[];
}

const modeName = (m: number): XfrmSa['mode'] =>
  m === XFRM_MODE.XFRM_MODE_TUNNEL ? 'tunnel' : m === XFRM_MODE.XFRM_MODE_TRANSPORT ? 'transport' : 'other';

function address(b: Buffer, family: Family): string {
  return bytesToIp(b, family);
}

function selectorText(sel: Selector, side: 's' | 'd'): string {
  const family = familyOfAf(sel.family);
  if (!sel.family) return 'any';
  return `${address(side === 's' ? sel.saddr : sel.daddr, family)}/${side === 's' ? sel.prefixlen_s : sel.prefixlen_d}`;
}

export function parseSa(m: NlMessage): XfrmSa {
  const info = xfrm_usersa_info.decode(m.payload, 0, xfrm_usersa_info.size);
  const a = decodeAttrs(XFRMA, m.payload, nlmsgAlign(xfrm_usersa_info.size));
  const family = familyOfAf(info.family);
  const algorithms = [a.XFRMA_ALG_AEAD, a.XFRMA_ALG_CRYPT, a.XFRMA_ALG_AUTH_TRUNC, a.XFRMA_ALG_AUTH]
    .filter((x) => x !== undefined)
    .map((x) => x.alg_name);
  const lastUsed = a.XFRMA_LASTUSED ?? info.curlft.use_time;
  return {
    src: address(info.saddr, family),
    dst: address(info.id.daddr, family),
    spi: info.id.spi >>> 0,
    proto: info.id.proto,
    reqid: info.reqid,
    mode: modeName(info.mode),
    family,
    replayWindow: a.XFRMA_REPLAY_ESN_VAL?.replay_window ?? info.replay_window,
    flags: info.flags,
    larval: algorithms.length === 0,
    counters: {
      packets: info.curlft.packets,
      bytes: info.curlft.bytes,
      replayDrops: BigInt(info.stats.replay),
      integrityFailures: BigInt(info.stats.integrity_failed),
      lastUsedMs: Number(lastUsed) * 1000,
    },
    mark: a.XFRMA_MARK ? { value: a.XFRMA_MARK.v, mask: a.XFRMA_MARK.m } : undefined,
    encap: a.XFRMA_ENCAP
      ? { type: a.XFRMA_ENCAP.encap_type, sport: a.XFRMA_ENCAP.encap_sport, dport: a.XFRMA_ENCAP.encap_dport }
      : undefined,
    algorithms,
    offload: a.XFRMA_OFFLOAD_DEV ? { ifindex: a.XFRMA_OFFLOAD_DEV.ifindex, flags: a.XFRMA_OFFLOAD_DEV.flags } : undefined,
  };
}

const DIRS: Record<number, PolicyDirection> = {
  [XFRM_POLICY_DIR.XFRM_POLICY_IN]: 'in',
  [XFRM_POLICY_DIR.XFRM_POLICY_OUT]: 'out',
  [XFRM_POLICY_DIR.XFRM_POLICY_FWD]: 'fwd',
};

export function parsePolicy(m: NlMessage): XfrmPolicy {
  const info = xfrm_userpolicy_info.decode(m.payload, 0, xfrm_userpolicy_info.size);
  const a = decodeAttrs(XFRMA, m.payload, nlmsgAlign(xfrm_userpolicy_info.size));
  return {
    direction: DIRS[info.dir] ?? 'other',
    src: selectorText(info.sel, 's'),
    dst: selectorText(info.sel, 'd'),
    priority: info.priority,
    index: info.index,
    proto: info.sel.proto,
    sport: info.sel.sport,
    dport: info.sel.dport,
    mark: a.XFRMA_MARK ? { value: a.XFRMA_MARK.v, mask: a.XFRMA_MARK.m } : undefined,
    templates: (a.XFRMA_TMPL ?? []).map((t) => {
      const f = familyOfAf(t.family);
      return { src: address(t.saddr, f), dst: address(t.id.daddr, f), reqid: t.reqid, mode: t.mode, proto: t.id.proto };
    }),
  };
}

export interface XfrmExpire {
  sa: SaRef;
  src: string;
  kind: ExpireKind;
  reason: 'bytes' | 'packets' | 'sequence';
}

/**
 * XFRM_MSG_EXPIRE: which limit fired is not in the message, so it is read from the counters
 * against the limits (bytes first); an SA that reached neither ran out of sequence numbers
 * (RFC 4303 §3.3.3) or of time, and both mean "rekey now".
 */
export function parseExpire(m: NlMessage): XfrmExpire {
  const e = xfrm_user_expire.decode(m.payload, 0, xfrm_user_expire.size);
  const s = e.state;
  const family = familyOfAf(s.family);
  const hard = e.hard !== 0;
  const byteLimit = hard ? s.lft.hard_byte_limit : s.lft.soft_byte_limit;
  const packetLimit = hard ? s.lft.hard_packet_limit : s.lft.soft_packet_limit;
  const reason = s.curlft.bytes >= byteLimit ? 'bytes' : s.curlft.packets >= packetLimit ? 'packets' : 'sequence';
  return {
    sa: { dst: address(s.id.daddr, family), spi: s.id.spi >>> 0, protocol: 'esp' },
    src: address(s.saddr, family),
    kind: hard ? 'hard' : 'soft',
    reason,
  };
}

export interface XfrmMapping {
  sa: SaRef;
  remote: { address: string; port: number };
}

/**
 * XFRM_MSG_MAPPING: an inbound ESP-in-UDP SA received an authenticated packet from a new
 * source address or port (the kernel's esp_input_done2 -> km_new_mapping): the peer's NAT
 * mapping changed (RFC 7296 §2.23).
 */
export function parseMapping(m: NlMessage): XfrmMapping {
  const e = xfrm_user_mapping.decode(m.payload, 0, xfrm_user_mapping.size);
  const family = familyOfAf(e.id.family);
  return {
    sa: { dst: address(e.id.daddr, family), spi: e.id.spi >>> 0, protocol: 'esp' },
    remote: { address: address(e.new_saddr, family), port: e.new_sport },
  };
}

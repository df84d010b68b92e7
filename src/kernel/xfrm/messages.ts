/**
 * XFRM requests built from the kernel interface's parameters (src/kernel/types.ts), as pure
 * functions: each returns the message type, the flags beyond NLM_F_REQUEST|NLM_F_ACK, and the
 * payload (family header + attributes). test/kernel/xfrm/ compares them byte for byte with what
 * iproute2 sends for the equivalent `ip xfrm` command.
 *
 * Choices, each the same as iproute2 unless said otherwise:
 * - NEWSA/UPDSA/NEWPOLICY carry no NLM_F_CREATE/EXCL: XFRM decides add vs update by message type.
 * - Lifetimes: 0 (unlimited) in SaParams is XFRM_INF for byte and packet limits; no time limits
 *   (IKE schedules rekeying itself).
 * - Replay: window <= 32 without ESN travels in xfrm_usersa_info.replay_window; ESN or a larger
 *   window in XFRMA_REPLAY_ESN_VAL (header only: the kernel sizes the bitmap itself for NEWSA).
 * - Tunnel-mode SAs carry an empty selector and XFRM_STATE_AF_UNSPEC, so one SA carries IPv4 and
 *   IPv6 inner traffic; the policies do the selecting (strongSwan does the same). Transport-mode
 *   SAs get the child's selector when it is a single prefix pair.
 * - Attribute order: algorithms, XFRMA_ENCAP, XFRMA_REPLAY_ESN_VAL, XFRMA_MARK, XFRMA_OFFLOAD_DEV.
 */
import { afOf, xfrmAddress } from '../../netlink/addr.js';
import { familyOf } from '../../net/ip.js';
import { encodeAttr, encodeAttrs, splitAttrs, type AttrInput } from '../../netlink/attr.js';
import { nlaAlign } from '../../netlink/constants.js';
import {
  IPPROTO_XFRM,
  UDP_ENCAP,
  XFRM_INF,
  XFRM_MODE,
  XFRM_MSG,
  XFRM_POLICY_DIR,
  XFRM_STATE,
  XFRMA,
  XFRMA_REPLAY_ESN_MAX,
  xfrm_encap_tmpl,
  xfrm_usersa_id,
  xfrm_usersa_info,
  xfrm_usersa_flush,
  xfrm_userspi_info,
  xfrm_userpolicy_id,
  xfrm_userpolicy_info,
  xfrm_selector,
} from '../../netlink/xfrm.js';
import type { EspEncryption, EspIntegrity, PolicyParams, SaLifetime, SaParams, SaRef } from '../types.js';
import { XfrmParamError } from './errors.js';
import { singleSelector, toSelectors } from './selectors.js';
import type { OffloadAttr } from './offload.js';

export interface XfrmRequest {
  type: number;
  /** Flags besides NLM_F_REQUEST|NLM_F_ACK. */
  flags: number;
  payload: Buffer;
  /** Words for errors: 'add SA esp spi 0xc0000001 to 198.51.100.2'. */
  detail: string;
}

type XfrmAttrs = AttrInput<typeof XFRMA.defs>;

/** Encryption: kernel crypto API name and accepted key lengths (octets, with salt for GCM). */
const ENCRYPTION: Record<EspEncryption, { name: string; keyLengths: number[]; aead: boolean }> = {
  // RFC 4106 §8.1: the key material is the AES key followed by a 4-octet salt; ICV 16 octets.
  'aes-gcm-16': { name: 'rfc4106(gcm(aes))', keyLengths: [20, 28, 36], aead: true },
  // RFC 3602
  'aes-cbc': { name: 'cbc(aes)', keyLengths: [16, 24, 32], aead: false },
};
/** Integrity: RFC 4868 HMAC-SHA-256/384/512 truncated to half the hash (bits). */
const INTEGRITY: Record<EspIntegrity, { name: string; keyLength: number; truncBits: number }> = {
  'hmac-sha2-256-128': { name: 'hmac(sha256)', keyLength: 32, truncBits: 128 },
  'hmac-sha2-384-192': { name: 'hmac(sha384)', keyLength: 48, truncBits: 192 },
  'hmac-sha2-512-256': { name: 'hmac(sha512)', keyLength: 64, truncBits: 256 },
};
export const AEAD_ICV_BITS = 128;
const LEGACY_REPLAY_MAX = 32;

const MODE = { tunnel: XFRM_MODE.XFRM_MODE_TUNNEL, transport: XFRM_MODE.XFRM_MODE_TRANSPORT } as const;
const POLICY_DIR = { in: XFRM_POLICY_DIR.XFRM_POLICY_IN, out: XFRM_POLICY_DIR.XFRM_POLICY_OUT, fwd: XFRM_POLICY_DIR.XFRM_POLICY_FWD };

const hex = (spi: number) => `0x${(spi >>> 0).toString(16).padStart(8, '0')}`;
export const saDetail = (verb: string, ref: SaRef, offload?: OffloadAttr) =>
  `${verb} SA ${ref.protocol} spi ${hex(ref.spi)} dst ${ref.dst}${offload ? ` with ${offload.flags & 4 ? 'packet' : 'crypto'} offload` : ''}`;

function limit(v: bigint): bigint {
  return v === 0n ? XFRM_INF : v;
}

function lifetimeCfg(l: SaLifetime) {
  return {
    soft_byte_limit: limit(l.softBytes),
    hard_byte_limit: limit(l.hardBytes),
    soft_packet_limit: limit(l.softPackets),
    hard_packet_limit: limit(l.hardPackets),
  };
}

function algorithmAttrs(sa: SaParams): XfrmAttrs {
  const enc = ENCRYPTION[sa.encryption];
  if (!enc) throw new XfrmParamError(`encryption "${sa.encryption}" has no kernel algorithm`);
  if (!enc.keyLengths.includes(sa.encryptionKey.length)) {
    throw new XfrmParamError(`${sa.encryption} key of ${sa.encryptionKey.length} octets (expected ${enc.keyLengths.join('/')})`);
  }
  const alg_key_len = sa.encryptionKey.length * 8;
  if (enc.aead) {
    if (sa.integrity) throw new XfrmParamError(`${sa.encryption} is AEAD: no separate integrity algorithm`);
    return { XFRMA_ALG_AEAD: { alg_name: enc.name, alg_key_len, alg_icv_len: AEAD_ICV_BITS, alg_key: sa.encryptionKey } };
  }
  if (!sa.integrity || !sa.integrityKey) throw new XfrmParamError(`${sa.encryption} needs an integrity algorithm and key`);
  const integ = INTEGRITY[sa.integrity];
  if (!integ) throw new XfrmParamError(`integrity "${sa.integrity}" has no kernel algorithm`);
  if (sa.integrityKey.length !== integ.keyLength) {
    throw new XfrmParamError(`${sa.integrity} key of ${sa.integrityKey.length} octets (expected ${integ.keyLength})`);
  }
  return {
    XFRMA_ALG_CRYPT: { alg_name: enc.name, alg_key_len, alg_key: sa.encryptionKey },
    XFRMA_ALG_AUTH_TRUNC: {
      alg_name: integ.name,
      alg_key_len: sa.integrityKey.length * 8,
      alg_trunc_len: integ.truncBits,
      alg_key: sa.integrityKey,
    },
  };
}

function replay(sa: SaParams): { replay_window: number; esnAttr?: XfrmAttrs['XFRMA_REPLAY_ESN_VAL'] } {
  const w = sa.replayWindow;
  if (!Number.isInteger(w) || w < 0 || w > XFRMA_REPLAY_ESN_MAX) {
    throw new XfrmParamError(`replay window ${w} (0..${XFRMA_REPLAY_ESN_MAX} packets)`);
  }
  if (!sa.esn && w <= LEGACY_REPLAY_MAX) return { replay_window: w };
  return {
    replay_window: 0,
    esnAttr: { bmp_len: Math.ceil(w / 32), oseq: 0, seq: 0, oseq_hi: 0, seq_hi: 0, replay_window: w },
  };
}

/** The SA selector: empty in tunnel mode, the child's single prefix pair in transport mode. */
function saSelector(sa: SaParams): ReturnType<typeof xfrm_selector.zero> | undefined {
  if (sa.mode === 'tunnel') return undefined;
  const [local, remote] = [sa.localTs[0], sa.remoteTs[0]];
  if (sa.localTs.length !== 1 || sa.remoteTs.length !== 1) return undefined;
  return sa.direction === 'out' ? singleSelector(local, remote) : singleSelector(remote, local);
}

function checkSaEndpoints(sa: { src: string; dst: string }): number {
  const family = familyOf(sa.dst);
  if (familyOf(sa.src) !== family) throw new XfrmParamError(`SA endpoints ${sa.src} and ${sa.dst} mix families`);
  return afOf(family);
}

function saPayload(sa: SaParams, offload?: OffloadAttr): Buffer {
  const family = checkSaEndpoints(sa);
  const rp = replay(sa);
  let flags = sa.esn ? XFRM_STATE.XFRM_STATE_ESN : 0;
  if (sa.mode === 'tunnel') flags |= XFRM_STATE.XFRM_STATE_AF_UNSPEC;
  const info = xfrm_usersa_info.encode({
    sel: saSelector(sa),
    id: { daddr: xfrmAddress(sa.dst), spi: sa.spi >>> 0, proto: IPPROTO_XFRM.IPPROTO_ESP },
    saddr: xfrmAddress(sa.src),
    lft: { ...xfrm_usersa_info.zero().lft, ...lifetimeCfg(sa.lifetime) },
    reqid: sa.reqid,
    family,
    mode: MODE[sa.mode],
    replay_window: rp.replay_window,
    flags,
  });
  const attrs: XfrmAttrs = {
    ...algorithmAttrs(sa),
    XFRMA_ENCAP: sa.encap
      ? { encap_type: UDP_ENCAP.UDP_ENCAP_ESPINUDP, encap_sport: sa.encap.sport, encap_dport: sa.encap.dport, encap_oa: xfrmAddress(undefined) }
      : undefined,
    XFRMA_REPLAY_ESN_VAL: rp.esnAttr,
    XFRMA_MARK: sa.mark ? { v: sa.mark.value >>> 0, m: sa.mark.mask >>> 0 } : undefined,
    XFRMA_OFFLOAD_DEV: offload,
  };
  return Buffer.concat([info, encodeAttrs(XFRMA, attrs)]);
}

/** `offload`: XFRMA_OFFLOAD_DEV (./offload.ts), last, as iproute2 puts `offload dev DEV dir DIR`. */
export function newSa(sa: SaParams, offload?: OffloadAttr): XfrmRequest {
  return { type: XFRM_MSG.XFRM_MSG_NEWSA, flags: 0, payload: saPayload(sa, offload), detail: saDetail('add', sa, offload) };
}

export function updSa(sa: SaParams, offload?: OffloadAttr): XfrmRequest {
  return { type: XFRM_MSG.XFRM_MSG_UPDSA, flags: 0, payload: saPayload(sa, offload), detail: saDetail('update', sa, offload) };
}

/**
 * UPDSA that moves an installed SA to new UDP encapsulation ports, from the SA as GETSA
 * returned it (`current`: xfrm_usersa_info and its attributes, keys included). Every
 * attribute is sent back as the kernel gave it but XFRMA_ENCAP, whose ports change: the
 * kernel's xfrm_state_update() then takes the new encapsulation for the live SA and keeps its
 * sequence numbers, replay window and lifetimes (what strongSwan's update_sa does). Throws
 * XfrmParamError when the SA has no UDP encapsulation.
 */
export function updSaEncap(current: Buffer, ref: SaRef, encap: { sport: number; dport: number }): XfrmRequest {
  const infoLen = nlaAlign(xfrm_usersa_info.size);
  if (current.length < infoLen) throw new XfrmParamError(`${saDetail('update', ref)}: the kernel's SA is truncated`);
  const parts: Buffer[] = [current.subarray(0, infoLen)];
  let found = false;
  for (const a of splitAttrs(current, infoLen)) {
    let payload = a.payload;
    if (a.type === XFRMA.types.XFRMA_ENCAP) {
      const t = xfrm_encap_tmpl.decode(payload, 0, xfrm_encap_tmpl.size);
      payload = xfrm_encap_tmpl.encode({ ...t, encap_sport: encap.sport, encap_dport: encap.dport });
      found = true;
    }
    parts.push(encodeAttr(a.type, payload));
  }
  if (!found) throw new XfrmParamError(`${saDetail('update', ref)}: the SA has no UDP encapsulation to move`);
  return { type: XFRM_MSG.XFRM_MSG_UPDSA, flags: 0, payload: Buffer.concat(parts), detail: saDetail('move', ref) };
}

/** What DELSA/GETSA need to find an SA: (dst, spi, proto), and src/mark when the SA has them. */
export interface SaKey extends SaRef {
  src?: string;
  mark?: { value: number; mask: number };
}

function saIdPayload(ref: SaKey): Buffer {
  const id = xfrm_usersa_id.encode({
    daddr: xfrmAddress(ref.dst),
    spi: ref.spi >>> 0,
    family: afOf(familyOf(ref.dst)),
    proto: IPPROTO_XFRM.IPPROTO_ESP,
  });
  const attrs: XfrmAttrs = {
    XFRMA_SRCADDR: ref.src ? xfrmAddress(ref.src) : undefined,
    XFRMA_MARK: ref.mark ? { v: ref.mark.value >>> 0, m: ref.mark.mask >>> 0 } : undefined,
  };
  return Buffer.concat([id, encodeAttrs(XFRMA, attrs)]);
}

export function delSa(ref: SaKey): XfrmRequest {
  return { type: XFRM_MSG.XFRM_MSG_DELSA, flags: 0, payload: saIdPayload(ref), detail: saDetail('delete', ref) };
}

export function getSa(ref: SaKey): XfrmRequest {
  return { type: XFRM_MSG.XFRM_MSG_GETSA, flags: 0, payload: saIdPayload(ref), detail: saDetail('query', ref) };
}

/** ALLOCSPI: a larval SA holding an SPI from [min, max] for (src -> dst, ESP). */
export function allocSpi(p: { src: string; dst: string; min: number; max: number; reqid?: number; mode?: 'tunnel' | 'transport' }): XfrmRequest {
  const family = checkSaEndpoints(p);
  const payload = xfrm_userspi_info.encode({
    info: {
      ...xfrm_usersa_info.zero(),
      id: { daddr: xfrmAddress(p.dst), spi: 0, proto: IPPROTO_XFRM.IPPROTO_ESP },
      saddr: xfrmAddress(p.src),
      reqid: p.reqid ?? 0,
      family,
      mode: p.mode ? MODE[p.mode] : 0,
    },
    min: p.min >>> 0,
    max: p.max >>> 0,
  });
  return { type: XFRM_MSG.XFRM_MSG_ALLOCSPI, flags: 0, payload, detail: `allocate SPI ${p.src} -> ${p.dst}` };
}

function tmplFamily(p: PolicyParams): number {
  const f = familyOf(p.tmplDst);
  if (familyOf(p.tmplSrc) !== f) throw new XfrmParamError(`policy template ${p.tmplSrc} -> ${p.tmplDst} mixes families`);
  return afOf(f);
}

const policyDetail = (verb: string, p: PolicyParams) =>
  `${verb} policy ${p.direction} ${p.src.startAddr}-${p.src.endAddr} -> ${p.dst.startAddr}-${p.dst.endAddr}`;

/**
 * NEWPOLICY (or UPDPOLICY with `update`: replace in one step, templates included): one request
 * per kernel selector the traffic-selector pair needs.
 */
export function newPolicies(p: PolicyParams, update = false): XfrmRequest[] {
  const family = tmplFamily(p);
  const tmpl = {
    id: { daddr: xfrmAddress(p.tmplDst), spi: 0, proto: IPPROTO_XFRM.IPPROTO_ESP },
    family,
    saddr: xfrmAddress(p.tmplSrc),
    reqid: p.reqid,
    mode: MODE[p.mode],
    share: 0,
    optional: 0,
    // Any algorithm: the SA found by reqid decides (same as iproute2 and strongSwan).
    aalgos: 0xffffffff,
    ealgos: 0xffffffff,
    calgos: 0xffffffff,
  };
  return toSelectors(p.src, p.dst).map((sel) => {
    const info = xfrm_userpolicy_info.encode({
      sel,
      lft: { ...xfrm_userpolicy_info.zero().lft, ...lifetimeCfg({ softBytes: 0n, hardBytes: 0n, softPackets: 0n, hardPackets: 0n }) },
      priority: p.priority,
      dir: POLICY_DIR[p.direction],
    });
    const attrs: XfrmAttrs = {
      XFRMA_TMPL: [tmpl],
      XFRMA_MARK: p.mark ? { v: p.mark.value >>> 0, m: p.mark.mask >>> 0 } : undefined,
    };
    const type = update ? XFRM_MSG.XFRM_MSG_UPDPOLICY : XFRM_MSG.XFRM_MSG_NEWPOLICY;
    return { type, flags: 0, payload: Buffer.concat([info, encodeAttrs(XFRMA, attrs)]), detail: policyDetail(update ? 'update' : 'add', p) };
  });
}

export function delPolicies(p: PolicyParams): XfrmRequest[] {
  return toSelectors(p.src, p.dst).map((sel) => {
    const id = xfrm_userpolicy_id.encode({ sel, index: 0, dir: POLICY_DIR[p.direction] });
    const attrs: XfrmAttrs = { XFRMA_MARK: p.mark ? { v: p.mark.value >>> 0, m: p.mark.mask >>> 0 } : undefined };
    return { type: XFRM_MSG.XFRM_MSG_DELPOLICY, flags: 0, payload: Buffer.concat([id, encodeAttrs(XFRMA, attrs)]), detail: policyDetail('delete', p) };
  });
}

/**
 * DELPOLICY by the kernel's policy index (as a dump reports it): with a non-zero index the
 * kernel ignores the selector and finds the policy by index, direction and mark.
 */
export function delPolicyByIndex(index: number, direction: PolicyParams['direction'], mark?: { value: number; mask: number }): XfrmRequest {
  const id = xfrm_userpolicy_id.encode({ sel: xfrm_selector.zero(), index, dir: POLICY_DIR[direction] });
  const attrs: XfrmAttrs = { XFRMA_MARK: mark ? { v: mark.value >>> 0, m: mark.mask >>> 0 } : undefined };
  return { type: XFRM_MSG.XFRM_MSG_DELPOLICY, flags: 0, payload: Buffer.concat([id, encodeAttrs(XFRMA, attrs)]), detail: `delete policy ${direction} index ${index}` };
}

/** FLUSHSA for ESP (proto 0 would flush every protocol). */
export function flushSa(proto: number = IPPROTO_XFRM.IPPROTO_ESP): XfrmRequest {
  return { type: XFRM_MSG.XFRM_MSG_FLUSHSA, flags: 0, payload: xfrm_usersa_flush.encode({ proto }), detail: 'flush SAs' };
}

export function flushPolicy(): XfrmRequest {
  return { type: XFRM_MSG.XFRM_MSG_FLUSHPOLICY, flags: 0, payload: Buffer.alloc(0), detail: 'flush policies' };
}

/** Dump requests (NLM_F_DUMP): GETSA and GETPOLICY with no header. */
export const dumpSa = (): XfrmRequest => ({ type: XFRM_MSG.XFRM_MSG_GETSA, flags: 0, payload: Buffer.alloc(0), detail: 'list SAs' });
export const dumpPolicy = (): XfrmRequest => ({ type: XFRM_MSG.XFRM_MSG_GETPOLICY, flags: 0, payload: Buffer.alloc(0), detail: 'list policies' });

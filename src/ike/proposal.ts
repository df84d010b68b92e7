/**
 * Proposals (RFC 7296 §3.3): strongSwan-style proposal strings ("aes128gcm16-prfsha256-ecp256",
 * "aes256-sha256-x25519", "aes128gcm16-esn") parsed into the codec's Proposal form, and
 * proposal selection (§2.7) honouring the responder's configured order.
 */
import {
  DhGroup,
  EncrId,
  EsnId,
  IntegId,
  PrfId,
  ProtocolId,
  TransformType,
  nameOf,
} from './constants.js';
import type { Proposal, Transform } from './codec/types.js';
import type { IkeSuite } from './crypto/types.js';
import type { EspEncryption, EspIntegrity } from '../kernel/types.js';
import { ConfigError } from '../errors.js';

type Kind = 'encr' | 'integ' | 'prf' | 'dh' | 'esn';
interface Token {
  kind: Kind;
  id: number;
  keyLength?: number;
  aead?: boolean;
}

const ENCR: Record<string, Token> = {};
for (const bits of [128, 192, 256]) {
  ENCR[`aes${bits}`] = { kind: 'encr', id: EncrId.ENCR_AES_CBC, keyLength: bits };
  ENCR[`aes${bits}ctr`] = { kind: 'encr', id: EncrId.ENCR_AES_CTR, keyLength: bits };
  for (const [icv, id] of [[8, EncrId.ENCR_AES_GCM_8], [12, EncrId.ENCR_AES_GCM_12], [16, EncrId.ENCR_AES_GCM_16]] as const) {
    ENCR[`aes${bits}gcm${icv}`] = { kind: 'encr', id, keyLength: bits, aead: true };
  }
  ENCR[`aes${bits}gcm`] = ENCR[`aes${bits}gcm16`]!;
}
ENCR['aes'] = ENCR['aes128']!;
ENCR['chacha20poly1305'] = { kind: 'encr', id: EncrId.ENCR_CHACHA20_POLY1305, aead: true };

const TOKENS: Record<string, Token> = {
  ...ENCR,
  sha1: { kind: 'integ', id: IntegId.AUTH_HMAC_SHA1_96 },
  sha: { kind: 'integ', id: IntegId.AUTH_HMAC_SHA1_96 },
  sha256: { kind: 'integ', id: IntegId.AUTH_HMAC_SHA2_256_128 },
  sha2_256: { kind: 'integ', id: IntegId.AUTH_HMAC_SHA2_256_128 },
  sha384: { kind: 'integ', id: IntegId.AUTH_HMAC_SHA2_384_192 },
  sha2_384: { kind: 'integ', id: IntegId.AUTH_HMAC_SHA2_384_192 },
  sha512: { kind: 'integ', id: IntegId.AUTH_HMAC_SHA2_512_256 },
  sha2_512: { kind: 'integ', id: IntegId.AUTH_HMAC_SHA2_512_256 },
  aesxcbc: { kind: 'integ', id: IntegId.AUTH_AES_XCBC_96 },
  prfsha1: { kind: 'prf', id: PrfId.PRF_HMAC_SHA1 },
  prfsha256: { kind: 'prf', id: PrfId.PRF_HMAC_SHA2_256 },
  prfsha384: { kind: 'prf', id: PrfId.PRF_HMAC_SHA2_384 },
  prfsha512: { kind: 'prf', id: PrfId.PRF_HMAC_SHA2_512 },
  prfaesxcbc: { kind: 'prf', id: PrfId.PRF_AES128_XCBC },
  modp1024: { kind: 'dh', id: DhGroup.MODP_1024 },
  modp1536: { kind: 'dh', id: DhGroup.MODP_1536 },
  modp2048: { kind: 'dh', id: DhGroup.MODP_2048 },
  modp3072: { kind: 'dh', id: DhGroup.MODP_3072 },
  modp4096: { kind: 'dh', id: DhGroup.MODP_4096 },
  modp6144: { kind: 'dh', id: DhGroup.MODP_6144 },
  modp8192: { kind: 'dh', id: DhGroup.MODP_8192 },
  ecp256: { kind: 'dh', id: DhGroup.ECP_256 },
  ecp384: { kind: 'dh', id: DhGroup.ECP_384 },
  ecp521: { kind: 'dh', id: DhGroup.ECP_521 },
  x25519: { kind: 'dh', id: DhGroup.CURVE25519 },
  curve25519: { kind: 'dh', id: DhGroup.CURVE25519 },
  x448: { kind: 'dh', id: DhGroup.CURVE448 },
  esn: { kind: 'esn', id: EsnId.ESN },
  noesn: { kind: 'esn', id: EsnId.NO_ESN },
};

/** Integrity algorithm -> the PRF strongSwan pairs with it when a proposal names no PRF. */
const PRF_FOR_INTEG: Record<number, number> = {
  [IntegId.AUTH_HMAC_SHA1_96]: PrfId.PRF_HMAC_SHA1,
  [IntegId.AUTH_HMAC_SHA2_256_128]: PrfId.PRF_HMAC_SHA2_256,
  [IntegId.AUTH_HMAC_SHA2_384_192]: PrfId.PRF_HMAC_SHA2_384,
  [IntegId.AUTH_HMAC_SHA2_512_256]: PrfId.PRF_HMAC_SHA2_512,
  [IntegId.AUTH_AES_XCBC_96]: PrfId.PRF_AES128_XCBC,
};

const TYPE_OF: Record<Kind, number> = {
  encr: TransformType.ENCR,
  integ: TransformType.INTEG,
  prf: TransformType.PRF,
  dh: TransformType.DH,
  esn: TransformType.ESN,
};

function tx(t: Token): Transform {
  const out: Transform = { type: TYPE_OF[t.kind], id: t.id };
  if (t.keyLength !== undefined) out.keyLength = t.keyLength;
  return out;
}

function pushUnique(list: Transform[], t: Transform): void {
  if (!list.some((x) => x.type === t.type && x.id === t.id && x.keyLength === t.keyLength)) list.push(t);
}

/**
 * Parses one proposal string for `protocol` (IKE or ESP). Throws ConfigError naming the bad
 * token. IKE proposals need ENCR, PRF (or an INTEG it can be derived from) and DH; AEAD
 * proposals carry no INTEG. ESP proposals get NO_ESN unless "esn" is named.
 */
export function parseProposal(text: string, protocol: number, num = 1): Proposal {
  const transforms: Transform[] = [];
  let aead: boolean | undefined;
  for (const word of text.toLowerCase().split('-')) {
    const t = TOKENS[word];
    if (!t) throw new ConfigError(`proposal "${text}": unknown algorithm "${word}"`);
    if (t.kind === 'encr') {
      if (aead !== undefined && aead !== !!t.aead) {
        throw new ConfigError(`proposal "${text}": do not mix AEAD and non-AEAD ciphers in one proposal`);
      }
      aead = !!t.aead;
    }
    if (protocol === ProtocolId.ESP && t.kind === 'prf') {
      throw new ConfigError(`proposal "${text}": ESP proposals take no PRF`);
    }
    if (protocol === ProtocolId.IKE && t.kind === 'esn') {
      throw new ConfigError(`proposal "${text}": IKE proposals take no ESN`);
    }
    pushUnique(transforms, tx(t));
  }
  const has = (type: number) => transforms.some((x) => x.type === type);
  if (!has(TransformType.ENCR)) throw new ConfigError(`proposal "${text}": needs an encryption algorithm`);
  if (aead && has(TransformType.INTEG)) {
    throw new ConfigError(`proposal "${text}": AEAD ciphers take no integrity algorithm`);
  }
  if (!aead && !has(TransformType.INTEG)) {
    throw new ConfigError(`proposal "${text}": a non-AEAD cipher needs an integrity algorithm (e.g. sha256)`);
  }
  if (protocol === ProtocolId.IKE) {
    if (!has(TransformType.PRF)) {
      const integs = transforms.filter((x) => x.type === TransformType.INTEG);
      if (integs.length === 0) throw new ConfigError(`proposal "${text}": AEAD IKE proposals need a PRF (e.g. prfsha256)`);
      for (const i of integs) {
        const prf = PRF_FOR_INTEG[i.id];
        if (prf !== undefined) pushUnique(transforms, { type: TransformType.PRF, id: prf });
      }
    }
    if (!has(TransformType.DH)) throw new ConfigError(`proposal "${text}": IKE proposals need a DH group (e.g. ecp256)`);
  } else if (!has(TransformType.ESN)) {
    transforms.push({ type: TransformType.ESN, id: EsnId.NO_ESN });
  }
  // Wire order: ENCR, PRF, INTEG, DH, ESN (the order RFC 7296 §3.3.2 lists them).
  transforms.sort((a, b) => a.type - b.type);
  return { num, protocol, spi: Buffer.alloc(0), transforms };
}

export function parseProposals(texts: readonly string[], protocol: number): Proposal[] {
  if (texts.length === 0) throw new ConfigError('at least one proposal is needed');
  return texts.map((t, i) => parseProposal(t, protocol, i + 1));
}

function sameAlg(a: Transform, b: Transform): boolean {
  // A transform with an attribute we do not understand is unacceptable (RFC 7296 §3.3.6).
  if (a.attributes?.length || b.attributes?.length) return false;
  return a.type === b.type && a.id === b.id && (a.keyLength ?? 0) === (b.keyLength ?? 0);
}

/** Transforms of one type; ESP proposals without ESN mean NO_ESN. */
function ofType(p: Proposal, type: number): Transform[] {
  const l = p.transforms.filter((t) => t.type === type);
  if (l.length === 0 && type === TransformType.ESN && p.protocol !== ProtocolId.IKE) {
    return [{ type, id: EsnId.NO_ESN }];
  }
  return l;
}

/**
 * Matches our proposal against the peer's: for every transform type either side uses, the first
 * of OUR algorithms that the peer also offers (so our order wins), except that `preferDh`
 * (the group of the KE payload received) is taken when both offer it. Returns a proposal with
 * one transform per type and the peer's number and SPI, or undefined.
 */
export function matchProposal(ours: Proposal, theirs: Proposal, preferDh?: number): Proposal | undefined {
  if (ours.protocol !== theirs.protocol) return undefined;
  const types = new Set<number>([...ours.transforms, ...theirs.transforms].map((t) => t.type));
  types.add(TransformType.ESN);
  const chosen: Transform[] = [];
  for (const type of [...types].sort((a, b) => a - b)) {
    const mine = ofType(ours, type);
    const peer = ofType(theirs, type);
    if (mine.length === 0 && peer.length === 0) continue;
    // DH NONE on one side equals an absent DH transform on the other (RFC 7296 §3.3.3).
    if (type === TransformType.DH) {
      const noneMine = mine.length === 0 || mine.some((t) => t.id === DhGroup.NONE);
      const nonePeer = peer.length === 0 || peer.some((t) => t.id === DhGroup.NONE);
      if (mine.length === 0 || peer.length === 0) {
        if (noneMine && nonePeer) continue;
        return undefined;
      }
    }
    let pick: Transform | undefined;
    if (type === TransformType.DH && preferDh !== undefined) {
      pick = mine.find((m) => m.id === preferDh && peer.some((p) => sameAlg(m, p)));
    }
    pick ??= mine.find((m) => peer.some((p) => sameAlg(m, p)));
    if (!pick) return undefined;
    if (!(type === TransformType.DH && pick.id === DhGroup.NONE)) chosen.push({ ...pick });
  }
  return { num: theirs.num, protocol: theirs.protocol, spi: theirs.spi, transforms: chosen };
}

/**
 * Responder selection (RFC 7296 §2.7): our configured proposals in order, each against every
 * proposal the peer sent; the first match wins.
 */
export function selectProposal(
  ours: readonly Proposal[],
  theirs: readonly Proposal[],
  preferDh?: number,
): Proposal | undefined {
  for (const o of ours) {
    for (const t of theirs) {
      const m = matchProposal(o, t, preferDh);
      if (m) return m;
    }
  }
  return undefined;
}

/**
 * Initiator check of the responder's choice: exactly one proposal, one transform per type, and
 * acceptable under one of our proposals.
 */
export function verifyChosen(ours: readonly Proposal[], chosen: readonly Proposal[]): Proposal | undefined {
  if (chosen.length !== 1) return undefined;
  const c = chosen[0]!;
  const types = c.transforms.map((t) => t.type);
  if (new Set(types).size !== types.length) return undefined;
  const m = selectProposal(ours, [c]);
  if (!m || m.transforms.length !== c.transforms.filter((t) => !(t.type === TransformType.DH && t.id === 0)).length) {
    return undefined;
  }
  return m;
}

export function transformId(p: Proposal, type: number): number | undefined {
  return p.transforms.find((t) => t.type === type)?.id;
}

/** The first DH group of a proposal list (what an initiator sends its KE for). */
export function firstDhGroup(ps: readonly Proposal[]): number | undefined {
  for (const p of ps) {
    const g = p.transforms.find((t) => t.type === TransformType.DH && t.id !== DhGroup.NONE);
    if (g) return g.id;
  }
  return undefined;
}

/** True if any of the proposals offers `group`. */
export function offersDhGroup(ps: readonly Proposal[], group: number): boolean {
  return ps.some((p) => p.transforms.some((t) => t.type === TransformType.DH && t.id === group));
}

/** Moves `group` first among the DH transforms (used after INVALID_KE_PAYLOAD). */
export function withDhFirst(ps: readonly Proposal[], group: number): Proposal[] {
  return ps.map((p) => {
    const others = p.transforms.filter((t) => !(t.type === TransformType.DH && t.id === group));
    if (others.length === p.transforms.length) return p;
    const idx = others.findIndex((t) => t.type === TransformType.DH);
    const at = idx < 0 ? others.findIndex((t) => t.type > TransformType.DH) : idx;
    const pos = at < 0 ? others.length : at;
    return { ...p, transforms: [...others.slice(0, pos), { type: TransformType.DH, id: group }, ...others.slice(pos)] };
  });
}

/**
 * Suites by their numbers: every SA keeps its suite, and at 10k+ SAs a handful of distinct
 * suites is all there is. Interned suites are frozen and shared.
 */
const internedSuites = new Map<string, IkeSuite | EspSuite>();
function intern<S extends IkeSuite | EspSuite>(key: string, make: () => S): S {
  let s = internedSuites.get(key) as S | undefined;
  if (!s) {
    s = make();
    Object.freeze(s);
    internedSuites.set(key, s);
  }
  return s;
}

/** The selected IKE proposal as the crypto module's suite (shared, frozen). */
export function ikeSuiteOf(p: Proposal): IkeSuite {
  const encr = p.transforms.find((t) => t.type === TransformType.ENCR)!;
  const encrKeyLength = encr.keyLength ?? 0;
  const integ = transformId(p, TransformType.INTEG) ?? IntegId.NONE;
  const prf = transformId(p, TransformType.PRF)!;
  const dh = transformId(p, TransformType.DH) ?? DhGroup.NONE;
  return intern(`ike/${encr.id}/${encrKeyLength}/${integ}/${prf}/${dh}`, () => ({ encr: encr.id, encrKeyLength, integ, prf, dh }));
}

/** An ESP suite in the kernel's vocabulary, with the key lengths KEYMAT needs (RFC 7296 §2.17). */
export interface EspSuite {
  encryption: EspEncryption;
  /** Octets of encryption key material (for GCM: key + 4-octet salt, RFC 4106 §8.1). */
  encrKeyBytes: number;
  integrity?: EspIntegrity;
  integKeyBytes: number;
  esn: boolean;
  dh: number;
}

const ESP_INTEG: Record<number, [EspIntegrity, number]> = {
  [IntegId.AUTH_HMAC_SHA2_256_128]: ['hmac-sha2-256-128', 32],
  [IntegId.AUTH_HMAC_SHA2_384_192]: ['hmac-sha2-384-192', 48],
  [IntegId.AUTH_HMAC_SHA2_512_256]: ['hmac-sha2-512-256', 64],
};

/** The data planes implement AES-GCM-16 and AES-CBC + HMAC-SHA2; others give undefined. */
export function espSuiteOf(p: Proposal): EspSuite | undefined {
  const encr = p.transforms.find((t) => t.type === TransformType.ENCR);
  if (!encr) return undefined;
  const bits = encr.keyLength ?? 128;
  const esn = transformId(p, TransformType.ESN) === EsnId.ESN;
  const dh = transformId(p, TransformType.DH) ?? DhGroup.NONE;
  if (encr.id === EncrId.ENCR_AES_GCM_16) {
    if (transformId(p, TransformType.INTEG) !== undefined && transformId(p, TransformType.INTEG) !== IntegId.NONE) {
      return undefined;
    }
    return intern(`esp/gcm/${bits}/${esn}/${dh}`, (): EspSuite => ({ encryption: 'aes-gcm-16', encrKeyBytes: bits / 8 + 4, integKeyBytes: 0, esn, dh }));
  }
  if (encr.id === EncrId.ENCR_AES_CBC) {
    const integ = ESP_INTEG[transformId(p, TransformType.INTEG) ?? -1];
    if (!integ) return undefined;
    return intern(`esp/cbc/${bits}/${integ[0]}/${esn}/${dh}`, (): EspSuite =>
      ({ encryption: 'aes-cbc', encrKeyBytes: bits / 8, integrity: integ[0], integKeyBytes: integ[1], esn, dh }));
  }
  return undefined;
}

/** "ENCR_AES_GCM_16/128 PRF_HMAC_SHA2_256 ECP_256" for logs. */
export function proposalToString(p: Proposal): string {
  return p.transforms
    .map((t) => {
      switch (t.type) {
        case TransformType.ENCR:
          return nameOf(EncrId, t.id) + (t.keyLength ? `/${t.keyLength}` : '');
        case TransformType.PRF:
          return nameOf(PrfId, t.id);
        case TransformType.INTEG:
          return nameOf(IntegId, t.id);
        case TransformType.DH:
          return nameOf(DhGroup, t.id);
        default:
          return nameOf(EsnId, t.id);
      }
    })
    .join(' ');
}

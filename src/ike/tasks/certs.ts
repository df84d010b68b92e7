/**
 * Credentials as the IKE_AUTH exchange uses them: PSK secrets, our certificate chain and key,
 * the peer's chain checked against the configured CAs, CERTREQ (RFC 7296 §3.7) by CA key hash.
 * Parsing, path validation and signatures are the crypto module's; this file only picks and
 * caches per connection (one parse per connection, never per SA).
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { CertEncoding, PayloadType } from '../constants.js';
import type { CertPayload, IkeMessage } from '../codec/types.js';
import type { ResolvedConnection } from '../config.js';
import { loadCertificates, type Certificate } from '../crypto/x509.js';
import { validateChain } from '../crypto/chain.js';
import { CrlFiles, loadCrls, type Crl } from '../crypto/crl.js';
import { logger, RateLimitedLog } from '../../log/index.js';
import { certMatchesIdentity } from '../crypto/identity-match.js';
import type { Identity } from '../identity.js';
import type { IkeSa } from '../sa/ike-sa.js';
import { ConfigError } from '../../errors.js';
import { pskPadKey } from '../crypto/auth.js';
import type { Prf } from '../crypto/types.js';

interface ConnCredentials {
  localCerts: Certificate[];
  localKey: KeyObject | undefined;
  cas: Certificate[];
  /** Configured CRLs: fixed contents, and files re-read when they change. */
  crls: Crl[];
  crlFiles: CrlFiles | undefined;
}

const log = logger('ike');
const crlLog = new RateLimitedLog(log);

const cache = new WeakMap<ResolvedConnection, ConnCredentials>();

/** Parsed credentials of a connection (cached). Throws ConfigError for unusable PEM. */
export function credentialsOf(conn: ResolvedConnection): ConnCredentials {
  let c = cache.get(conn);
  if (c) return c;
  const local = conn.cfg.local.auth;
  const remote = conn.cfg.remote.auth;
  c = { localCerts: [], localKey: undefined, cas: [], crls: [], crlFiles: undefined };
  if (local.method === 'pubkey') {
    c.localCerts = (local.certs ?? []).flatMap((p, i) => loadCertificates(p, `connection ${conn.name} local cert #${i + 1}`));
    if (!local.privateKey) throw new ConfigError(`connection ${conn.name}: local pubkey auth needs privateKey (PEM)`);
    c.localKey = createPrivateKey(local.privateKey);
  }
  if (remote.method === 'pubkey') {
    c.cas = (remote.cacerts ?? []).flatMap((p, i) => loadCertificates(p, `connection ${conn.name} CA #${i + 1}`));
    c.crls = (remote.crls ?? []).flatMap((p, i) => loadCrls(p, `connection ${conn.name} CRL #${i + 1}`));
    if (remote.crlFiles?.length) {
      c.crlFiles = new CrlFiles(remote.crlFiles, (path, err) =>
        crlLog.warn(`crl:${path}`, { conn: conn.name, path, err: err.message }, 'CRL file not (re)loaded; the last good one stays in use'));
    }
    const now = new Date();
    for (const crl of [...c.crls, ...(c.crlFiles?.current() ?? [])]) {
      if (crl.staleAt(now)) log.warn({ conn: conn.name, nextUpdate: crl.nextUpdate?.toISOString() }, 'a configured CRL is past its nextUpdate: it still applies, but get a newer one');
    }
  }
  cache.set(conn, c);
  return c;
}

export function pskOf(conn: ResolvedConnection, side: 'local' | 'remote'): Buffer | undefined {
  const a = conn.cfg[side].auth;
  if (a.method !== 'psk') return undefined;
  return typeof a.secret === 'string' ? Buffer.from(a.secret, 'utf8') : a.secret;
}

/** prf(PSK, "Key Pad for IKEv2") per connection, side and PRF: two HMACs less per setup. */
const padKeys = new WeakMap<ResolvedConnection, Map<string, Buffer>>();

/** The AUTH key of a side's PSK for a PRF (RFC 7296 §2.15), or undefined without a PSK. */
export function pskPadKeyOf(conn: ResolvedConnection, side: 'local' | 'remote', prf: Prf): Buffer | undefined {
  let m = padKeys.get(conn);
  const k = `${side}/${prf.id}`;
  const have = m?.get(k);
  if (have) return have;
  const psk = pskOf(conn, side);
  if (!psk) return undefined;
  const key = pskPadKey(prf, psk);
  if (!m) padKeys.set(conn, (m = new Map()));
  m.set(k, key);
  return key;
}

/** CERTREQ with the SHA-1 key hashes of the CAs we trust for the peer (when it uses certificates). */
export function addCertReqs(sa: IkeSa, msg: IkeMessage): void {
  const conn = sa.conn;
  if (!conn || conn.cfg.remote.auth.method !== 'pubkey' || conn.cfg.sendCertReq === false) return;
  const cas = credentialsOf(conn).cas;
  if (cas.length === 0) return;
  msg.payloads.push({
    type: PayloadType.CERTREQ,
    encoding: CertEncoding.X509_CERT_SIGNATURE,
    data: Buffer.concat(cas.map((c) => c.keyHash)),
  });
}

/** Our CERT payloads: end entity first, then intermediates (RFC 7296 §3.6). */
export function addCerts(conn: ResolvedConnection, msg: IkeMessage): void {
  for (const c of credentialsOf(conn).localCerts) {
    msg.payloads.push({ type: PayloadType.CERT, encoding: CertEncoding.X509_CERT_SIGNATURE, data: c.der });
  }
}

export type PeerKeyResult = { ok: true; key: KeyObject } | { ok: false; reason: string };

/**
 * The peer's public key from its CERT payloads: the first X.509 certificate is the end entity;
 * it must chain to one of our CAs and match the identity the peer claims.
 */
export function peerPublicKey(conn: ResolvedConnection, certs: readonly CertPayload[], peerId: Identity, now: Date): PeerKeyResult {
  const x509 = certs.filter((c) => c.encoding === CertEncoding.X509_CERT_SIGNATURE);
  if (x509.length === 0) return { ok: false, reason: 'the peer sent no X.509 certificate' };
  const parsed: Certificate[] = [];
  for (const p of x509) {
    const c = loadOne(p.data);
    if (!c) return { ok: false, reason: 'the peer sent a certificate that does not parse' };
    parsed.push(c);
  }
  const [ee, ...rest] = parsed;
  const cred = credentialsOf(conn);
  const crls = cred.crlFiles ? [...cred.crls, ...cred.crlFiles.current(now.getTime())] : cred.crls;
  const chain = validateChain(ee!, rest, cred.cas, now, crls);
  if (!chain.ok) return { ok: false, reason: chain.reason };
  if (!certMatchesIdentity(ee!, peerId)) return { ok: false, reason: 'the certificate does not match the peer identity' };
  return { ok: true, key: ee!.publicKey };
}

function loadOne(der: Buffer): Certificate | undefined {
  try {
    return loadCertificates(der, 'CERT payload')[0];
  } catch {
    return undefined;
  }
}

/**
 * The credential store of one gateway: its own certificate, private key and intermediates; the
 * CAs it trusts; PSKs by identity. It answers the IKE_AUTH questions: what goes in our CERTREQ
 * (RFC 7296 §3.7), which certificates to send for a peer's CERTREQ, whether a peer's
 * certificates chain to a trusted CA and match its ID payload, which PSK a pair of IDs uses.
 *
 * Configuration mistakes throw ConfigError; everything about a peer's data is a result value.
 */
import { createPublicKey, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { ConfigError } from '../../errors.js';
import { formatIdentity, identityEquals, type Identity } from '../identity.js';
import { validateChain } from './chain.js';
import { dnEquals } from './dn.js';
import { certMatchesIdentity } from './identity-match.js';
import { Certificate, KeyUsage } from './x509.js';

/** RFC 7296 §3.7: X509_CERT_SIGNATURE CERTREQ data is a list of 20-octet SHA-1 key hashes. */
export const CERTREQ_HASH_LENGTH = 20;

/** The CA key hashes in a CERTREQ payload's data, or null when it is not a whole number of them. */
export function splitCertReq(data: Buffer): Buffer[] | null {
  if (data.length % CERTREQ_HASH_LENGTH !== 0) return null;
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i += CERTREQ_HASH_LENGTH) out.push(data.subarray(i, i + CERTREQ_HASH_LENGTH));
  return out;
}

export type PeerCertificateResult =
  | { ok: true; publicKey: KeyObject; chain: Certificate[] }
  | { ok: false; reason: 'no-certificate' | 'malformed' | 'untrusted' | 'identity' | 'key-usage'; detail: string };

interface PskEntry {
  secret: Buffer;
  ids: Identity[];
}

/** Own certificate and key must belong together; checked by a signature round trip. */
function keyMatchesCertificate(key: KeyObject, cert: Certificate): boolean {
  const data = randomBytes(32);
  try {
    const type = key.asymmetricKeyType;
    const digest = type === 'ed25519' || type === 'ed448' ? null : 'sha256';
    return verify(digest, data, cert.publicKey, sign(digest, data, key)) &&
      createPublicKey(key).asymmetricKeyType === cert.publicKey.asymmetricKeyType;
  } catch {
    return false;
  }
}

export class CredentialStore {
  #cert: Certificate | null = null;
  #key: KeyObject | null = null;
  #intermediates: Certificate[] = [];
  readonly #cas: Certificate[] = [];
  readonly #psks: PskEntry[] = [];

  /** Our end-entity certificate, its private key and the intermediates up to a CA peers trust. */
  setLocal(cert: Certificate, key: KeyObject, intermediates: readonly Certificate[] = []): void {
    if (key.type !== 'private') throw new ConfigError('the local key must be a private key');
    if (!keyMatchesCertificate(key, cert)) {
      throw new ConfigError(`the private key does not belong to certificate "${cert.x509.subject.replace(/\n/g, ', ')}"; configure the key the certificate was issued for`);
    }
    this.#cert = cert;
    this.#key = key;
    this.#intermediates = [...intermediates];
  }

  get localCertificate(): Certificate | null {
    return this.#cert;
  }

  get localKey(): KeyObject | null {
    return this.#key;
  }

  /** A CA whose certificates we accept. It must be a CA (basicConstraints cA). */
  addTrustedCa(cert: Certificate): void {
    if (!cert.basicConstraints()?.ca) {
      throw new ConfigError(`"${cert.x509.subject.replace(/\n/g, ', ')}" is not a CA certificate (no basicConstraints cA); configure the issuing CA's certificate`);
    }
    if (!this.#cas.some((c) => c.der.equals(cert.der))) this.#cas.push(cert);
  }

  get trustedCas(): readonly Certificate[] {
    return this.#cas;
  }

  /** A pre-shared key for the given identities (either end's); no identities: any peer. */
  addPsk(secret: Buffer | string, ids: readonly Identity[] = []): void {
    const s = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret);
    if (s.length === 0) throw new ConfigError('a pre-shared key must not be empty');
    this.#psks.push({ secret: s, ids: [...ids] });
  }

  /**
   * The PSK for an IKE SA between `local` and `remote`: an entry naming both wins over one
   * naming the remote, over one naming the local identity, over a wildcard entry.
   */
  findPsk(local: Identity, remote: Identity): Buffer | null {
    let best: PskEntry | null = null;
    let bestScore = 0;
    for (const e of this.#psks) {
      const r = e.ids.some((id) => identityEquals(id, remote));
      const l = e.ids.some((id) => identityEquals(id, local));
      const score = e.ids.length === 0 ? 1 : r && l ? 4 : r ? 3 : l ? 2 : 0;
      if (score > bestScore) {
        best = e;
        bestScore = score;
      }
    }
    return best?.secret ?? null;
  }

  /** CERTREQ data (X509_CERT_SIGNATURE) naming every trusted CA; empty when none. */
  certReqData(): Buffer {
    return Buffer.concat(this.#cas.map((c) => c.keyHash));
  }

  /**
   * The certificates for our CERT payloads, end entity first: our intermediates in issuing
   * order, stopping below the first one whose key the peer's CERTREQ names (it trusts that CA
   * already). Without a matching CERTREQ every intermediate is sent. Empty without a local cert.
   */
  chainToSend(requestedKeyHashes: readonly Buffer[] | null = null): Certificate[] {
    if (!this.#cert) return [];
    const chain = [this.#cert];
    const pool = [...this.#intermediates];
    for (;;) {
      const cur = chain[chain.length - 1];
      if (cur.selfIssued) break;
      const i = pool.findIndex((c) => dnEquals(cur.issuer, c.subject));
      if (i < 0) break;
      const next = pool.splice(i, 1)[0];
      if (requestedKeyHashes?.some((h) => h.equals(next.keyHash))) break;
      chain.push(next);
    }
    return chain;
  }

  /**
   * Checks a peer's CERT payloads (DER, end entity first) against the trusted CAs and its ID
   * payload. On success gives the key that must verify its AUTH payload.
   */
  validatePeer(certificates: readonly Buffer[], id: Identity, now: Date = new Date()): PeerCertificateResult {
    if (certificates.length === 0) return { ok: false, reason: 'no-certificate', detail: 'the peer sent no certificate' };
    const parsed = certificates.map((d) => Certificate.fromDer(d));
    const ee = parsed[0];
    if (!ee || parsed.some((c) => c === null)) return { ok: false, reason: 'malformed', detail: 'a CERT payload is not an X.509 certificate' };
    const chain = validateChain(ee, parsed.slice(1) as Certificate[], this.#cas, now);
    if (!chain.ok) return { ok: false, reason: 'untrusted', detail: chain.reason };
    if (!certMatchesIdentity(ee, id)) {
      return { ok: false, reason: 'identity', detail: `the certificate does not name ${formatIdentity(id)}` };
    }
    const ku = ee.keyUsage();
    if (ku && !ku.has(KeyUsage.digitalSignature) && !ku.has(KeyUsage.nonRepudiation)) {
      return { ok: false, reason: 'key-usage', detail: 'the certificate\'s keyUsage does not allow signatures' };
    }
    return { ok: true, publicKey: ee.publicKey, chain: chain.chain };
  }
}

/**
 * Everything cryptographic IKEv2 needs, through node:crypto (OpenSSL). Import from here.
 *
 *   algorithms.ts   the transform tables (key/IV/ICV/block lengths)
 *   prf.ts dh.ts sk.ts   PRF + prf+, key exchange, SK payload protection
 *   keys.ts         SKEYSEED, SK_*, IKE SA rekey, child SA KEYMAT (RFC 7296 §2.14, §2.17, §2.18)
 *   auth.ts         AUTH signed octets, PSK AUTH (RFC 7296 §2.15)
 *   signature.ts    signature AUTH methods, RFC 7427, SIGNATURE_HASH_ALGORITHMS
 *   x509.ts chain.ts credentials.ts   certificates, path validation, the credential store
 *   asn1.ts dn.ts   DER reading/writing, Distinguished Names
 */
export type { IkeKeys, IkeSuite, KeyExchange, Prf, SkTransform } from './types.js';
export * from './algorithms.js';
export { createPrf } from './prf.js';
export { createKeyExchange, isSupportedDhGroup, respondKeyExchange } from './dh.js';
export { createSkTransform, skStateLength } from './sk.js';
export * from './keys.js';
export * from './auth.js';
export * from './signature.js';
export { Certificate, loadCertificates, KeyUsage, GeneralNameTag, type GeneralName } from './x509.js';
export { validateChain, type ChainResult } from './chain.js';
export * from './credentials.js';
export { certMatchesIdentity } from './identity-match.js';
export { dnEquals, dnFromText, formatDn } from './dn.js';

/**
 * IKEv2 protocol numbers (RFC 7296 §3 and the IANA "IKEv2 Parameters" registry), spec
 * constants only: implementation limits and timers live next to the code that uses them.
 * Every enum has a name table (`names(TABLE)`) so logs print names, not numbers.
 */

/** Reverse lookup: value -> name, with UNKNOWN(n) for values outside the table. */
export function nameOf(table: Readonly<Record<string, number>>, value: number): string {
  const names = reverseCache.get(table) ?? buildReverse(table);
  return names.get(value) ?? `UNKNOWN(${value})`;
}

const reverseCache = new WeakMap<object, Map<number, string>>();
function buildReverse(table: Readonly<Record<string, number>>): Map<number, string> {
  const m = new Map<number, string>();
  for (const [k, v] of Object.entries(table)) if (!m.has(v)) m.set(v, k);
  reverseCache.set(table, m);
  return m;
}

export type ValueOf<T> = T[keyof T];

/** RFC 7296 §3.1: major version 2, minor 0. */
export const IKE_VERSION = 0x20;
export const IKE_MAJOR_VERSION = 2;

/** RFC 7296 §3.1 header flags. */
export const HeaderFlag = {
  INITIATOR: 0x08,
  VERSION: 0x10,
  RESPONSE: 0x20,
} as const;

/** RFC 7296 §3.1 Exchange Types (+ RFC 9242 IKE_INTERMEDIATE, RFC 9370 IKE_FOLLOWUP_KE). */
export const ExchangeType = {
  IKE_SA_INIT: 34,
  IKE_AUTH: 35,
  CREATE_CHILD_SA: 36,
  INFORMATIONAL: 37,
  IKE_SESSION_RESUME: 38,
  IKE_INTERMEDIATE: 43,
  IKE_FOLLOWUP_KE: 44,
} as const;
export type ExchangeType = ValueOf<typeof ExchangeType>;

/** RFC 7296 §3.2 Next Payload types (+ RFC 7383 SKF). */
export const PayloadType = {
  NONE: 0,
  SA: 33,
  KE: 34,
  IDi: 35,
  IDr: 36,
  CERT: 37,
  CERTREQ: 38,
  AUTH: 39,
  NONCE: 40,
  NOTIFY: 41,
  DELETE: 42,
  VENDOR_ID: 43,
  TSi: 44,
  TSr: 45,
  SK: 46,
  CP: 47,
  EAP: 48,
  SKF: 53,
} as const;
export type PayloadType = ValueOf<typeof PayloadType>;

/** RFC 7296 §3.3.1 Protocol ID. */
export const ProtocolId = {
  IKE: 1,
  AH: 2,
  ESP: 3,
} as const;
export type ProtocolId = ValueOf<typeof ProtocolId>;

/** RFC 7296 §3.3.2 Transform Type. */
export const TransformType = {
  ENCR: 1,
  PRF: 2,
  INTEG: 3,
  DH: 4,
  ESN: 5,
} as const;
export type TransformType = ValueOf<typeof TransformType>;

/** Transform Type 1: Encryption Algorithm Transform IDs (IANA). */
export const EncrId = {
  ENCR_DES_IV64: 1,
  ENCR_DES: 2,
  ENCR_3DES: 3,
  ENCR_NULL: 11,
  ENCR_AES_CBC: 12,
  ENCR_AES_CTR: 13,
  ENCR_AES_CCM_8: 14,
  ENCR_AES_CCM_12: 15,
  ENCR_AES_CCM_16: 16,
  ENCR_AES_GCM_8: 18,
  ENCR_AES_GCM_12: 19,
  ENCR_AES_GCM_16: 20,
  ENCR_NULL_AUTH_AES_GMAC: 21,
  ENCR_CAMELLIA_CBC: 23,
  ENCR_CHACHA20_POLY1305: 28,
} as const;
export type EncrId = ValueOf<typeof EncrId>;

/** Transform Type 2: Pseudorandom Function Transform IDs. */
export const PrfId = {
  PRF_HMAC_MD5: 1,
  PRF_HMAC_SHA1: 2,
  PRF_AES128_XCBC: 4,
  PRF_HMAC_SHA2_256: 5,
  PRF_HMAC_SHA2_384: 6,
  PRF_HMAC_SHA2_512: 7,
  PRF_AES128_CMAC: 8,
} as const;
export type PrfId = ValueOf<typeof PrfId>;

/** Transform Type 3: Integrity Algorithm Transform IDs. */
export const IntegId = {
  NONE: 0,
  AUTH_HMAC_MD5_96: 1,
  AUTH_HMAC_SHA1_96: 2,
  AUTH_AES_XCBC_96: 5,
  AUTH_HMAC_SHA2_256_128: 12,
  AUTH_HMAC_SHA2_384_192: 13,
  AUTH_HMAC_SHA2_512_256: 14,
} as const;
export type IntegId = ValueOf<typeof IntegId>;

/** Transform Type 4: Diffie-Hellman / Key Exchange Method IDs. */
export const DhGroup = {
  NONE: 0,
  MODP_768: 1,
  MODP_1024: 2,
  MODP_1536: 5,
  MODP_2048: 14,
  MODP_3072: 15,
  MODP_4096: 16,
  MODP_6144: 17,
  MODP_8192: 18,
  ECP_256: 19,
  ECP_384: 20,
  ECP_521: 21,
  ECP_192: 25,
  ECP_224: 26,
  BRAINPOOL_P256: 28,
  BRAINPOOL_P384: 29,
  BRAINPOOL_P512: 30,
  CURVE25519: 31,
  CURVE448: 32,
} as const;
export type DhGroup = ValueOf<typeof DhGroup>;

/** Transform Type 5: Extended Sequence Numbers. */
export const EsnId = {
  NO_ESN: 0,
  ESN: 1,
} as const;

/** RFC 7296 §3.3.5 Transform Attribute Types. */
export const TransformAttr = {
  KEY_LENGTH: 14,
} as const;

/** RFC 7296 §3.5 ID Type. */
export const IdType = {
  ID_IPV4_ADDR: 1,
  ID_FQDN: 2,
  ID_RFC822_ADDR: 3,
  ID_IPV6_ADDR: 5,
  ID_DER_ASN1_DN: 9,
  ID_DER_ASN1_GN: 10,
  ID_KEY_ID: 11,
  ID_NULL: 13,
} as const;
export type IdType = ValueOf<typeof IdType>;

/** RFC 7296 §3.6 Certificate Encoding (+ RFC 7670 raw public key). */
export const CertEncoding = {
  PKCS7_X509: 1,
  PGP: 2,
  DNS_SIGNED_KEY: 3,
  X509_CERT_SIGNATURE: 4,
  KERBEROS_TOKEN: 6,
  CRL: 7,
  ARL: 8,
  SPKI: 9,
  X509_CERT_ATTRIBUTE: 10,
  HASH_AND_URL_X509_CERT: 12,
  HASH_AND_URL_X509_BUNDLE: 13,
  RAW_PUBLIC_KEY: 15,
} as const;
export type CertEncoding = ValueOf<typeof CertEncoding>;

/** RFC 7296 §3.8 Authentication Method (+ RFC 4754 ECDSA, RFC 7619 NULL, RFC 7427). */
export const AuthMethod = {
  RSA_SIG: 1,
  SHARED_KEY_MIC: 2,
  DSS_SIG: 3,
  ECDSA_SHA256_P256: 9,
  ECDSA_SHA384_P384: 10,
  ECDSA_SHA512_P521: 11,
  NULL_AUTH: 13,
  DIGITAL_SIGNATURE: 14,
} as const;
export type AuthMethod = ValueOf<typeof AuthMethod>;

/** RFC 7427 §7 / IANA "IKEv2 Hash Algorithms" (SIGNATURE_HASH_ALGORITHMS notify). */
export const HashAlgorithm = {
  SHA1: 1,
  SHA2_256: 2,
  SHA2_384: 3,
  SHA2_512: 4,
  IDENTITY: 5,
} as const;
export type HashAlgorithm = ValueOf<typeof HashAlgorithm>;

/** RFC 7296 §3.10.1 Notify Message Types: errors (< 16384). */
export const NotifyError = {
  UNSUPPORTED_CRITICAL_PAYLOAD: 1,
  INVALID_IKE_SPI: 4,
  INVALID_MAJOR_VERSION: 5,
  INVALID_SYNTAX: 7,
  INVALID_MESSAGE_ID: 9,
  INVALID_SPI: 11,
  NO_PROPOSAL_CHOSEN: 14,
  INVALID_KE_PAYLOAD: 17,
  AUTHENTICATION_FAILED: 24,
  SINGLE_PAIR_REQUIRED: 34,
  NO_ADDITIONAL_SAS: 35,
  INTERNAL_ADDRESS_FAILURE: 36,
  FAILED_CP_REQUIRED: 37,
  TS_UNACCEPTABLE: 38,
  INVALID_SELECTORS: 39,
  TEMPORARY_FAILURE: 43,
  CHILD_SA_NOT_FOUND: 44,
} as const;

/** RFC 7296 §3.10.1 Notify Message Types: status (>= 16384), with later RFCs' additions. */
export const NotifyStatus = {
  INITIAL_CONTACT: 16384,
  SET_WINDOW_SIZE: 16385,
  ADDITIONAL_TS_POSSIBLE: 16386,
  IPCOMP_SUPPORTED: 16387,
  NAT_DETECTION_SOURCE_IP: 16388,
  NAT_DETECTION_DESTINATION_IP: 16389,
  COOKIE: 16390,
  USE_TRANSPORT_MODE: 16391,
  HTTP_CERT_LOOKUP_SUPPORTED: 16392,
  REKEY_SA: 16393,
  ESP_TFC_PADDING_NOT_SUPPORTED: 16394,
  NON_FIRST_FRAGMENTS_ALSO: 16395,
  MOBIKE_SUPPORTED: 16396,
  ADDITIONAL_IP4_ADDRESS: 16397,
  ADDITIONAL_IP6_ADDRESS: 16398,
  NO_ADDITIONAL_ADDRESSES: 16399,
  UPDATE_SA_ADDRESSES: 16400,
  COOKIE2: 16401,
  NO_NATS_ALLOWED: 16402,
  AUTH_LIFETIME: 16403,
  MULTIPLE_AUTH_SUPPORTED: 16404,
  ANOTHER_AUTH_FOLLOWS: 16405,
  /** RFC 5685 §10 */
  REDIRECT_SUPPORTED: 16406,
  REDIRECT: 16407,
  REDIRECTED_FROM: 16408,
  EAP_ONLY_AUTHENTICATION: 16417,
  CHILDLESS_IKEV2_SUPPORTED: 16418,
  /** RFC 7383 §2.3 */
  IKEV2_FRAGMENTATION_SUPPORTED: 16430,
  /** RFC 7427 §4 */
  SIGNATURE_HASH_ALGORITHMS: 16431,
} as const;

/** Both notify tables in one, for name lookup. */
export const NotifyType = { ...NotifyError, ...NotifyStatus } as const;
export type NotifyType = ValueOf<typeof NotifyType>;

/** RFC 7296 §3.10.1: types below this value are errors. */
export const NOTIFY_ERROR_MAX = 16383;

/** RFC 7296 §3.13.1 Traffic Selector Type. */
export const TsType = {
  TS_IPV4_ADDR_RANGE: 7,
  TS_IPV6_ADDR_RANGE: 8,
} as const;
export type TsType = ValueOf<typeof TsType>;

/** RFC 7296 §3.15 CFG Type. */
export const CfgType = {
  CFG_REQUEST: 1,
  CFG_REPLY: 2,
  CFG_SET: 3,
  CFG_ACK: 4,
} as const;

/** RFC 7296 §3.15.1 Configuration Attribute types (those a gateway meets). */
export const CfgAttr = {
  INTERNAL_IP4_ADDRESS: 1,
  INTERNAL_IP4_NETMASK: 2,
  INTERNAL_IP4_DNS: 3,
  INTERNAL_IP4_NBNS: 4,
  INTERNAL_IP4_DHCP: 6,
  APPLICATION_VERSION: 7,
  INTERNAL_IP6_ADDRESS: 8,
  INTERNAL_IP6_DNS: 10,
  INTERNAL_IP6_DHCP: 12,
  INTERNAL_IP4_SUBNET: 13,
  SUPPORTED_ATTRIBUTES: 14,
  INTERNAL_IP6_SUBNET: 15,
  P_CSCF_IP4_ADDRESS: 20,
  P_CSCF_IP6_ADDRESS: 21,
} as const;

/** RFC 5685 §10 Gateway Identity Type (in REDIRECT and REDIRECTED_FROM). */
export const GatewayIdType = {
  IPV4: 1,
  IPV6: 2,
  FQDN: 3,
} as const;
export type GatewayIdType = ValueOf<typeof GatewayIdType>;

/** The IKE ports and the non-ESP marker live in src/net (the kernel's IKE sockets use them too). */
export { NON_ESP_MARKER, IKE_PORT, IKE_NATT_PORT } from '../net/endpoint.js';
/** RFC 7296 §3.1: fixed IKE header length. */
export const IKE_HEADER_LENGTH = 28;
/** RFC 7296 §3.2: generic payload header length. */
export const PAYLOAD_HEADER_LENGTH = 4;
/** RFC 7296 §2.10: nonces are at least 16 and at most 256 octets. */
export const NONCE_MIN = 16;
export const NONCE_MAX = 256;

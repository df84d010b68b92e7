/**
 * Everything cryptographic IKEv2 needs, through node:crypto (OpenSSL). Import from here.
 */
export type { IkeKeys, IkeSuite, KeyExchange, Prf, SkTransform } from './types.js';
export * from './algorithms.js';
export { createPrf } from './prf.js';
export { createKeyExchange, isSupportedDhGroup } from './dh.js';
export { createSkTransform } from './sk.js';
export * from './keys.js';
export * from './auth.js';

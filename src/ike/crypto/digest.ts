/**
 * One-shot message digests over node:crypto: crypto.hash (Node >= 20.12) hashes without making
 * a Hash object (a native wrapper and an OpenSSL context that live until the next GC); older
 * Node versions fall back to createHash. Used per setup by the PRFs (HMAC) and NAT detection.
 */
import * as nodeCrypto from 'node:crypto';

type OneShot = (algorithm: string, data: Buffer, outputEncoding: 'buffer') => Buffer;
const oneShot = (nodeCrypto as unknown as { hash?: OneShot }).hash;

/** The digest of `data` with a node:crypto hash name ('sha1', 'sha256', ...). */
export const digest: (algorithm: string, data: Buffer) => Buffer =
  typeof oneShot === 'function'
    ? (alg, data) => oneShot(alg, data, 'buffer')
    : (alg, data) => nodeCrypto.createHash(alg).update(data).digest();

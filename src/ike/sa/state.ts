/**
 * What the IKE SA and the tasks that drive it share, kept in a leaf (it imports nothing of the
 * SA or the tasks): the SA's states and flags, and the random SPIs and nonces of RFC 7296.
 * ike-sa.ts and every task import these from here, so the tasks never need ike-sa.ts's values
 * and ike-sa.ts never needs the tasks.
 */
import { randomTransient } from '../crypto/random.js';

export const IkeState = {
  /** Initiator: IKE_SA_INIT not answered yet. Responder: half-open until IKE_AUTH completes. */
  CONNECTING: 'CONNECTING',
  ESTABLISHED: 'ESTABLISHED',
  /** Replaced by a rekeyed IKE SA; waits for (or sends) its delete. */
  REKEYED: 'REKEYED',
  DELETING: 'DELETING',
  DESTROYED: 'DESTROYED',
} as const;
export type IkeState = (typeof IkeState)[keyof typeof IkeState];

/** Peer capabilities and NAT state, as bits (one number instead of many booleans). */
export const IkeFlag = {
  PEER_FRAGMENTATION: 1 << 0,
  PEER_REDIRECT: 1 << 1,
  PEER_SIG_HASH: 1 << 2,
  /** We are behind a NAT (the peer's NAT_DETECTION_DESTINATION_IP did not match). */
  NAT_LOCAL: 1 << 3,
  /** The peer is behind a NAT (no NAT_DETECTION_SOURCE_IP matched). */
  NAT_REMOTE: 1 << 4,
  /** The peer sent INITIAL_CONTACT. */
  INITIAL_CONTACT: 1 << 5,
  /** Counted among its connection's established IKE SAs (connections with ownIdentity). */
  CONN_COUNTED: 1 << 6,
} as const;

/**
 * A copy in its own small ArrayBuffer. Buffers kept for an SA's lifetime must not be slices of
 * Node's shared 8 KiB allocation pool: one kept slice pins a whole pool slab.
 */
export function own(b: Buffer): Buffer {
  const out = Buffer.from(new ArrayBuffer(b.length));
  b.copy(out);
  return out;
}

/** Fresh random SPI / nonce material (RFC 7296 §2.6: SPIs are random, §2.10 nonces). */
export function randomSpi(): Buffer {
  let spi: Buffer;
  do spi = randomTransient(8); // copied into the SA (see IkeSa's constructor)
  while (spi.readUInt32BE(0) === 0 && spi.readUInt32BE(4) === 0);
  return spi;
}

/**
 * A nonce (RFC 7296 §2.10: at least half the PRF key size, at least 128 bits; 32 octets cover
 * every PRF here). Kept only while the exchange needs it, in a slice of Node's pool.
 */
export function newNonce(): Buffer {
  return randomTransient(32);
}

/**
 * The IKE header, the generic payload header and the two encrypted payloads (SK, SKF), each
 * declared once next to its diagram. Read and written by ../struct.ts only.
 */
import type { IkeHeader, SkfPayload, SkPayload } from '../types.js';
import { fieldsOf, struct } from '../struct.js';

/**
 * RFC 7296 §3.1 IKE Header. Open: Length covers the whole message; Next Payload is the first
 * payload's type (a chain link the message layer follows). Flags are kept as received, so a
 * decoded header re-encodes to the same octets.
 *
 *                      1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                       IKE SA Initiator's SPI                  |
 * |                                                               |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                       IKE SA Responder's SPI                  |
 * |                                                               |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  Next Payload | MjVer | MnVer | Exchange Type |     Flags     |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                          Message ID                           |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                            Length                             |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
const h = fieldsOf<IkeHeader>();
export const IKE_HEADER = struct<IkeHeader>(
  'IKE header',
  [
    h.bytes('spiI', 8),
    h.bytes('spiR', 8),
    h.next(),
    h.bits(1, [
      { name: 'majorVersion', width: 4 },
      { name: 'minorVersion', width: 4 },
    ]),
    h.u8('exchangeType'),
    h.u8('flags'),
    h.u32('messageId'),
    h.length(4, false), // checked against the datagram by the message layer (version first)
  ],
  { open: true },
);

/** The generic payload header as read: only the critical bit is kept (on the payload). */
export interface GenericHeaderWire {
  critical: boolean;
}

/**
 * RFC 7296 §3.2 Generic Payload Header. Open: Payload Length covers the body that follows.
 * C is the critical bit (§2.5); RESERVED is sent as zero and ignored.
 *
 *                      1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Next Payload  |C|  RESERVED   |         Payload Length        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
const g = fieldsOf<GenericHeaderWire>();
export const GENERIC_HEADER = struct<GenericHeaderWire>(
  'generic payload header',
  [g.next(), g.bits(1, [{ name: 'critical', width: 1, bool: true }, { width: 7 }]), g.length(2)],
  { open: true },
);

/**
 * RFC 7296 §3.14 Encrypted payload body (after the generic header, whose Next Payload is the
 * type of the first payload inside). The body stays opaque here: IV || ciphertext || ICV. Once
 * opened by the SkTransform, the plaintext is the inner payloads, then Padding, then Pad Length
 * (one octet: how many padding octets precede it); see ../protected.ts.
 *
 *                      1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Next Payload  |C|  RESERVED   |         Payload Length        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                     Initialization Vector                     |
 * |         (length is block size for encryption algorithm)       |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                    Encrypted IKE Payloads                     ~
 * +               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |               |             Padding (0-255 octets)            |
 * +-+-+-+-+-+-+-+-+                               +-+-+-+-+-+-+-+-+
 * |                                               |  Pad Length   |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                    Integrity Checksum Data                    ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
type SkBody = Pick<SkPayload, 'body'>;
export const SK_BODY = struct<SkBody>('SK', [fieldsOf<SkBody>().rest('body')]);

/**
 * RFC 7383 §2.5 Encrypted Fragment payload body. Next Payload (generic header) is the first
 * inner payload's type in fragment 1 and 0 in the others. The associated data of each
 * fragment runs from the IKE header through Total Fragments.
 *
 *                      1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Next Payload  |C|  RESERVED   |         Payload Length        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |        Fragment Number        |        Total Fragments        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                     Initialization Vector                     |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                      Encrypted content                        ~
 * +               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |               |             Padding (0-255 octets)            |
 * +-+-+-+-+-+-+-+-+                               +-+-+-+-+-+-+-+-+
 * |                                               |  Pad Length   |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                    Integrity Checksum Data                    ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
type SkfBody = Pick<SkfPayload, 'fragmentNumber' | 'totalFragments' | 'body'>;
const f = fieldsOf<SkfBody>();
export const SKF_BODY = struct<SkfBody>('SKF', [f.u16('fragmentNumber'), f.u16('totalFragments'), f.rest('body')]);

/** Octets of the SKF body before the IV: Fragment Number and Total Fragments. */
export const SKF_FIXED_LENGTH = SKF_BODY.minSize;

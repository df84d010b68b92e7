/**
 * RFC 7296 §3.3 Security Association payload: proposals, transforms, transform attributes.
 * Declared once next to the diagrams; read and written by ../struct.ts only.
 */
import { TransformAttr } from '../../constants.js';
import type { Proposal, SaPayload, Transform, TransformAttribute } from '../types.js';
import { fieldsOf, struct } from '../struct.js';

/** A transform attribute as on the wire: `af` is the Attribute Format bit. */
interface AttributeWire {
  af: number;
  type: number;
  tv?: number;
  value?: Buffer;
}

/**
 * RFC 7296 §3.3.5 Transform Attribute. AF (Attribute Format) 1 = TV: the value is the 2 octets
 * that follow; AF 0 = TLV: a 2-octet length, then the value.
 *
 *                      1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |A|       Attribute Type        |    AF=0  Attribute Length     |
 * |F|                             |    AF=1  Attribute Value      |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                   AF=0  Attribute Value                       |
 * |                   AF=1  Not Transmitted                       |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
const a = fieldsOf<AttributeWire>();
export const TRANSFORM_ATTRIBUTE = struct<AttributeWire>('Transform attribute', [
  a.bits(2, [
    { name: 'af', width: 1 },
    { name: 'type', width: 15 },
  ]),
  a.variant('af', { 1: [a.u16('tv')] }, [a.prefixed('value')]),
]);

/** The transform as on the wire: the model turns a TV KEY_LENGTH attribute into keyLength. */
interface TransformWire {
  type: number;
  id: number;
  attributes: AttributeWire[];
}

function transformFromWire(w: TransformWire): Transform {
  const t: Transform = { type: w.type, id: w.id };
  let others: TransformAttribute[] | undefined;
  for (const attr of w.attributes) {
    if (attr.af === 1 && attr.type === TransformAttr.KEY_LENGTH && t.keyLength === undefined) {
      t.keyLength = attr.tv;
    } else {
      (others ??= []).push(attr.af === 1 ? { type: attr.type, tv: attr.tv } : { type: attr.type, value: attr.value });
    }
  }
  if (others) t.attributes = others;
  return t;
}

function transformToWire(t: Transform): TransformWire {
  const attributes: AttributeWire[] = [];
  if (t.keyLength !== undefined) attributes.push({ af: 1, type: TransformAttr.KEY_LENGTH, tv: t.keyLength });
  for (const attr of t.attributes ?? []) {
    attributes.push(attr.tv !== undefined ? { af: 1, type: attr.type, tv: attr.tv } : { af: 0, type: attr.type, value: attr.value });
  }
  return { type: t.type, id: t.id, attributes };
}

/**
 * RFC 7296 §3.3.2 Transform Substructure. Last Substruc is 0 on the last transform of a
 * proposal and 3 on the others.
 *
 *                      1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Last Substruc |   RESERVED    |        Transform Length       |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |Transform Type |   RESERVED    |          Transform ID         |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                      Transform Attributes                     ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
const t = fieldsOf<TransformWire>();
export const TRANSFORM = struct<TransformWire, Transform>(
  'Transform',
  [
    t.more(3),
    t.zero(1),
    t.length(2),
    t.u8('type'),
    t.zero(1),
    t.u16('id'),
    t.list('attributes', TRANSFORM_ATTRIBUTE),
  ],
  { fromWire: transformFromWire, toWire: transformToWire },
);

/**
 * RFC 7296 §3.3.1 Proposal Substructure. Last Substruc is 0 on the last proposal and 2 on the
 * others; SPI Size and Num Transforms are filled in from the value.
 *
 *                      1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Last Substruc |   RESERVED    |         Proposal Length       |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Proposal Num  |  Protocol ID  |    SPI Size   |Num  Transforms|
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                        SPI (variable)                         ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                        <Transforms>                           ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
const p = fieldsOf<Proposal>();
export const PROPOSAL = struct<Proposal>('Proposal', [
  p.more(2),
  p.zero(1),
  p.length(2),
  p.u8('num'),
  p.u8('protocol'),
  p.sizeOf(1, 'spi'),
  p.count(1, 'transforms'),
  p.sized('spi'),
  p.list('transforms', TRANSFORM),
]);

/**
 * RFC 7296 §3.3 Security Association Payload body: one or more proposals up to the end of the
 * payload.
 *
 *                      1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Next Payload  |C|  RESERVED   |         Payload Length        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                          <Proposals>                          ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
type SaBody = Pick<SaPayload, 'proposals'>;
export const SA_BODY = struct<SaBody>('SA', [fieldsOf<SaBody>().list('proposals', PROPOSAL)], {
  check: (v) => (v.proposals.length === 0 ? 'no proposal (§3.3 needs one or more)' : null),
});

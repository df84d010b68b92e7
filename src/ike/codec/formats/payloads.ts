/**
 * RFC 7296 §3.4-§3.16 payload bodies (after the generic payload header), each declared once
 * next to its diagram; read and written by ../struct.ts only. Checks here are the syntax rules
 * the RFC states for the payload itself; what a payload means is for the exchange code.
 */
import { NONCE_MAX, NONCE_MIN, ProtocolId, TsType } from '../../constants.js';
import type {
  AuthPayload,
  CertPayload,
  CertReqPayload,
  CfgAttribute,
  CpPayload,
  DeletePayload,
  EapPayload,
  IdPayload,
  KePayload,
  NoncePayload,
  NotifyPayload,
  TrafficSelectorWire,
  TsPayload,
  UnknownPayload,
  VendorIdPayload,
} from '../types.js';
import { fieldsOf, struct } from '../struct.js';

/** A payload body: the payload without what the generic header carries. */
type Body<P> = Omit<P, 'type' | 'critical'>;

/**
 * RFC 7296 §3.4 Key Exchange Payload.
 *
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   Diffie-Hellman Group Num    |           RESERVED            |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                       Key Exchange Data                       ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
const ke = fieldsOf<Body<KePayload>>();
export const KE_BODY = struct<Body<KePayload>>('KE', [ke.u16('group'), ke.zero(2), ke.rest('data')]);

/**
 * RFC 7296 §3.5 Identification Payloads (IDi and IDr share the format).
 *
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   ID Type     |                 RESERVED                      |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                   Identification Data                         ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
const id = fieldsOf<Body<IdPayload>>();
export const ID_BODY = struct<Body<IdPayload>>('ID', [id.u8('idType'), id.zero(3), id.rest('data')]);

/**
 * RFC 7296 §3.6 Certificate Payload and §3.7 Certificate Request Payload (same layout; for
 * CERTREQ the data is the Certification Authority field).
 *
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Cert Encoding |                                               |
 * +-+-+-+-+-+-+-+-+                                               |
 * ~                       Certificate Data                        ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
const cert = fieldsOf<Body<CertPayload>>();
export const CERT_BODY = struct<Body<CertPayload>>('CERT', [cert.u8('encoding'), cert.rest('data')]);
const certreq = fieldsOf<Body<CertReqPayload>>();
export const CERTREQ_BODY = struct<Body<CertReqPayload>>('CERTREQ', [certreq.u8('encoding'), certreq.rest('data')]);

/**
 * RFC 7296 §3.8 Authentication Payload.
 *
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Auth Method   |                RESERVED                       |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                      Authentication Data                      ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
const auth = fieldsOf<Body<AuthPayload>>();
export const AUTH_BODY = struct<Body<AuthPayload>>('AUTH', [auth.u8('method'), auth.zero(3), auth.rest('data')]);

/**
 * RFC 7296 §3.9 Nonce Payload; §2.10: at least 16 and at most 256 octets.
 *
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                            Nonce Data                         ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
export const NONCE_BODY = struct<Body<NoncePayload>>('Nonce', [fieldsOf<Body<NoncePayload>>().rest('data')], {
  check: (v) =>
    v.data.length < NONCE_MIN || v.data.length > NONCE_MAX
      ? `${v.data.length} octets, outside ${NONCE_MIN}..${NONCE_MAX} (§2.10)`
      : null,
});

/**
 * RFC 7296 §3.10 Notify Payload. Protocol ID and SPI are zero/empty unless the notification
 * concerns a Child SA; Notification Data depends on the type (RFC 5685 REDIRECT data, for
 * one, is carried here as octets; see ./notify-data.ts).
 *
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  Protocol ID  |   SPI Size    |      Notify Message Type      |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                Security Parameter Index (SPI)                 ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                       Notification Data                       ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
const n = fieldsOf<Body<NotifyPayload>>();
export const NOTIFY_BODY = struct<Body<NotifyPayload>>('Notify', [
  n.u8('protocol'),
  n.sizeOf(1, 'spi'),
  n.u16('notifyType'),
  n.sized('spi'),
  n.rest('data'),
]);

/**
 * RFC 7296 §3.11 Delete Payload. SPI Size MUST be 0 for IKE (the SPIs are in the header) and 4
 * for AH and ESP.
 *
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Protocol ID   |   SPI Size    |          Num of SPIs          |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~               Security Parameter Index(es) (SPI)              ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
const d = fieldsOf<Body<DeletePayload>>();
export const DELETE_BODY = struct<Body<DeletePayload>>(
  'Delete',
  [d.u8('protocol'), d.sizeOfEach(1, 'spis'), d.count(2, 'spis'), d.byteList('spis')],
  {
    check: (v) => {
      if (v.protocol === ProtocolId.IKE && v.spis.length > 0) return 'IKE SA delete carries SPIs (§3.11)';
      const child = v.protocol === ProtocolId.ESP || v.protocol === ProtocolId.AH;
      if (child && v.spis.some((s) => s.length !== 4)) return 'ESP/AH SPI size is not 4 (§3.11)';
      return null;
    },
  },
);

/**
 * RFC 7296 §3.12 Vendor ID Payload.
 *
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                        Vendor ID (VID)                        ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
export const VENDOR_ID_BODY = struct<Body<VendorIdPayload>>('Vendor ID', [fieldsOf<Body<VendorIdPayload>>().rest('data')]);

/**
 * RFC 7296 §3.13.1 Traffic Selector. The layout after Selector Length depends on TS Type:
 * ports and 4-octet (TS_IPV4_ADDR_RANGE) or 16-octet (TS_IPV6_ADDR_RANGE) addresses; other
 * types are kept as octets in `body` so the exchange code can refuse them.
 *
 *                      1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   TS Type     |IP Protocol ID*|       Selector Length         |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |           Start Port*         |           End Port*           |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                         Starting Address*                     ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                         Ending Address*                       ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
const EMPTY = Buffer.alloc(0);
const s = fieldsOf<TrafficSelectorWire>();
const ports = [s.u16('startPort'), s.u16('endPort')];
export const TRAFFIC_SELECTOR = struct<TrafficSelectorWire>(
  'Traffic selector',
  [
    s.u8('tsType'),
    s.u8('ipProtocol'),
    s.length(2),
    s.variant(
      'tsType',
      {
        [TsType.TS_IPV4_ADDR_RANGE]: [...ports, s.bytes('startAddr', 4), s.bytes('endAddr', 4)],
        [TsType.TS_IPV6_ADDR_RANGE]: [...ports, s.bytes('startAddr', 16), s.bytes('endAddr', 16)],
      },
      [s.rest('body')],
    ),
  ],
  {
    fromWire: (w) =>
      w.body === undefined
        ? w
        : { tsType: w.tsType, ipProtocol: w.ipProtocol, startPort: 0, endPort: 0, startAddr: EMPTY, endAddr: EMPTY, body: w.body },
  },
);

/**
 * RFC 7296 §3.13 Traffic Selector Payload (TSi and TSr share the format).
 *
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Number of TSs |                 RESERVED                      |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                       <Traffic Selectors>                     ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
const ts = fieldsOf<Body<TsPayload>>();
export const TS_BODY = struct<Body<TsPayload>>('TS', [ts.count(1, 'selectors'), ts.zero(3), ts.list('selectors', TRAFFIC_SELECTOR)]);

/**
 * RFC 7296 §3.15.1 Configuration Attribute. R is reserved.
 *
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |R|         Attribute Type      |            Length             |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                             Value                             ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
const ca = fieldsOf<CfgAttribute>();
export const CFG_ATTRIBUTE = struct<CfgAttribute>('Configuration attribute', [
  ca.bits(2, [{ width: 1 }, { name: 'type', width: 15 }]),
  ca.prefixed('value'),
]);

/**
 * RFC 7296 §3.15 Configuration Payload.
 *
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   CFG Type    |                    RESERVED                   |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                   Configuration Attributes                    ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
const cp = fieldsOf<Body<CpPayload>>();
export const CP_BODY = struct<Body<CpPayload>>('CP', [cp.u8('cfgType'), cp.zero(3), cp.list('attributes', CFG_ATTRIBUTE)]);

/**
 * RFC 7296 §3.16 EAP Payload: carried, not interpreted (segw does no EAP).
 *
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                       EAP Message                             ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
export const EAP_BODY = struct<Body<EapPayload>>('EAP', [fieldsOf<Body<EapPayload>>().rest('data')]);

/** A payload type this implementation does not know: its body, kept as octets (§2.5). */
export const UNKNOWN_BODY = struct<Pick<UnknownPayload, 'body'>>('unknown payload', [
  fieldsOf<Pick<UnknownPayload, 'body'>>().rest('body'),
]);

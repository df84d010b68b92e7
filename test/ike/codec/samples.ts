/** Hand-built payload values covering every payload type and field kind, for round-trip tests. */
import {
  AuthMethod,
  CertEncoding,
  CfgAttr,
  CfgType,
  DhGroup,
  EncrId,
  EsnId,
  ExchangeType,
  HeaderFlag,
  IdType,
  IntegId,
  NotifyStatus,
  PayloadType,
  PrfId,
  ProtocolId,
  TransformType,
  TsType,
} from '../../../src/ike/constants.js';
import type { IkeHeader, Payload } from '../../../src/ike/codec/types.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const fill = (n: number, v: number) => Buffer.alloc(n, v);

/** A self-signed ECDSA P-256 certificate (CN=codec.example) made once with strongSwan `pki`. */
export const TEST_CERT_DER = hex(
  '308201223081caa003020102020856813bb48abca1c8300a06082a8648ce3d0403023018311630140603550403130d63' +
  '6f6465632e6578616d706c65301e170d3236313132383036333331345a170d3336313132353036333331345a30183116' +
  '30140603550403130d636f6465632e6578616d706c653059301306072a8648ce3d020106082a8648ce3d030107034200' +
  '048b54d27eb6ac6df61f9f3c4e50db55342699af09a94291e7bb90c96dca4d0fc585770080ff242dd38abc1d6280f1eb' +
  '32825715daefd91da70eb8a5562b644d7a300a06082a8648ce3d040302034700304402204bc3c1847b85fb45040e8730' +
  'fbb3c1a3a2fca2231db8370613e7193ef93e9a6d022030b35272e960583b6f788f7c81cec0d7c7beba12fab086f43b52' +
  'b6e3de348849',
);

export function header(exchangeType: number = ExchangeType.IKE_SA_INIT, flags: number = HeaderFlag.INITIATOR, messageId = 0): IkeHeader {
  return {
    spiI: hex('0102030405060708'),
    spiR: exchangeType === ExchangeType.IKE_SA_INIT && !(flags & HeaderFlag.RESPONSE) ? Buffer.alloc(8) : hex('1112131415161718'),
    majorVersion: 2,
    minorVersion: 0,
    exchangeType,
    flags,
    messageId,
  };
}

/** One of each payload type (SK excepted), in an order no exchange uses: codec test only. */
export function everyPayload(): Payload[] {
  return [
    {
      type: PayloadType.SA,
      proposals: [
        {
          num: 1,
          protocol: ProtocolId.IKE,
          spi: Buffer.alloc(0),
          transforms: [
            { type: TransformType.ENCR, id: EncrId.ENCR_AES_GCM_16, keyLength: 256 },
            { type: TransformType.ENCR, id: EncrId.ENCR_AES_CBC, keyLength: 128 },
            { type: TransformType.PRF, id: PrfId.PRF_HMAC_SHA2_384 },
            { type: TransformType.INTEG, id: IntegId.AUTH_HMAC_SHA2_256_128 },
            { type: TransformType.DH, id: DhGroup.CURVE25519 },
          ],
        },
        {
          num: 2,
          protocol: ProtocolId.ESP,
          spi: hex('c0ffee01'),
          transforms: [
            // An attribute other than KEY_LENGTH, in both formats (§3.3.5), kept as received.
            { type: TransformType.ENCR, id: EncrId.ENCR_AES_CBC, keyLength: 128, attributes: [{ type: 99, tv: 7 }, { type: 100, value: hex('abcdef') }] },
            { type: TransformType.ESN, id: EsnId.NO_ESN },
          ],
        },
      ],
    },
    { type: PayloadType.KE, group: DhGroup.ECP_256, data: fill(64, 0x42) },
    { type: PayloadType.NONCE, data: fill(32, 0x4e) },
    { type: PayloadType.IDi, idType: IdType.ID_FQDN, data: Buffer.from('a.example') },
    { type: PayloadType.IDr, idType: IdType.ID_IPV6_ADDR, data: hex('20010db8000000000000000000000001') },
    { type: PayloadType.CERT, encoding: CertEncoding.X509_CERT_SIGNATURE, data: TEST_CERT_DER },
    { type: PayloadType.CERTREQ, encoding: CertEncoding.X509_CERT_SIGNATURE, data: fill(40, 0x20) },
    { type: PayloadType.AUTH, method: AuthMethod.SHARED_KEY_MIC, data: fill(32, 0xa5) },
    { type: PayloadType.NOTIFY, protocol: 0, spi: Buffer.alloc(0), notifyType: NotifyStatus.NAT_DETECTION_SOURCE_IP, data: fill(20, 0x11) },
    { type: PayloadType.NOTIFY, protocol: ProtocolId.ESP, spi: hex('c0ffee02'), notifyType: NotifyStatus.REKEY_SA, data: Buffer.alloc(0) },
    { type: PayloadType.DELETE, protocol: ProtocolId.IKE, spis: [] },
    { type: PayloadType.DELETE, protocol: ProtocolId.ESP, spis: [hex('00000001'), hex('00000002')] },
    { type: PayloadType.VENDOR_ID, data: Buffer.from('segw test vendor') },
    {
      type: PayloadType.TSi,
      selectors: [{ tsType: TsType.TS_IPV4_ADDR_RANGE, ipProtocol: 0, startPort: 0, endPort: 65535, startAddr: hex('c0000200'), endAddr: hex('c000027f') }],
    },
    {
      type: PayloadType.TSr,
      selectors: [
        { tsType: TsType.TS_IPV6_ADDR_RANGE, ipProtocol: 17, startPort: 500, endPort: 500, startAddr: hex('20010db8000000000000000000000000'), endAddr: hex('20010db8ffffffffffffffffffffffff') },
        // TS_SECLABEL (RFC 9478, type 10): not understood, kept as octets.
        { tsType: 10, ipProtocol: 0, startPort: 0, endPort: 0, startAddr: Buffer.alloc(0), endAddr: Buffer.alloc(0), body: Buffer.from('label\0') },
      ],
    },
    {
      type: PayloadType.CP,
      cfgType: CfgType.CFG_REQUEST,
      attributes: [
        { type: CfgAttr.INTERNAL_IP4_ADDRESS, value: Buffer.alloc(0) },
        { type: CfgAttr.INTERNAL_IP4_DNS, value: hex('c6336401') },
      ],
    },
    { type: PayloadType.EAP, data: hex('0201000501') },
    { type: 200, unknown: true, body: hex('deadbeef') },
  ];
}

/**
 * IKE identities (RFC 7296 §3.5): the ID payload's type and data as one value, parsed from the
 * strings operators write, formatted for logs, and compared the way peers expect.
 *
 * Config forms (strongSwan-like):
 *   192.0.2.1 / 2001:db8::1      ID_IPV4_ADDR / ID_IPV6_ADDR
 *   gw1.example, @gw1.example    ID_FQDN (a leading '@' forces FQDN)
 *   user@example.com             ID_RFC822_ADDR
 *   C=DE, O=segw, CN=gw1.example ID_DER_ASN1_DN (DER, attribute names as strongSwan's)
 *   keyid:0a1b2c                 ID_KEY_ID (hex)
 * and the explicit prefixes ipv4:, ipv6:, fqdn:, email: / rfc822:, dn:, keyid:.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { bytesToIp, ipToBytes } from '../net/ip.js';
import { IdType, nameOf } from './constants.js';
import { ConfigError } from '../errors.js';
import { dnEquals, dnFromText, formatDn } from './crypto/dn.js';

export interface Identity {
  /** IdType registry value. */
  readonly type: number;
  /** Identification Data exactly as in the ID payload. */
  readonly data: Buffer;
}


function fail(text: string, why: string): never {
  throw new ConfigError(`identity "${text}": ${why}; write an address, an FQDN, user@domain, a DN like "C=DE, O=segw, CN=gw1.example", or keyid:<hex>`);
}

function typed(prefix: string, value: string, text: string): Identity {
  switch (prefix) {
    case 'ipv4':
      return isIPv4(value) ? { type: IdType.ID_IPV4_ADDR, data: ipToBytes(value) } : fail(text, 'not an IPv4 address');
    case 'ipv6': {
      // no zone ids ("%eth0") in an ID payload
      const b = isIPv6(value) && !value.includes('%') ? ipToBytes(value) : null;
      return b ? { type: IdType.ID_IPV6_ADDR, data: b } : fail(text, 'not an IPv6 address');
    }
    case 'fqdn':
      return value ? { type: IdType.ID_FQDN, data: Buffer.from(value, 'ascii') } : fail(text, 'empty FQDN');
    case 'email':
    case 'rfc822':
      return value.includes('@') ? { type: IdType.ID_RFC822_ADDR, data: Buffer.from(value, 'ascii') } : fail(text, 'no @ in the address');
    case 'dn': {
      const der = dnFromText(value);
      return der ? { type: IdType.ID_DER_ASN1_DN, data: der } : fail(text, 'not a DN (unknown attribute type or no "type=value")');
    }
    case 'keyid':
      return /^([0-9a-fA-F]{2})+$/.test(value.replace(/:/g, ''))
        ? { type: IdType.ID_KEY_ID, data: Buffer.from(value.replace(/:/g, ''), 'hex') }
        : fail(text, 'key id is not hex');
    default:
      return fail(text, `unknown prefix "${prefix}:"`);
  }
}

/** An Identity from its config text. Throws ConfigError saying what is wrong. */
export function parseIdentity(text: string): Identity {
  const t = text.trim();
  if (!t) fail(text, 'empty');
  const prefixed = /^(ipv4|ipv6|fqdn|email|rfc822|dn|keyid):(.*)$/i.exec(t);
  if (prefixed) return typed(prefixed[1].toLowerCase(), prefixed[2].trim(), text);
  if (isIPv4(t)) return typed('ipv4', t, text);
  if (isIPv6(t)) return typed('ipv6', t, text);
  if (t.includes('=')) return typed('dn', t, text);
  if (t.startsWith('@')) return typed('fqdn', t.slice(1), text);
  if (t.includes('@')) return typed('email', t, text);
  if (/\s/.test(t)) fail(text, 'an FQDN has no spaces');
  return typed('fqdn', t, text);
}

/** An Identity from a received ID payload (any type; the data is copied). */
export function identityFromPayload(idType: number, data: Buffer): Identity {
  return { type: idType, data: Buffer.from(data) };
}

/** The ID payload fields for an Identity. */
export function identityToPayload(id: Identity): { idType: number; data: Buffer } {
  return { idType: id.type, data: id.data };
}

/** Text for logs and CLI output; never throws, whatever a peer sent. */
export function formatIdentity(id: Identity): string {
  switch (id.type) {
    case IdType.ID_IPV4_ADDR:
      return id.data.length === 4 ? Array.from(id.data).join('.') : `ipv4:#${id.data.toString('hex')}`;
    case IdType.ID_IPV6_ADDR:
      return id.data.length === 16 ? bytesToIp(id.data, 6) : `ipv6:#${id.data.toString('hex')}`;
    case IdType.ID_FQDN:
    case IdType.ID_RFC822_ADDR:
      // Printable ASCII only, so a peer cannot put control characters into our logs.
      return id.data.toString('latin1').replace(/[^\x20-\x7e]/g, '?');
    case IdType.ID_DER_ASN1_DN:
      return formatDn(id.data).replace(/[\x00-\x1f\x7f]/g, '?');
    case IdType.ID_KEY_ID:
      return `keyid:${id.data.toString('hex')}`;
    default:
      return `${nameOf(IdType, id.type)}:#${id.data.toString('hex')}`;
  }
}

/** Whether two identities name the same thing: FQDN/RFC822 ignore case, DNs compare per RFC 5280 §7.1. */
export function identityEquals(a: Identity, b: Identity): boolean {
  if (a.type !== b.type) return false;
  switch (a.type) {
    case IdType.ID_FQDN:
    case IdType.ID_RFC822_ADDR:
      return a.data.length === b.data.length && a.data.toString('latin1').toLowerCase() === b.data.toString('latin1').toLowerCase();
    case IdType.ID_DER_ASN1_DN:
      return dnEquals(a.data, b.data);
    default:
      return a.data.equals(b.data);
  }
}

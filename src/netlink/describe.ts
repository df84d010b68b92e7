/**
 * Any rtnetlink or XFRM message decoded into names and fields, from the same declarations the
 * encoders use: for logs, for test failure messages (a byte mismatch against iproute2 prints both
 * sides field by field) and for anyone reading a capture.
 */
import { decodeAttrs, type AttrTable } from './attr.js';
import { flagNames, nameOf, nlmsgAlign, NLM_F, NLM_F_ACKFLAGS, NLM_F_DEL, NLM_F_NEW, NLMSG } from './constants.js';
import { splitMessages, parseAck, type NlMessage } from './message.js';
import { IFA, IFLA, RTA, RTM, ifaddrmsg, ifinfomsg, rtmsg } from './rtnetlink.js';
import type { StructDef } from './struct.js';
import { XFRM_MSG, XFRM_MSG_HEADER, XFRMA } from './xfrm.js';

export interface Described {
  type: string;
  flags: string;
  seq: number;
  pid: number;
  header?: unknown;
  attrs?: unknown;
  error?: unknown;
}

/** Buffers as hex, bigints as decimal strings: JSON-printable. */
export function plain(v: unknown): unknown {
  if (Buffer.isBuffer(v)) return v.toString('hex');
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Layout = { header: StructDef<any>; attrs?: AttrTable<any> };

function rtLayout(type: number): Layout | undefined {
  if (type >= RTM.RTM_NEWLINK && type <= RTM.RTM_SETLINK) return { header: ifinfomsg, attrs: IFLA };
  if (type >= RTM.RTM_NEWADDR && type <= RTM.RTM_GETADDR) return { header: ifaddrmsg, attrs: IFA };
  if (type >= RTM.RTM_NEWROUTE && type <= RTM.RTM_GETROUTE) return { header: rtmsg, attrs: RTA };
  return undefined;
}

function xfrmLayout(type: number): Layout | undefined {
  const header = (XFRM_MSG_HEADER as Record<number, StructDef<unknown>>)[type];
  return header ? { header, attrs: XFRMA } : undefined;
}

/** The high flag byte means different things for NEW, DEL, GET requests and for ACKs. */
function flagTable(type: string): Record<string, number> {
  const low = { NLM_F_REQUEST: 1, NLM_F_MULTI: 2, NLM_F_ACK: 4, NLM_F_ECHO: 8, NLM_F_DUMP_INTR: 0x10, NLM_F_DUMP_FILTERED: 0x20 };
  if (/_NEW|_UPD|_ALLOCSPI/.test(type)) return { ...low, ...NLM_F_NEW };
  if (/_DEL|_FLUSH/.test(type)) return { ...low, ...NLM_F_DEL };
  if (type === 'NLMSG_ERROR') return { ...low, ...NLM_F_ACKFLAGS };
  return NLM_F;
}

function describeOne(m: NlMessage, names: Record<string, number>, layout: (t: number) => Layout | undefined): Described {
  const { NLMSG_MIN_TYPE: _, ...control } = NLMSG;
  const type = nameOf({ ...names, ...control }, m.type);
  const d: Described = { type, flags: flagNames(flagTable(type), m.flags), seq: m.seq, pid: m.pid };
  if (m.type === NLMSG.NLMSG_ERROR) {
    d.error = parseAck(m);
    return d;
  }
  const l = layout(m.type);
  if (!l || m.payload.length < l.header.size) return m.payload.length ? { ...d, header: m.payload.toString('hex') } : d;
  d.header = plain(l.header.decode(m.payload, 0, l.header.size));
  if (l.attrs) d.attrs = plain(decodeAttrs(l.attrs, m.payload, nlmsgAlign(l.header.size)));
  return d;
}

export function describeRtnetlink(datagram: Buffer): Described[] {
  return splitMessages(datagram).messages.map((m) => describeOne(m, RTM, rtLayout));
}

export function describeXfrm(datagram: Buffer): Described[] {
  return splitMessages(datagram).messages.map((m) => describeOne(m, XFRM_MSG, xfrmLayout));
}

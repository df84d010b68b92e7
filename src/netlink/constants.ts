/**
 * Netlink core constants (linux/netlink.h, linux/socket.h), each table with its kernel names so
 * logs print `NLM_F_MULTI`, not 2. Protocol-family constants live in ./rtnetlink.ts and ./xfrm.ts.
 * Values are Linux x86_64 (the only platform segw programs the kernel on).
 */

/** `nameOf(NLMSG, 2)` -> 'NLMSG_ERROR'; unknown values print as UNKNOWN(n). */
export function nameOf(table: Readonly<Record<string, number>>, value: number): string {
  let m = reverse.get(table);
  if (!m) {
    m = new Map();
    for (const [k, v] of Object.entries(table)) if (!m.has(v)) m.set(v, k);
    reverse.set(table, m);
  }
  return m.get(value) ?? `UNKNOWN(${value})`;
}
const reverse = new WeakMap<object, Map<number, string>>();

/** Names of the bits set in `value` ('NLM_F_REQUEST|NLM_F_ACK'); leftover bits in hex. */
export function flagNames(table: Readonly<Record<string, number>>, value: number): string {
  const parts: string[] = [];
  let rest = value >>> 0;
  for (const [k, v] of Object.entries(table)) {
    if (v !== 0 && (v & (v - 1)) === 0 && (rest & v) === v) {
      parts.push(k);
      rest &= ~v;
    }
  }
  if (rest) parts.push(`0x${rest.toString(16)}`);
  return parts.join('|') || '0';
}

// linux/socket.h
export const AF = { AF_UNSPEC: 0, AF_INET: 2, AF_INET6: 10, AF_NETLINK: 16, AF_PACKET: 17 } as const;
export const SOCK = { SOCK_STREAM: 1, SOCK_DGRAM: 2, SOCK_RAW: 3 } as const;
export const SOL = { SOL_SOCKET: 1, SOL_IP: 0, SOL_UDP: 17, SOL_IPV6: 41, SOL_NETLINK: 270 } as const;
// asm-generic/socket.h
export const SO = { SO_SNDBUF: 7, SO_RCVBUF: 8, SO_SNDBUFFORCE: 32, SO_RCVBUFFORCE: 33 } as const;

/** Netlink protocol numbers (linux/netlink.h). */
export const NETLINK = {
  NETLINK_ROUTE: 0,
  NETLINK_USERSOCK: 2,
  NETLINK_SOCK_DIAG: 4,
  NETLINK_XFRM: 6,
  NETLINK_AUDIT: 9,
  NETLINK_NETFILTER: 12,
  NETLINK_KOBJECT_UEVENT: 15,
  NETLINK_GENERIC: 16,
} as const;

/** SOL_NETLINK socket options. */
export const NETLINK_OPT = {
  NETLINK_ADD_MEMBERSHIP: 1,
  NETLINK_DROP_MEMBERSHIP: 2,
  NETLINK_PKTINFO: 3,
  NETLINK_BROADCAST_ERROR: 4,
  NETLINK_NO_ENOBUFS: 5,
  NETLINK_LISTEN_ALL_NSID: 8,
  NETLINK_LIST_MEMBERSHIPS: 9,
  /** Error ACKs carry only the failed request's header, not its payload. */
  NETLINK_CAP_ACK: 10,
  /** Error ACKs carry the kernel's extended-ack TLVs (a message, the offending attribute). */
  NETLINK_EXT_ACK: 11,
  /** Dump requests are checked strictly and may filter in the kernel (rtnetlink). */
  NETLINK_GET_STRICT_CHK: 12,
} as const;

/** Control message types (< NLMSG_MIN_TYPE). */
export const NLMSG = {
  NLMSG_NOOP: 0x1,
  NLMSG_ERROR: 0x2,
  NLMSG_DONE: 0x3,
  NLMSG_OVERRUN: 0x4,
  NLMSG_MIN_TYPE: 0x10,
} as const;

/** nlmsg_flags. The high byte means different things for GET, NEW, DELETE and ACK messages. */
export const NLM_F = {
  NLM_F_REQUEST: 0x01,
  NLM_F_MULTI: 0x02,
  NLM_F_ACK: 0x04,
  NLM_F_ECHO: 0x08,
  NLM_F_DUMP_INTR: 0x10,
  NLM_F_DUMP_FILTERED: 0x20,
  // GET requests
  NLM_F_ROOT: 0x100,
  NLM_F_MATCH: 0x200,
  NLM_F_ATOMIC: 0x400,
  NLM_F_DUMP: 0x300,
} as const;
/** High-byte flags of NEW requests. */
export const NLM_F_NEW = { NLM_F_REPLACE: 0x100, NLM_F_EXCL: 0x200, NLM_F_CREATE: 0x400, NLM_F_APPEND: 0x800 } as const;
/** High-byte flags of DELETE requests. */
export const NLM_F_DEL = { NLM_F_NONREC: 0x100, NLM_F_BULK: 0x200 } as const;
/** High-byte flags of NLMSG_ERROR acknowledgements. */
export const NLM_F_ACKFLAGS = { NLM_F_CAPPED: 0x100, NLM_F_ACK_TLVS: 0x200 } as const;

/** Extended-ack TLVs after struct nlmsgerr (enum nlmsgerr_attrs). */
export const NLMSGERR_ATTR = {
  NLMSGERR_ATTR_UNUSED: 0,
  NLMSGERR_ATTR_MSG: 1,
  NLMSGERR_ATTR_OFFS: 2,
  NLMSGERR_ATTR_COOKIE: 3,
  NLMSGERR_ATTR_POLICY: 4,
  NLMSGERR_ATTR_MISS_TYPE: 5,
  NLMSGERR_ATTR_MISS_NEST: 6,
} as const;

/** struct nlattr nla_type flag bits. */
export const NLA_F_NESTED = 1 << 15;
export const NLA_F_NET_BYTEORDER = 1 << 14;
export const NLA_TYPE_MASK = 0x3fff;

export const NLMSG_ALIGNTO = 4;
export const NLA_ALIGNTO = 4;
export const nlmsgAlign = (n: number) => (n + NLMSG_ALIGNTO - 1) & ~(NLMSG_ALIGNTO - 1);
export const nlaAlign = (n: number) => (n + NLA_ALIGNTO - 1) & ~(NLA_ALIGNTO - 1);

/**
 * rtnetlink (NETLINK_ROUTE) declarations: message types, the family headers (ifinfomsg,
 * ifaddrmsg, rtmsg) and their attributes, with the kernel's names (linux/rtnetlink.h,
 * linux/if_addr.h, linux/if_link.h). Every enum has a name table for logs (`nameOf(RTM, 24)`).
 */
import { attr, attrs, nlBinary, nlIp, nlNested, nlString, nlStringUnterminated, nlStruct, nlU32, nlU8, nlS32, nlU16 } from './attr.js';
import { s32, struct, u16, u32, u8 } from './struct.js';

export const RTM = {
  RTM_NEWLINK: 16,
  RTM_DELLINK: 17,
  RTM_GETLINK: 18,
  RTM_SETLINK: 19,
  RTM_NEWADDR: 20,
  RTM_DELADDR: 21,
  RTM_GETADDR: 22,
  RTM_NEWROUTE: 24,
  RTM_DELROUTE: 25,
  RTM_GETROUTE: 26,
  RTM_NEWNEIGH: 28,
  RTM_DELNEIGH: 29,
  RTM_GETNEIGH: 30,
  RTM_NEWRULE: 32,
  RTM_DELRULE: 33,
  RTM_GETRULE: 34,
  RTM_NEWNSID: 88,
  RTM_DELNSID: 89,
  RTM_GETNSID: 90,
  RTM_NEWNEXTHOP: 104,
  RTM_DELNEXTHOP: 105,
  RTM_GETNEXTHOP: 106,
} as const;

/** Multicast groups (enum rtnetlink_groups), joined with NETLINK_ADD_MEMBERSHIP. */
export const RTNLGRP = {
  RTNLGRP_NONE: 0,
  RTNLGRP_LINK: 1,
  RTNLGRP_NOTIFY: 2,
  RTNLGRP_NEIGH: 3,
  RTNLGRP_TC: 4,
  RTNLGRP_IPV4_IFADDR: 5,
  RTNLGRP_IPV4_MROUTE: 6,
  RTNLGRP_IPV4_ROUTE: 7,
  RTNLGRP_IPV4_RULE: 8,
  RTNLGRP_IPV6_IFADDR: 9,
  RTNLGRP_IPV6_MROUTE: 10,
  RTNLGRP_IPV6_ROUTE: 11,
  RTNLGRP_IPV6_IFINFO: 12,
  RTNLGRP_IPV6_PREFIX: 18,
  RTNLGRP_IPV6_RULE: 19,
  RTNLGRP_IPV4_NETCONF: 24,
  RTNLGRP_IPV6_NETCONF: 25,
  RTNLGRP_NSID: 28,
  RTNLGRP_NEXTHOP: 32,
} as const;

/** rtm_type (enum rtn_type). */
export const RTN = {
  RTN_UNSPEC: 0,
  RTN_UNICAST: 1,
  RTN_LOCAL: 2,
  RTN_BROADCAST: 3,
  RTN_ANYCAST: 4,
  RTN_MULTICAST: 5,
  RTN_BLACKHOLE: 6,
  RTN_UNREACHABLE: 7,
  RTN_PROHIBIT: 8,
  RTN_THROW: 9,
  RTN_NAT: 10,
  RTN_XRESOLVE: 11,
} as const;

/** rtm_scope / ifa_scope (enum rt_scope_t). */
export const RT_SCOPE = {
  RT_SCOPE_UNIVERSE: 0,
  RT_SCOPE_SITE: 200,
  RT_SCOPE_LINK: 253,
  RT_SCOPE_HOST: 254,
  RT_SCOPE_NOWHERE: 255,
} as const;

/** rtm_table / RTA_TABLE (enum rt_class_t). Tables above 255 travel only in RTA_TABLE. */
export const RT_TABLE = {
  RT_TABLE_UNSPEC: 0,
  RT_TABLE_COMPAT: 252,
  RT_TABLE_DEFAULT: 253,
  RT_TABLE_MAIN: 254,
  RT_TABLE_LOCAL: 255,
} as const;

/** rtm_protocol: who installed a route. segw's own number is ROUTE_PROTO_SEGW (src/kernel/types.ts). */
export const RTPROT = {
  RTPROT_UNSPEC: 0,
  RTPROT_REDIRECT: 1,
  RTPROT_KERNEL: 2,
  RTPROT_BOOT: 3,
  RTPROT_STATIC: 4,
  RTPROT_GATED: 8,
  RTPROT_RA: 9,
  RTPROT_MRT: 10,
  RTPROT_ZEBRA: 11,
  RTPROT_BIRD: 12,
  RTPROT_DNROUTED: 13,
  RTPROT_XORP: 14,
  RTPROT_NTK: 15,
  RTPROT_DHCP: 16,
  RTPROT_MROUTED: 17,
  RTPROT_KEEPALIVED: 18,
  RTPROT_BABEL: 42,
  RTPROT_OPENR: 99,
  RTPROT_BGP: 186,
  RTPROT_ISIS: 187,
  RTPROT_OSPF: 188,
  RTPROT_RIP: 189,
  RTPROT_EIGRP: 192,
} as const;

/** rtm_flags. */
export const RTM_F = {
  RTM_F_NOTIFY: 0x100,
  RTM_F_CLONED: 0x200,
  RTM_F_EQUALIZE: 0x400,
  RTM_F_PREFIX: 0x800,
  RTM_F_LOOKUP_TABLE: 0x1000,
  RTM_F_FIB_MATCH: 0x2000,
  RTM_F_OFFLOAD: 0x4000,
  RTM_F_TRAP: 0x8000,
  RTM_F_OFFLOAD_FAILED: 0x20000000,
} as const;

/** ifa_flags (8 bits) and IFA_FLAGS (32 bits, linux/if_addr.h). */
export const IFA_F = {
  IFA_F_SECONDARY: 0x01,
  IFA_F_NODAD: 0x02,
  IFA_F_OPTIMISTIC: 0x04,
  IFA_F_DADFAILED: 0x08,
  IFA_F_HOMEADDRESS: 0x10,
  IFA_F_DEPRECATED: 0x20,
  IFA_F_TENTATIVE: 0x40,
  IFA_F_PERMANENT: 0x80,
  IFA_F_MANAGETEMPADDR: 0x100,
  IFA_F_NOPREFIXROUTE: 0x200,
  IFA_F_MCAUTOJOIN: 0x400,
  IFA_F_STABLE_PRIVACY: 0x800,
} as const;

/** ifi_flags (linux/if.h net_device_flags). */
export const IFF = {
  IFF_UP: 0x1,
  IFF_BROADCAST: 0x2,
  IFF_DEBUG: 0x4,
  IFF_LOOPBACK: 0x8,
  IFF_POINTOPOINT: 0x10,
  IFF_NOTRAILERS: 0x20,
  IFF_RUNNING: 0x40,
  IFF_NOARP: 0x80,
  IFF_PROMISC: 0x100,
  IFF_ALLMULTI: 0x200,
  IFF_MASTER: 0x400,
  IFF_SLAVE: 0x800,
  IFF_MULTICAST: 0x1000,
  IFF_PORTSEL: 0x2000,
  IFF_AUTOMEDIA: 0x4000,
  IFF_DYNAMIC: 0x8000,
  IFF_LOWER_UP: 0x10000,
  IFF_DORMANT: 0x20000,
  IFF_ECHO: 0x40000,
} as const;

export const ifinfomsg = struct('ifinfomsg', {
  ifi_family: u8,
  __ifi_pad: u8,
  ifi_type: u16,
  ifi_index: s32,
  ifi_flags: u32,
  ifi_change: u32,
});

export const ifaddrmsg = struct('ifaddrmsg', {
  ifa_family: u8,
  ifa_prefixlen: u8,
  ifa_flags: u8,
  ifa_scope: u8,
  ifa_index: u32,
});

export const rtmsg = struct('rtmsg', {
  rtm_family: u8,
  rtm_dst_len: u8,
  rtm_src_len: u8,
  rtm_tos: u8,
  rtm_table: u8,
  rtm_protocol: u8,
  rtm_scope: u8,
  rtm_type: u8,
  rtm_flags: u32,
});

export const ifa_cacheinfo = struct('ifa_cacheinfo', {
  ifa_prefered: u32,
  ifa_valid: u32,
  cstamp: u32,
  tstamp: u32,
});

export const rta_cacheinfo = struct('rta_cacheinfo', {
  rta_clntref: u32,
  rta_lastuse: u32,
  rta_expires: s32,
  rta_error: u32,
  rta_used: u32,
  rta_id: u32,
  rta_ts: u32,
  rta_tsage: u32,
});

export const IFA = attrs('IFA', {
  IFA_ADDRESS: attr(1, nlIp),
  IFA_LOCAL: attr(2, nlIp),
  IFA_LABEL: attr(3, nlString),
  IFA_BROADCAST: attr(4, nlIp),
  IFA_ANYCAST: attr(5, nlIp),
  IFA_CACHEINFO: attr(6, nlStruct(ifa_cacheinfo)),
  IFA_MULTICAST: attr(7, nlIp),
  IFA_FLAGS: attr(8, nlU32),
  IFA_RT_PRIORITY: attr(9, nlU32),
  IFA_TARGET_NETNSID: attr(10, nlS32),
  IFA_PROTO: attr(11, nlU8),
});

export const RTA = attrs('RTA', {
  RTA_DST: attr(1, nlIp),
  RTA_SRC: attr(2, nlIp),
  RTA_IIF: attr(3, nlU32),
  RTA_OIF: attr(4, nlU32),
  RTA_GATEWAY: attr(5, nlIp),
  RTA_PRIORITY: attr(6, nlU32),
  RTA_PREFSRC: attr(7, nlIp),
  RTA_METRICS: attr(8, nlBinary),
  RTA_MULTIPATH: attr(9, nlBinary),
  RTA_PROTOINFO: attr(10, nlBinary),
  RTA_FLOW: attr(11, nlU32),
  RTA_CACHEINFO: attr(12, nlStruct(rta_cacheinfo)),
  RTA_SESSION: attr(13, nlBinary),
  RTA_MP_ALGO: attr(14, nlBinary),
  RTA_TABLE: attr(15, nlU32),
  RTA_MARK: attr(16, nlU32),
  RTA_MFC_STATS: attr(17, nlBinary),
  RTA_VIA: attr(18, nlBinary),
  RTA_NEWDST: attr(19, nlBinary),
  RTA_PREF: attr(20, nlU8),
  RTA_ENCAP_TYPE: attr(21, nlU16),
  RTA_ENCAP: attr(22, nlBinary),
  RTA_EXPIRES: attr(23, nlU32),
  RTA_PAD: attr(24, nlBinary),
  RTA_UID: attr(25, nlU32),
  RTA_TTL_PROPAGATE: attr(26, nlU8),
  RTA_IP_PROTO: attr(27, nlU8),
  RTA_SPORT: attr(28, nlU16),
  RTA_DPORT: attr(29, nlU16),
  RTA_NH_ID: attr(30, nlU32),
});

/**
 * IFLA_LINKINFO's nested attributes (linux/if_link.h enum IFLA_INFO_*): the link kind and its
 * kind-specific data (IFLA_INFO_DATA, e.g. IFLA_MACVLAN below, encoded by the caller).
 */
export const IFLA_INFO = attrs('IFLA_INFO', {
  IFLA_INFO_KIND: attr(1, nlStringUnterminated),
  IFLA_INFO_DATA: attr(2, nlBinary),
  IFLA_INFO_XSTATS: attr(3, nlBinary),
  IFLA_INFO_SLAVE_KIND: attr(4, nlString),
  IFLA_INFO_SLAVE_DATA: attr(5, nlBinary),
});

/** IFLA_INFO_DATA of kind "macvlan" (linux/if_link.h enum IFLA_MACVLAN_*). */
export const IFLA_MACVLAN = attrs('IFLA_MACVLAN', {
  IFLA_MACVLAN_MODE: attr(1, nlU32),
  IFLA_MACVLAN_FLAGS: attr(2, nlU16),
});

/** IFLA_MACVLAN_MODE values (enum macvlan_mode). */
export const MACVLAN_MODE = {
  MACVLAN_MODE_PRIVATE: 1,
  MACVLAN_MODE_VEPA: 2,
  MACVLAN_MODE_BRIDGE: 4,
  MACVLAN_MODE_PASSTHRU: 8,
  MACVLAN_MODE_SOURCE: 16,
} as const;

/** Link attributes segw reads (the rest decode as `unknown`); numbers from linux/if_link.h. */
export const IFLA = attrs('IFLA', {
  IFLA_ADDRESS: attr(1, nlBinary),
  IFLA_BROADCAST: attr(2, nlBinary),
  IFLA_IFNAME: attr(3, nlString),
  IFLA_MTU: attr(4, nlU32),
  IFLA_LINK: attr(5, nlU32),
  IFLA_QDISC: attr(6, nlString),
  IFLA_STATS: attr(7, nlBinary),
  IFLA_MASTER: attr(10, nlU32),
  IFLA_TXQLEN: attr(13, nlU32),
  IFLA_OPERSTATE: attr(16, nlU8),
  IFLA_LINKMODE: attr(17, nlU8),
  IFLA_LINKINFO: attr(18, nlNested(IFLA_INFO)),
  IFLA_IFALIAS: attr(20, nlString),
  IFLA_STATS64: attr(23, nlBinary),
  IFLA_AF_SPEC: attr(26, nlBinary),
  IFLA_GROUP: attr(27, nlU32),
  IFLA_EXT_MASK: attr(29, nlU32),
  IFLA_PROMISCUITY: attr(30, nlU32),
  IFLA_NUM_TX_QUEUES: attr(31, nlU32),
  IFLA_NUM_RX_QUEUES: attr(32, nlU32),
  IFLA_CARRIER: attr(33, nlU8),
  IFLA_CARRIER_CHANGES: attr(35, nlU32),
  IFLA_LINK_NETNSID: attr(37, nlS32),
  IFLA_PROTO_DOWN: attr(39, nlU8),
  IFLA_GSO_MAX_SEGS: attr(40, nlU32),
  IFLA_GSO_MAX_SIZE: attr(41, nlU32),
  IFLA_PAD: attr(42, nlBinary),
  IFLA_XDP: attr(43, nlBinary),
  IFLA_EVENT: attr(44, nlU32),
  IFLA_CARRIER_UP_COUNT: attr(47, nlU32),
  IFLA_CARRIER_DOWN_COUNT: attr(48, nlU32),
  IFLA_MIN_MTU: attr(50, nlU32),
  IFLA_MAX_MTU: attr(51, nlU32),
  IFLA_PROP_LIST: attr(52, nlBinary),
  IFLA_ALT_IFNAME: attr(53, nlString),
  IFLA_PERM_ADDRESS: attr(54, nlBinary),
  IFLA_PARENT_DEV_NAME: attr(56, nlString),
  IFLA_GRO_MAX_SIZE: attr(58, nlU32),
  IFLA_TSO_MAX_SIZE: attr(59, nlU32),
  IFLA_TSO_MAX_SEGS: attr(60, nlU32),
  IFLA_ALLMULTI: attr(61, nlU32),
});

/** IFLA_OPERSTATE values (RFC 2863 ifOperStatus). */
export const IF_OPER = {
  IF_OPER_UNKNOWN: 0,
  IF_OPER_NOTPRESENT: 1,
  IF_OPER_DOWN: 2,
  IF_OPER_LOWERLAYERDOWN: 3,
  IF_OPER_TESTING: 4,
  IF_OPER_DORMANT: 5,
  IF_OPER_UP: 6,
} as const;

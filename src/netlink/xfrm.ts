/**
 * XFRM (NETLINK_XFRM) declarations from linux/xfrm.h: message types, every structure the
 * kernel exchanges with their kernel field names, the XFRMA_* attributes and name tables for
 * every enum. The layouts (offsets, padding, sizeof) are computed by ./struct.ts from these
 * declarations with the x86_64 C rules; test/netlink/xfrm-layout.test.ts pins them to the sizes
 * and offsets gcc reports for the kernel header (xfrm_usersa_info 224, xfrm_userpolicy_info 168,
 * xfrm_user_tmpl 64, ...).
 */
import { attr, attrs, nlArray, nlBinary, nlStruct, nlU32, nlU64, nlU8 } from './attr.js';
import { be16, be32, bytes, chars, flex, s32, struct, u16, u32, u64, u8 } from './struct.js';

export const XFRM_MSG = {
  XFRM_MSG_NEWSA: 0x10,
  XFRM_MSG_DELSA: 0x11,
  XFRM_MSG_GETSA: 0x12,
  XFRM_MSG_NEWPOLICY: 0x13,
  XFRM_MSG_DELPOLICY: 0x14,
  XFRM_MSG_GETPOLICY: 0x15,
  XFRM_MSG_ALLOCSPI: 0x16,
  XFRM_MSG_ACQUIRE: 0x17,
  XFRM_MSG_EXPIRE: 0x18,
  XFRM_MSG_UPDPOLICY: 0x19,
  XFRM_MSG_UPDSA: 0x1a,
  XFRM_MSG_POLEXPIRE: 0x1b,
  XFRM_MSG_FLUSHSA: 0x1c,
  XFRM_MSG_FLUSHPOLICY: 0x1d,
  XFRM_MSG_NEWAE: 0x1e,
  XFRM_MSG_GETAE: 0x1f,
  XFRM_MSG_REPORT: 0x20,
  XFRM_MSG_MIGRATE: 0x21,
  XFRM_MSG_NEWSADINFO: 0x22,
  XFRM_MSG_GETSADINFO: 0x23,
  XFRM_MSG_NEWSPDINFO: 0x24,
  XFRM_MSG_GETSPDINFO: 0x25,
  XFRM_MSG_MAPPING: 0x26,
  XFRM_MSG_SETDEFAULT: 0x27,
  XFRM_MSG_GETDEFAULT: 0x28,
} as const;

/** Multicast groups (enum xfrm_nlgroups). */
export const XFRMNLGRP = {
  XFRMNLGRP_NONE: 0,
  XFRMNLGRP_ACQUIRE: 1,
  XFRMNLGRP_EXPIRE: 2,
  XFRMNLGRP_SA: 3,
  XFRMNLGRP_POLICY: 4,
  XFRMNLGRP_AEVENTS: 5,
  XFRMNLGRP_REPORT: 6,
  XFRMNLGRP_MIGRATE: 7,
  XFRMNLGRP_MAPPING: 8,
} as const;

/** id.proto values: IP protocol numbers (RFC 4303 ESP = 50, RFC 4302 AH = 51, RFC 3173 IPComp = 108). */
export const IPPROTO_XFRM = { IPPROTO_ESP: 50, IPPROTO_AH: 51, IPPROTO_COMP: 108 } as const;

export const XFRM_MODE = {
  XFRM_MODE_TRANSPORT: 0,
  XFRM_MODE_TUNNEL: 1,
  XFRM_MODE_ROUTEOPTIMIZATION: 2,
  XFRM_MODE_IN_TRIGGER: 3,
  XFRM_MODE_BEET: 4,
} as const;

/** xfrm_usersa_info.flags. */
export const XFRM_STATE = {
  XFRM_STATE_NOECN: 1,
  XFRM_STATE_DECAP_DSCP: 2,
  XFRM_STATE_NOPMTUDISC: 4,
  XFRM_STATE_WILDRECV: 8,
  XFRM_STATE_ICMP: 16,
  XFRM_STATE_AF_UNSPEC: 32,
  XFRM_STATE_ALIGN4: 64,
  XFRM_STATE_ESN: 128,
} as const;

/** XFRMA_SA_EXTRA_FLAGS bits. */
export const XFRM_SA_XFLAG = { XFRM_SA_XFLAG_DONT_ENCAP_DSCP: 1, XFRM_SA_XFLAG_OSEQ_MAY_WRAP: 2 } as const;

export const XFRM_POLICY_DIR = { XFRM_POLICY_IN: 0, XFRM_POLICY_OUT: 1, XFRM_POLICY_FWD: 2 } as const;
export const XFRM_POLICY_ACTION = { XFRM_POLICY_ALLOW: 0, XFRM_POLICY_BLOCK: 1 } as const;
export const XFRM_POLICY_FLAG = { XFRM_POLICY_LOCALOK: 1, XFRM_POLICY_ICMP: 2 } as const;
export const XFRM_POLICY_TYPE = { XFRM_POLICY_TYPE_MAIN: 0, XFRM_POLICY_TYPE_SUB: 1, XFRM_POLICY_TYPE_ANY: 255 } as const;
export const XFRM_SHARE = { XFRM_SHARE_ANY: 0, XFRM_SHARE_SESSION: 1, XFRM_SHARE_USER: 2, XFRM_SHARE_UNIQUE: 3 } as const;
export const XFRM_AE = {
  XFRM_AE_UNSPEC: 0,
  XFRM_AE_RTHR: 1,
  XFRM_AE_RVAL: 2,
  XFRM_AE_LVAL: 4,
  XFRM_AE_ETHR: 8,
  XFRM_AE_CR: 16,
  XFRM_AE_CE: 32,
  XFRM_AE_CU: 64,
} as const;
export const XFRM_OFFLOAD = { XFRM_OFFLOAD_IPV6: 1, XFRM_OFFLOAD_INBOUND: 2, XFRM_OFFLOAD_PACKET: 4 } as const;

/** xfrm_encap_tmpl.encap_type (linux/udp.h UDP_ENCAP_*; RFC 3948 ESP-in-UDP is ESPINUDP). */
export const UDP_ENCAP = {
  UDP_ENCAP_ESPINUDP_NON_IKE: 1,
  UDP_ENCAP_ESPINUDP: 2,
  UDP_ENCAP_L2TPINUDP: 3,
  UDP_ENCAP_GTP0: 4,
  UDP_ENCAP_GTP1U: 5,
  UDP_ENCAP_RXRPC: 6,
  TCP_ENCAP_ESPINTCP: 7,
} as const;

/** "No limit" in xfrm_lifetime_cfg. */
export const XFRM_INF = 0xffff_ffff_ffff_ffffn;
/** Largest replay window the kernel accepts in XFRMA_REPLAY_ESN_VAL (packets). */
export const XFRMA_REPLAY_ESN_MAX = 4096;

/** typedef union { __be32 a4; __be32 a6[4]; struct in6_addr in6; } xfrm_address_t; */
export const xfrm_address_t = bytes(16, 4);

export const xfrm_id = struct('xfrm_id', { daddr: xfrm_address_t, spi: be32, proto: u8 });

export const xfrm_selector = struct('xfrm_selector', {
  daddr: xfrm_address_t,
  saddr: xfrm_address_t,
  dport: be16,
  dport_mask: be16,
  sport: be16,
  sport_mask: be16,
  family: u16,
  prefixlen_d: u8,
  prefixlen_s: u8,
  proto: u8,
  ifindex: s32,
  user: u32,
});

export const xfrm_lifetime_cfg = struct('xfrm_lifetime_cfg', {
  soft_byte_limit: u64,
  hard_byte_limit: u64,
  soft_packet_limit: u64,
  hard_packet_limit: u64,
  soft_add_expires_seconds: u64,
  hard_add_expires_seconds: u64,
  soft_use_expires_seconds: u64,
  hard_use_expires_seconds: u64,
});

export const xfrm_lifetime_cur = struct('xfrm_lifetime_cur', { bytes: u64, packets: u64, add_time: u64, use_time: u64 });

export const xfrm_replay_state = struct('xfrm_replay_state', { oseq: u32, seq: u32, bitmap: u32 });

export const xfrm_replay_state_esn = struct('xfrm_replay_state_esn', {
  bmp_len: u32,
  oseq: u32,
  seq: u32,
  oseq_hi: u32,
  seq_hi: u32,
  replay_window: u32,
  bmp: flex(),
});

export const xfrm_algo = struct('xfrm_algo', { alg_name: chars(64), alg_key_len: u32, alg_key: flex() });
export const xfrm_algo_auth = struct('xfrm_algo_auth', { alg_name: chars(64), alg_key_len: u32, alg_trunc_len: u32, alg_key: flex() });
export const xfrm_algo_aead = struct('xfrm_algo_aead', { alg_name: chars(64), alg_key_len: u32, alg_icv_len: u32, alg_key: flex() });

export const xfrm_stats = struct('xfrm_stats', { replay_window: u32, replay: u32, integrity_failed: u32 });

export const xfrm_user_sec_ctx = struct('xfrm_user_sec_ctx', {
  len: u16,
  exttype: u16,
  ctx_alg: u8,
  ctx_doi: u8,
  ctx_len: u16,
  ctx_str: flex(),
});

export const xfrm_user_tmpl = struct('xfrm_user_tmpl', {
  id: xfrm_id,
  family: u16,
  saddr: xfrm_address_t,
  reqid: u32,
  mode: u8,
  share: u8,
  optional: u8,
  aalgos: u32,
  ealgos: u32,
  calgos: u32,
});

export const xfrm_encap_tmpl = struct('xfrm_encap_tmpl', {
  encap_type: u16,
  encap_sport: be16,
  encap_dport: be16,
  encap_oa: xfrm_address_t,
});

export const xfrm_userpolicy_type = struct('xfrm_userpolicy_type', { type: u8, reserved1: u16, reserved2: u8 });

export const xfrm_usersa_info = struct('xfrm_usersa_info', {
  sel: xfrm_selector,
  id: xfrm_id,
  saddr: xfrm_address_t,
  lft: xfrm_lifetime_cfg,
  curlft: xfrm_lifetime_cur,
  stats: xfrm_stats,
  seq: u32,
  reqid: u32,
  family: u16,
  mode: u8,
  replay_window: u8,
  flags: u8,
});

export const xfrm_usersa_id = struct('xfrm_usersa_id', { daddr: xfrm_address_t, spi: be32, family: u16, proto: u8 });

export const xfrm_aevent_id = struct('xfrm_aevent_id', { sa_id: xfrm_usersa_id, saddr: xfrm_address_t, flags: u32, reqid: u32 });

export const xfrm_userspi_info = struct('xfrm_userspi_info', { info: xfrm_usersa_info, min: u32, max: u32 });

export const xfrm_userpolicy_info = struct('xfrm_userpolicy_info', {
  sel: xfrm_selector,
  lft: xfrm_lifetime_cfg,
  curlft: xfrm_lifetime_cur,
  priority: u32,
  index: u32,
  dir: u8,
  action: u8,
  flags: u8,
  share: u8,
});

export const xfrm_userpolicy_id = struct('xfrm_userpolicy_id', { sel: xfrm_selector, index: u32, dir: u8 });

export const xfrm_user_acquire = struct('xfrm_user_acquire', {
  id: xfrm_id,
  saddr: xfrm_address_t,
  sel: xfrm_selector,
  policy: xfrm_userpolicy_info,
  aalgos: u32,
  ealgos: u32,
  calgos: u32,
  seq: u32,
});

export const xfrm_user_expire = struct('xfrm_user_expire', { state: xfrm_usersa_info, hard: u8 });
export const xfrm_user_polexpire = struct('xfrm_user_polexpire', { pol: xfrm_userpolicy_info, hard: u8 });
export const xfrm_usersa_flush = struct('xfrm_usersa_flush', { proto: u8 });
export const xfrm_user_report = struct('xfrm_user_report', { proto: u8, sel: xfrm_selector });
export const xfrm_mark = struct('xfrm_mark', { v: u32, m: u32 });
export const xfrm_user_offload = struct('xfrm_user_offload', { ifindex: s32, flags: u8 });

export const xfrm_address_filter = struct('xfrm_address_filter', {
  saddr: xfrm_address_t,
  daddr: xfrm_address_t,
  family: u16,
  splen: u8,
  dplen: u8,
});

export const xfrm_user_kmaddress = struct('xfrm_user_kmaddress', {
  local: xfrm_address_t,
  remote: xfrm_address_t,
  reserved: u32,
  family: u16,
});

export const xfrm_user_migrate = struct('xfrm_user_migrate', {
  old_daddr: xfrm_address_t,
  old_saddr: xfrm_address_t,
  new_daddr: xfrm_address_t,
  new_saddr: xfrm_address_t,
  proto: u8,
  mode: u8,
  reserved: u16,
  reqid: u32,
  old_family: u16,
  new_family: u16,
});

export const xfrm_user_mapping = struct('xfrm_user_mapping', {
  id: xfrm_usersa_id,
  reqid: u32,
  old_saddr: xfrm_address_t,
  new_saddr: xfrm_address_t,
  old_sport: be16,
  new_sport: be16,
});

/** enum xfrm_attr_type_t. Numbers after XFRMA_MTIMER_THRESH are from newer kernels (6.10+). */
export const XFRMA = attrs('XFRMA', {
  XFRMA_ALG_AUTH: attr(1, nlStruct(xfrm_algo)),
  XFRMA_ALG_CRYPT: attr(2, nlStruct(xfrm_algo)),
  XFRMA_ALG_COMP: attr(3, nlStruct(xfrm_algo)),
  XFRMA_ENCAP: attr(4, nlStruct(xfrm_encap_tmpl)),
  XFRMA_TMPL: attr(5, nlArray(xfrm_user_tmpl)),
  XFRMA_SA: attr(6, nlStruct(xfrm_usersa_info)),
  XFRMA_POLICY: attr(7, nlStruct(xfrm_userpolicy_info)),
  XFRMA_SEC_CTX: attr(8, nlStruct(xfrm_user_sec_ctx)),
  XFRMA_LTIME_VAL: attr(9, nlStruct(xfrm_lifetime_cur)),
  XFRMA_REPLAY_VAL: attr(10, nlStruct(xfrm_replay_state)),
  XFRMA_REPLAY_THRESH: attr(11, nlU32),
  XFRMA_ETIMER_THRESH: attr(12, nlU32),
  XFRMA_SRCADDR: attr(13, nlBinary),
  XFRMA_COADDR: attr(14, nlBinary),
  XFRMA_LASTUSED: attr(15, nlU64),
  XFRMA_POLICY_TYPE: attr(16, nlStruct(xfrm_userpolicy_type)),
  XFRMA_MIGRATE: attr(17, nlArray(xfrm_user_migrate)),
  XFRMA_ALG_AEAD: attr(18, nlStruct(xfrm_algo_aead)),
  XFRMA_KMADDRESS: attr(19, nlStruct(xfrm_user_kmaddress)),
  XFRMA_ALG_AUTH_TRUNC: attr(20, nlStruct(xfrm_algo_auth)),
  XFRMA_MARK: attr(21, nlStruct(xfrm_mark)),
  XFRMA_TFCPAD: attr(22, nlU32),
  XFRMA_REPLAY_ESN_VAL: attr(23, nlStruct(xfrm_replay_state_esn)),
  XFRMA_SA_EXTRA_FLAGS: attr(24, nlU32),
  XFRMA_PROTO: attr(25, nlU8),
  XFRMA_ADDRESS_FILTER: attr(26, nlStruct(xfrm_address_filter)),
  XFRMA_PAD: attr(27, nlBinary),
  XFRMA_OFFLOAD_DEV: attr(28, nlStruct(xfrm_user_offload)),
  XFRMA_SET_MARK: attr(29, nlU32),
  XFRMA_SET_MARK_MASK: attr(30, nlU32),
  XFRMA_IF_ID: attr(31, nlU32),
  XFRMA_MTIMER_THRESH: attr(32, nlU32),
  XFRMA_SA_DIR: attr(33, nlU8),
  XFRMA_NAT_KEEPALIVE_INTERVAL: attr(34, nlU32),
  XFRMA_SA_PCPU: attr(35, nlU32),
});

/** XFRMA_SA_DIR values (kernel 6.10+). */
export const XFRM_SA_DIR = { XFRM_SA_DIR_IN: 1, XFRM_SA_DIR_OUT: 2 } as const;

/** The fixed header each message type carries before its attributes (for decoding and logs). */
export const XFRM_MSG_HEADER = {
  [XFRM_MSG.XFRM_MSG_NEWSA]: xfrm_usersa_info,
  [XFRM_MSG.XFRM_MSG_UPDSA]: xfrm_usersa_info,
  [XFRM_MSG.XFRM_MSG_DELSA]: xfrm_usersa_id,
  [XFRM_MSG.XFRM_MSG_GETSA]: xfrm_usersa_id,
  [XFRM_MSG.XFRM_MSG_NEWPOLICY]: xfrm_userpolicy_info,
  [XFRM_MSG.XFRM_MSG_UPDPOLICY]: xfrm_userpolicy_info,
  [XFRM_MSG.XFRM_MSG_DELPOLICY]: xfrm_userpolicy_id,
  [XFRM_MSG.XFRM_MSG_GETPOLICY]: xfrm_userpolicy_id,
  [XFRM_MSG.XFRM_MSG_ALLOCSPI]: xfrm_userspi_info,
  [XFRM_MSG.XFRM_MSG_ACQUIRE]: xfrm_user_acquire,
  [XFRM_MSG.XFRM_MSG_EXPIRE]: xfrm_user_expire,
  [XFRM_MSG.XFRM_MSG_POLEXPIRE]: xfrm_user_polexpire,
  [XFRM_MSG.XFRM_MSG_FLUSHSA]: xfrm_usersa_flush,
  [XFRM_MSG.XFRM_MSG_NEWAE]: xfrm_aevent_id,
  [XFRM_MSG.XFRM_MSG_GETAE]: xfrm_aevent_id,
  [XFRM_MSG.XFRM_MSG_REPORT]: xfrm_user_report,
  [XFRM_MSG.XFRM_MSG_MAPPING]: xfrm_user_mapping,
} as const;

/**
 * The kernel, as the IKE and VRRP code see it: two small interfaces at the OS boundary.
 *
 *   KernelIpsec  IPsec SAs and policies (SPI allocation, add/update/delete SA, counters,
 *                policies, expiry events). Implementations: xfrm/ (netlink, kernels with ESP),
 *                userspace/ (the native ESP engine over TUN), stub/ (in-memory, for tests).
 *   KernelNet    addresses and routes (the cluster VIP, route injection for base stations'
 *                subnets). Implementations: netlink (rtnetlink), stub/.
 *
 * IKE and VRRP code import only this file, never src/netlink or the addon (STYLE.md habit 4).
 * The vocabulary here is the kernel's, not IKE's: algorithms by name, addresses as strings,
 * traffic selectors as address/port ranges.
 */

export type IpFamily = 4 | 6;

/** An address range with protocol and port range, as IKE traffic selectors carry them. */
export interface TrafficSelector {
  family: IpFamily;
  /** IP protocol number, 0 = any. */
  protocol: number;
  startAddr: string;
  endAddr: string;
  /** Port range, 0..65535 = any. For ICMP, RFC 7296 §3.13.1 puts type/code here. */
  startPort: number;
  endPort: number;
}

/** ESP encryption algorithms the data planes implement (RFC 4106 GCM, RFC 3602 CBC). */
export type EspEncryption = 'aes-gcm-16' | 'aes-cbc';
/** ESP integrity algorithms (RFC 4868 truncations); none with AEAD. */
export type EspIntegrity = 'hmac-sha2-256-128' | 'hmac-sha2-384-192' | 'hmac-sha2-512-256';

export type IpsecMode = 'tunnel' | 'transport';
export type SaDirection = 'in' | 'out';

export interface SaLifetime {
  /** 0 = unlimited. Soft limits raise a `soft` expiry (rekey), hard ones delete the SA. */
  softBytes: bigint;
  hardBytes: bigint;
  softPackets: bigint;
  hardPackets: bigint;
}

/** Identifies one SA: the kernel keys SAs by (destination, SPI, protocol). */
export interface SaRef {
  /** Outer destination address. */
  dst: string;
  spi: number;
  protocol: 'esp';
}

export interface SaParams extends SaRef {
  direction: SaDirection;
  /** Outer source address (the tunnel endpoint). */
  src: string;
  mode: IpsecMode;
  /** Links the SA to its policies (XFRM reqid); unique per child SA pair. */
  reqid: number;
  /** RFC 3948 UDP encapsulation: present when NAT was detected or the peer insists on 4500. */
  encap?: { sport: number; dport: number };
  encryption: EspEncryption;
  /** For AES-GCM: key || 4-byte salt (RFC 4106 §8.1); for AES-CBC: the key. */
  encryptionKey: Buffer;
  integrity?: EspIntegrity;
  integrityKey?: Buffer;
  esn: boolean;
  /** Anti-replay window in packets (inbound SAs); 0 disables replay protection. */
  replayWindow: number;
  lifetime: SaLifetime;
  /** Inner selectors this SA carries (the child SA's traffic selectors, local first). */
  localTs: TrafficSelector[];
  remoteTs: TrafficSelector[];
  mark?: { value: number; mask: number };
}

export interface SaCounters {
  packets: bigint;
  bytes: bigint;
  replayDrops: bigint;
  integrityFailures: bigint;
  /**
   * Inbound packets of this SA dropped for any other reason (malformed, bad padding or next
   * header, inner packet outside the selectors, SA expired); absent where the backend cannot tell.
   */
  otherDrops?: bigint;
  /** Milliseconds since epoch of the last packet, 0 if none. */
  lastUsedMs: number;
}

/**
 * Packets the data plane dropped, engine-wide, by reason, since it started: inbound (ESP
 * received: 'replay', 'integrity', 'no-sa', 'malformed', ...) and outbound (to be protected:
 * 'no-policy', 'sa-dead', ...). Reason names are the backend's own; counts are numbers.
 */
export interface IpsecDropStats {
  in: Record<string, number>;
  out: Record<string, number>;
}

/**
 * What the data plane holds right now: SAs (each direction counts one) and policies. A gateway
 * whose IKE tables are empty must hold none: anything more is leaked state.
 */
export interface IpsecInstalled {
  sas: number;
  policies: number;
}

/**
 * What `KernelIpsec.stats` answers: drops by reason (and, where the backend can tell, what it
 * holds), or why this backend cannot count them.
 */
export type IpsecStats = { available: true; drops: IpsecDropStats; installed?: IpsecInstalled } | { available: false; reason: string };

export type PolicyDirection = 'in' | 'out' | 'fwd';

export interface PolicyParams {
  direction: PolicyDirection;
  /** Inner selector: source and destination of the protected traffic. */
  src: TrafficSelector;
  dst: TrafficSelector;
  /** The SA template: outer endpoints and reqid of the SA(s) to use. */
  tmplSrc: string;
  tmplDst: string;
  reqid: number;
  mode: IpsecMode;
  priority: number;
  mark?: { value: number; mask: number };
}

export type ExpireKind = 'soft' | 'hard';

/** What a KernelIpsec backend reports back to the IKE daemon. */
export interface KernelIpsecEvents {
  /** A lifetime or sequence-number limit was reached (RFC 4303 §3.3.3): rekey or delete. */
  onExpire(sa: SaRef, kind: ExpireKind, reason: 'bytes' | 'packets' | 'sequence'): void;
  /**
   * An inbound ESP-in-UDP packet that passed the ICV and the replay check came from another
   * address or port than the SA's peer: the peer's NAT mapping changed (RFC 7296 §2.23, XFRM's
   * XFRM_MSG_MAPPING). Reported once per new source.
   */
  onMapping?(sa: SaRef, remote: { address: string; port: number }): void;
}

export interface KernelIpsec {
  readonly name: 'xfrm' | 'userspace' | 'stub';
  setEventHandler(handler: KernelIpsecEvents): void;
  /** Reserve an inbound SPI (unique for dst/protocol) before the SA exists. */
  allocateSpi(src: string, dst: string, protocol: 'esp'): Promise<number>;
  addSa(sa: SaParams): Promise<void>;
  /** Update an SA whose SPI was allocated (XFRM UPDSA) or change endpoints/encapsulation. */
  updateSa(sa: SaParams): Promise<void>;
  deleteSa(ref: SaRef): Promise<void>;
  /**
   * Moves an installed SA to new UDP encapsulation ports, keeping its keys, sequence numbers
   * and replay window: the peer's NAT mapping changed (RFC 7296 §2.23). Optional: where a
   * backend lacks it, the IKE code rekeys the child SA instead (new SAs on the new ports).
   */
  updateSaEncap?(ref: SaRef, encap: { sport: number; dport: number }): Promise<void>;
  querySa(ref: SaRef): Promise<SaCounters>;
  /**
   * Data-plane drop counters by reason (per SA: querySa). Optional: a backend without it is
   * shown as unable to count.
   */
  stats?(): Promise<IpsecStats>;
  addPolicy(policy: PolicyParams): Promise<void>;
  /**
   * Replaces an installed policy (same direction, selectors and mark) in one step, with new
   * template addresses (the peer's address changed, RFC 7296 §2.23) or a new reqid (a child of a
   * newer IKE SA of the same peer takes the policy over). Optional: without it, the IKE code
   * removes and adds the policy for a takeover, and does nothing when the peer moves.
   */
  updatePolicy?(policy: PolicyParams): Promise<void>;
  deletePolicy(policy: PolicyParams): Promise<void>;
  close(): Promise<void>;
}

export interface RouteParams {
  /** Destination prefix, "192.0.2.0/25" or "2001:db8::/64". */
  dst: string;
  via?: string;
  dev?: string;
  /** Preferred source address for traffic on this route. */
  src?: string;
  /** Routing table id (default main, 254). */
  table?: number;
  metric?: number;
  /** Route protocol number (rtm_protocol): segw's own is ROUTE_PROTO_SEGW. */
  protocol?: number;
}

export interface AddressParams {
  /** "203.0.113.10/24" */
  address: string;
  dev: string;
  /** Default 'global'. */
  scope?: 'global' | 'link' | 'host';
  /** IFA_F_NODAD for IPv6 VIPs; IFA_F_NOPREFIXROUTE to add no subnet route. */
  noDad?: boolean;
  noPrefixRoute?: boolean;
}

/**
 * A macvlan: a second MAC on a parent Ethernet link (the VRRP virtual MAC, RFC 9568 §7.3).
 * Mode 'bridge' delivers frames between macvlans of one parent locally; 'private' never does.
 */
export interface MacvlanParams {
  /** The new link's name (at most 15 characters). */
  name: string;
  parent: string;
  /** "00:00:5e:00:01:33" */
  address: string;
  mode: 'private' | 'vepa' | 'bridge';
}

export interface LinkDescription {
  index: number;
  /** "macvlan", "veth", ...; absent for a physical NIC. */
  kind?: string;
  /** IFLA_LINK: the parent's index (macvlan, vlan). */
  parentIndex?: number;
  /** "00:00:5e:00:01:33" */
  address?: string;
}

export interface KernelNet {
  readonly name: 'netlink' | 'stub';
  addAddress(addr: AddressParams): Promise<void>;
  deleteAddress(addr: AddressParams): Promise<void>;
  addRoute(route: RouteParams): Promise<void>;
  deleteRoute(route: RouteParams): Promise<void>;
  /** Routes of one protocol (for reconciliation of routes left by an earlier run). */
  listRoutes(filter: { protocol?: number; table?: number; family?: IpFamily }): Promise<RouteParams[]>;
  /** Creates a macvlan, left down. Optional: the VRRP virtual MAC needs it. EEXIST if the name is taken. */
  addMacvlan?(m: MacvlanParams): Promise<void>;
  /** A link by name (its kind from IFLA_INFO_KIND, its parent's index), or undefined if none. */
  describeLink?(name: string): Promise<LinkDescription | undefined>;
  /** Deletes a link by name; resolves false when there was none (ENODEV). */
  deleteLink?(name: string): Promise<boolean>;
  /** Sets a link up or down. */
  setLinkUp?(name: string, up: boolean): Promise<void>;
  /**
   * Writes net.ipv4.conf.<dev>.<key> (arp_ignore, arp_announce, rp_filter, ...) in this
   * namespace and returns the value it replaces.
   */
  setIpv4Conf?(dev: string, key: string, value: number): Promise<number>;
  close(): Promise<void>;
}

/**
 * segw's route protocol number (rtm_protocol). 200 is outside the numbers iproute2 and routing
 * daemons assign (BIRD uses 12, FRR 186-196 range, zebra 11); scripts/install-test-deps.sh and
 * `segw` itself write /etc/iproute2/rt_protos.d/segw.conf so `ip route show proto segw` works.
 */
export const ROUTE_PROTO_SEGW = 200;

/**
 * RFC 9568 §6.1 Accept_Mode False: a master that does not own the virtual addresses accepts no
 * packet addressed to them, except ARP and IPv6 Neighbor Discovery (§6.4.3). Installed while such
 * a master holds the VIPs. Implementation: nft/ (a table of segw's own per instance); tests: a double.
 */
export interface VipAcceptFilter {
  /** Drops packets addressed to `addresses` (all of one family), under `name`; replaces a previous set. */
  block(name: string, addresses: string[]): Promise<void>;
  /** Removes the set `name`; resolves false when there was none. */
  unblock(name: string): Promise<boolean>;
}

/** A VRRP message as received, with the IP fields RFC 9568 §7.1 checks. */
export interface VrrpPacket {
  family: IpFamily;
  src: string;
  dst: string;
  /** IPv4 TTL / IPv6 Hop Limit as received. */
  ttl: number;
  /** The VRRP message (after the IP header). */
  data: Buffer;
}

/**
 * The link one VRRP instance runs on (RFC 9568 §5.1): VRRP messages (IP protocol 112) out with
 * TTL / hop limit 255 and in from the interface, and the announcements of a new master
 * (gratuitous ARP for IPv4, unsolicited Neighbor Advertisements for IPv6, RFC 9568 §6.4.1).
 * Implementations: raw/ (the addon's raw sockets), and in-memory doubles in tests.
 */
export interface VrrpLink {
  readonly family: IpFamily;
  readonly interface: string;
  /** Where adverts come from: the IPv4 primary (or configured) address, the IPv6 link-local one. */
  readonly localAddress: string;
  /** The interface's MAC ("02:00:5e:..."), what the announcements carry. */
  readonly hardwareAddress: string;
  send(data: Buffer, dst: string): void;
  setReceiver(receiver: (p: VrrpPacket) => void): void;
  /** One gratuitous ARP / unsolicited NA per address (bare addresses, no prefix length). */
  announce(addresses: string[]): void;
  /**
   * From now on send adverts and announcements out of `via` (the virtual MAC's macvlan: frames
   * leave with its MAC as source, announcements carry it), from the same source address;
   * undefined: back to the link's own interface. Receiving stays on the link's interface.
   * Optional: needed only for virtualMac.
   */
  transmitVia?(via: { interface: string; hardwareAddress: string } | undefined): Promise<void>;
  close(): Promise<void>;
}

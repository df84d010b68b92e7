/**
 * The virtual router MAC (RFC 9568 §7.3: 00-00-5E-00-01-{VRID} for IPv4) on a macvlan link of
 * the instance's interface, as keepalived's `use_vmac` does it: the VIPs live on the macvlan, so
 * ARP for them is answered with the virtual MAC and a failover moves no ARP entry anywhere (the
 * new master answers from the same MAC; its gratuitous ARP only teaches the switches the port).
 *
 * Lifecycle (the instance drives it, in its promise queue):
 *   prepare()  at start: a link of that name left by a killed run is deleted, a fresh one made
 *              (down), and the ARP / reverse-path settings below written.
 *   up()       becoming master, before the VIPs are added;
 *   down()     leaving master, after they are removed;
 *   remove()   at stop: the link goes, the parent's settings are put back (those read at a
 *              clean start; after a killed run the values found are its, so they stay).
 *
 * Choices, and why:
 * - Down, not merely empty, on a backup: a down macvlan is out of the parent's unicast filter
 *   and out of the macvlan driver's address hash, and sends nothing (no IPv6 link-local DAD,
 *   MLD or IGMP from the virtual MAC), so a switch never learns the virtual MAC on a backup's port
 *   and black-holes the master's traffic. Coming up costs one RTM_NEWLINK on the way to master.
 * - Mode bridge, not private: other macvlans of the same NIC (containers, namespaces attached
 *   that way) can then reach the VIPs; in private mode frames between macvlans of one parent are
 *   never delivered locally and a switch does not hairpin them back. VRRP itself works in either
 *   mode: the parent keeps receiving every advert, even one sent from the virtual MAC by a node
 *   preempting this one while this one's macvlan is up (test/interop/vrrp-vmac.test.ts passes in
 *   both modes on Linux 6.x).
 * - ARP (net.ipv4.conf.*): on the parent arp_ignore=1 (answer only for addresses on the interface
 *   the request came in on: not for the VIPs, which the macvlan answers with the virtual MAC) and
 *   arp_announce=2 (the parent's own requests carry its own address, never a VIP: a VIP as sender
 *   address with the real MAC would rewrite every client's entry for the VIP); on the macvlan
 *   arp_ignore=1 (answer for the VIPs only, never the parent's address with the virtual MAC) and
 *   arp_filter=0 (replies are routed out of the parent, which arp_filter=1 would take as a reason
 *   not to answer). The kernel takes the maximum of `all` and the interface for arp_ignore and
 *   arp_announce, so a host-wide higher value still holds.
 * - rp_filter=2 (loose) on the macvlan: clients' packets arrive on it while the route back to them
 *   is on the parent; strict mode (1) would drop them. The effective value is max(all, dev), so
 *   2 also overrides a host-wide strict setting.
 */
import type { KernelNet } from '../kernel/types.js';
import type { Logger } from '../log/index.js';
import { SegwError } from '../errors.js';
import { virtualMac } from './constants.js';

/** Creating or driving the virtual MAC link failed; the message says what to check. */
export class VirtualMacError extends SegwError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SEGW_VRRP_VMAC', message, options);
  }
}

const PARENT_CONF: [string, number][] = [
  ['arp_ignore', 1],
  ['arp_announce', 2],
];
const VMAC_CONF: [string, number][] = [
  ['arp_ignore', 1],
  ['arp_filter', 0],
  ['rp_filter', 2],
];

/** The macvlan's name: keepalived's `vrrp.<VRID>` (IPv4; an IPv6 instance would take vrrp6.<VRID>). */
export function virtualMacLinkName(vrid: number, family: 4 | 6): string {
  return family === 4 ? `vrrp.${vrid}` : `vrrp6.${vrid}`;
}

export class VirtualMacLink {
  readonly name: string;
  readonly address: string;
  private readonly saved = new Map<string, number>();

  constructor(
    private readonly net: KernelNet,
    readonly parent: string,
    vrid: number,
    family: 4 | 6,
    private readonly log: Logger,
  ) {
    this.name = virtualMacLinkName(vrid, family);
    this.address = virtualMac(vrid, family);
  }

  private methods() {
    const n = this.net;
    if (!n.addMacvlan || !n.describeLink || !n.deleteLink || !n.setLinkUp || !n.setIpv4Conf) {
      throw new VirtualMacError(`the ${n.name} kernel backend cannot make links: virtualMac needs the netlink one`);
    }
    return { addMacvlan: n.addMacvlan.bind(n), describeLink: n.describeLink.bind(n), deleteLink: n.deleteLink.bind(n), setLinkUp: n.setLinkUp.bind(n), setIpv4Conf: n.setIpv4Conf.bind(n) };
  }

  /** Throws unless a link of our name is absent or a macvlan on our parent (a killed run's). */
  private async checkStale(k: ReturnType<VirtualMacLink['methods']>): Promise<void> {
    const found = await k.describeLink(this.name);
    if (!found) return;
    const parent = await k.describeLink(this.parent);
    if (found.kind !== 'macvlan' || parent === undefined || found.parentIndex !== parent.index) {
      throw new VirtualMacError(
        `a link named ${this.name} exists and is not a macvlan on ${this.parent} (kind ${found.kind ?? 'none'}): segw will not delete it; rename or remove it, or set virtualMac: false`,
      );
    }
  }

  async prepare(): Promise<void> {
    const k = this.methods();
    await this.checkStale(k);
    try {
      // A stale link means a killed run: the parent's values now are its, the originals unknown.
      const stale = await k.deleteLink(this.name);
      if (stale) this.log.warn({ link: this.name }, `removed a virtual MAC link left by an earlier run (${this.parent}'s ARP settings stay as it set them)`);
      await k.addMacvlan({ name: this.name, parent: this.parent, address: this.address, mode: 'bridge' });
      for (const [key, value] of PARENT_CONF) {
        const before = await k.setIpv4Conf(this.parent, key, value);
        if (!stale && !this.saved.has(key)) this.saved.set(key, before);
      }
      for (const [key, value] of VMAC_CONF) await k.setIpv4Conf(this.name, key, value);
    } catch (err) {
      throw new VirtualMacError(
        `cannot create the virtual MAC link ${this.name} (macvlan on ${this.parent}, ${this.address}): ${String(err)}` +
          ' (needs CAP_NET_ADMIN and the macvlan module; or set virtualMac: false)',
        { cause: err },
      );
    }
    this.log.info({ link: this.name, address: this.address, parent: this.parent }, 'virtual MAC link ready (down until master)');
  }

  async up(): Promise<void> {
    await this.methods().setLinkUp(this.name, true);
  }

  async down(): Promise<void> {
    await this.methods().setLinkUp(this.name, false);
  }

  /** Deletes the link and puts the parent's ARP settings back. Never throws: it logs. */
  async remove(): Promise<void> {
    const k = this.methods();
    try {
      await k.deleteLink(this.name);
    } catch (err) {
      this.log.error({ link: this.name, err: String(err) }, 'cannot delete the virtual MAC link');
    }
    for (const [key, value] of this.saved) {
      try {
        await k.setIpv4Conf(this.parent, key, value);
      } catch (err) {
        this.log.error({ dev: this.parent, key, err: String(err) }, 'cannot restore an ARP setting of the interface');
      }
    }
    this.saved.clear();
  }
}

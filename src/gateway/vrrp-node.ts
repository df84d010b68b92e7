/**
 * A cluster member's VRRP side inside the gateway: the VRRPv3 instance (src/vrrp) on the
 * cluster's interface, the role it gives the load reports (src/cluster), and the IKE sockets on
 * the virtual addresses, which exist only on the master:
 *
 *   VrrpInstance ──'state'──► role() ──► ClusterMember's reports (master / backup / init)
 *                └─'vips'───► present: bind IKE 500 + 4500 on each VIP, hand them to the daemon
 *                             absent:  take them from the daemon and close them
 *
 * Base stations start IKE with the VIP, so the master's daemon must receive there (RFC 9568
 * Accept_Mode is on by default for this reason). When this member stops holding the VIPs (a
 * graceful stop, or a higher-priority master), the SAs made on them move first while the VIPs
 * are still held (src/cluster/vip-release.ts: redirect or delete, within a short grace), and
 * whatever is left on them is removed here once they are gone. After a kill -9 nothing can be
 * done here: the peers find the new master through DPD (src/initiator/keeper.ts).
 */
import type { Logger } from '../log/index.js';
import type { KernelNet, VrrpLink } from '../kernel/types.js';
import { NetlinkKernelNet } from '../kernel/net/netlink-net.js';
import { openVrrpLink } from '../kernel/raw/vrrp-link.js';
import type { Endpoint, IkeDatagramSocket } from '../net/endpoint.js';
import type { RoleSource } from '../cluster/load.js';
import type { MemberRoleName } from '../cluster/report.js';
import { VRRP_GROUP_V4, VRRP_GROUP_V6, type VrrpState } from '../vrrp/constants.js';
import { VrrpInstance, type VipReleaseReason, type VrrpStatus } from '../vrrp/instance.js';
import type { VipLossCause, VipReleaser } from '../cluster/vip-release.js';
import { validateVrrpOptions, type VrrpOptions } from '../vrrp/options.js';

/** What the gateway gives the VRRP side: where IKE listens and how to serve an address. */
export interface VrrpNodeDeps {
  /** The data plane's KernelNet; a stub (IKE-only gateways) is replaced by netlink: VIPs are real. */
  net: KernelNet;
  /** Binds IKE's sockets (500 and 4500) on one address. */
  bind(address: string): Promise<IkeDatagramSocket[]>;
  /** Hands a socket to the IKE daemon, and takes one back. */
  serve(s: IkeDatagramSocket): void;
  unserve(local: Endpoint): Promise<void>;
  /** Moves the peers served on the VIPs before they go, and removes what is left after. */
  releaser?: VipReleaser;
  log: Logger;
}

const CAUSE: Record<VipReleaseReason, VipLossCause> = { shutdown: 'stop', superseded: 'lost' };
/** The instance waits for the releaser a little beyond its own grace (its last answers). */
const RELEASE_HOOK_MARGIN_MS = 250;

const ROLE: Record<VrrpState, MemberRoleName> = { Initialize: 'init', Backup: 'backup', Master: 'master' };

/** Opens the instance's raw link: the VRRP group in multicast mode, none with unicast peers. */
export async function openInstanceLink(o: VrrpOptions): Promise<VrrpLink> {
  const family = validateVrrpOptions(o);
  const unicast = (o.unicastPeers?.length ?? 0) > 0;
  return openVrrpLink({
    interface: o.interface,
    family,
    group: unicast ? undefined : family === 4 ? VRRP_GROUP_V4 : VRRP_GROUP_V6,
    source: o.unicastSource,
  });
}

export class VrrpNode implements RoleSource {
  private served: IkeDatagramSocket[] = [];
  /** VIP socket changes in order: a bind never overtakes the close before it. */
  private queue: Promise<void> = Promise.resolve();
  private stopped = false;
  /** Why the VIPs went last (for the count of SAs removed after). */
  private cause: VipLossCause = 'lost';

  private constructor(
    readonly instance: VrrpInstance,
    private readonly link: VrrpLink,
    private readonly ownNet: NetlinkKernelNet | undefined,
    private readonly deps: VrrpNodeDeps,
  ) {
    instance.on('vips', (e: { present: boolean; addresses: string[] }) => {
      this.queue = this.queue.then(() => (e.present ? this.bindAll(e.addresses) : this.closeAll(e.addresses))).catch((err) => {
        deps.log.error({ err }, 'cluster: IKE sockets on the virtual addresses');
      });
    });
  }

  /** Opens the link and starts the instance (Initialize → Backup or Master, RFC 9568 §6.4.1). */
  static async start(o: VrrpOptions, deps: VrrpNodeDeps): Promise<VrrpNode> {
    const ownNet = deps.net.name === 'netlink' ? undefined : NetlinkKernelNet.open();
    const net = ownNet ?? deps.net;
    let link: VrrpLink | undefined;
    try {
      link = await openInstanceLink(o);
      const r = deps.releaser;
      let node: VrrpNode | undefined;
      const release = r && {
        graceMs: r.graceMs + RELEASE_HOOK_MARGIN_MS,
        run: (addresses: string[], reason: VipReleaseReason) => {
          if (node) node.cause = CAUSE[reason];
          return r.release(addresses.filter(servesIke), CAUSE[reason]);
        },
      };
      const instance = new VrrpInstance(o, { link, net, log: deps.log, ...(release && { release }) });
      node = new VrrpNode(instance, link, ownNet, deps);
      await instance.start();
      return node;
    } catch (err) {
      link?.close();
      await ownNet?.close();
      throw err;
    }
  }

  role(): MemberRoleName {
    return ROLE[this.instance.state];
  }

  status(): VrrpStatus & { servedOnVips: Endpoint[] } {
    return { ...this.instance.status(), servedOnVips: this.served.map((s) => s.local) };
  }

  /** Resigns (priority 0, RFC 9568 §6.4.3), removes the VIPs, closes their sockets and the link. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.instance.stop();
    await this.queue;
    await this.closeAll(this.served.map((s) => s.local.address));
    this.link.close();
    await this.ownNet?.close();
  }

  private async bindAll(addresses: string[]): Promise<void> {
    if (this.stopped) return;
    for (const a of addresses) {
      if (!servesIke(a)) continue;
      if (this.served.some((s) => s.local.address === a)) continue;
      try {
        for (const s of await this.deps.bind(a)) {
          this.deps.serve(s);
          this.served.push(s);
        }
      } catch (err) {
        this.deps.log.error({ err, vip: a }, 'cluster: cannot serve IKE on the virtual address');
      }
    }
    if (this.served.length > 0) this.deps.log.info({ listen: this.served.map((s) => s.local) }, 'cluster: serving IKE on the virtual addresses');
  }

  /** The VIPs are gone: SAs still on them are removed (nothing sent), then their sockets close. */
  private async closeAll(addresses: string[]): Promise<void> {
    await this.deps.releaser?.dropUnheld(addresses.filter(servesIke), this.cause).catch((err: unknown) => {
      this.deps.log.error({ err }, 'cluster: cannot remove the IKE SAs left on the virtual addresses');
    });
    const all = this.served;
    this.served = [];
    for (const s of all) await this.deps.unserve(s.local);
    if (all.length > 0) this.deps.log.info({ closed: all.map((s) => s.local) }, 'cluster: no longer serving IKE on the virtual addresses');
  }
}

/** The virtual link-local address (IPv6) carries adverts, not IKE. */
function servesIke(address: string): boolean {
  return !/^fe80:/i.test(address);
}

/**
 * Opens the kernel side of a gateway: the KernelIpsec backend chosen by the config (or by
 * probing this kernel for ESP), the KernelNet for addresses and routes, and, in userspace mode,
 * the engine's port-4500 sockets that IKE shares with ESP-in-UDP.
 */
import type { Logger } from '../log/index.js';
import type { GatewayConfig } from '../config/gateway.js';
import type { Endpoint, IkeDatagramSocket } from '../net/endpoint.js';
import type { KernelIpsec, KernelNet } from '../kernel/types.js';
import { StubKernelIpsec } from '../kernel/stub/ipsec.js';
import { StubKernelNet } from '../kernel/stub/net.js';
import { ConfigError } from '../errors.js';

export interface DataPlane {
  ipsec: KernelIpsec;
  net: KernelNet;
  /** Why this backend (logged at start, shown in status). */
  reason: string;
  /** Userspace mode: the TUN device traffic must be routed into. */
  tunName?: string;
  /** Userspace mode: IKE's port-4500 socket on the engine, for a local endpoint. */
  natTSocket?: (local: Endpoint) => IkeDatagramSocket;
  /**
   * Kernel mode: prepares IKE's own port-4500 socket (by fd) so that the kernel takes ESP-in-UDP
   * (RFC 3948) from it for XFRM and leaves IKE (non-ESP marker) to the socket.
   */
  prepareNatTSocket?: (fd: number) => void;
  /**
   * Kernel mode: the device injected routes take when the config names neither routes.via nor
   * routes.dev (the interface of ike.listen; rejects with ConfigError saying why there is none).
   */
  routeDevice?: () => Promise<string>;
  close(): Promise<void>;
}

export async function openDataPlane(cfg: GatewayConfig, opts: { log: Logger }): Promise<DataPlane> {
  let choice = cfg.kernel.ipsec;
  let reason = `configured: kernel.ipsec = ${choice}`;
  if (choice === 'stub') {
    const ipsec = new StubKernelIpsec({ recordOps: false, lean: true });
    const net = new StubKernelNet();
    return { ipsec, net, reason: `${reason} (IKE only: nothing reaches the kernel)`, close: async () => {} };
  }
  const { ensureRouteProtoName } = await import('../kernel/net/rt-protos.js');
  ensureRouteProtoName();
  if (choice === 'auto') {
    const { chooseDataPlane } = await import('../kernel/probe.js');
    const probe = await chooseDataPlane();
    choice = probe.backend;
    reason = probe.reason;
  }
  const { NetlinkKernelNet } = await import('../kernel/net/netlink-net.js');
  const net = NetlinkKernelNet.open();
  try {
    if (choice === 'xfrm') {
      const { XfrmKernelIpsec } = await import('../kernel/xfrm/backend.js');
      const { SEGW_REQID_BASE } = await import('../kernel/xfrm/ownership.js');
      const { enableEspInUdp } = await import('../netlink/native.js');
      const { requireListenDevice } = await import('../kernel/xfrm/route-device.js');
      // segw's reqid range marks its state; what a killed earlier run left is removed now.
      const x = cfg.kernel.xfrm;
      const offload = x.offload === 'off' ? undefined : { mode: x.offload, ifindex: x.offloadDevice ? await offloadIndex(net, x.offloadDevice) : 0 };
      if (offload) reason += `; ESP ${offload.mode} offload requested${x.offloadDevice ? ` on ${x.offloadDevice}` : ''} (software where refused)`;
      const ipsec = XfrmKernelIpsec.open({ reqidBase: SEGW_REQID_BASE, offload });
      try {
        const stale = await ipsec.removeStale();
        if (stale.sas.length + stale.policies.length > 0) {
          opts.log.info({ sas: stale.sas, policies: stale.policies }, 'removed the XFRM SAs and policies an earlier run left');
        }
      } catch (err) {
        await ipsec.close();
        throw err;
      }
      const routeDevice = async () => requireListenDevice(cfg.ike.listen, await net.listAddresses());
      return { ipsec, net, reason, prepareNatTSocket: enableEspInUdp, routeDevice, close: () => closeBoth(ipsec, net) };
    }
    const { UserspaceIpsec } = await import('../kernel/userspace/backend.js');
    const u = cfg.kernel.userspace;
    const served = [...cfg.ike.listen, ...(cfg.cluster?.vips ?? []).map((v) => v.split('/')[0]!)];
    const ipsec = UserspaceIpsec.open({
      tunName: u.tun,
      mtu: u.mtu,
      workers: u.threads,
      // ESP-in-UDP (RFC 3948) and plain ESP (IP protocol 50, peers without a NAT) on every
      // address IKE serves; a cluster's VIPs too, bound before the VRRP master adds them.
      udp: served.map((address) => ({ address, port: cfg.ike.nattPort })),
      raw: served,
    });
    return {
      ipsec,
      net,
      reason,
      tunName: ipsec.tunName,
      natTSocket: (local) => ipsec.ikeSocket(local),
      close: () => closeBoth(ipsec, net),
    };
  } catch (err) {
    await net.close();
    throw err;
  }
}

async function closeBoth(ipsec: KernelIpsec, net: KernelNet): Promise<void> {
  try {
    await ipsec.close();
  } finally {
    await net.close();
  }
}

/** The offload device's ifindex, or a ConfigError naming the key. */
async function offloadIndex(net: { linkIndex(name: string): Promise<number> }, dev: string): Promise<number> {
  try {
    return await net.linkIndex(dev);
  } catch (err) {
    throw new ConfigError(`kernel.xfrm.offloadDevice: no interface "${dev}" in segw's namespace (${(err as Error).message})`);
  }
}

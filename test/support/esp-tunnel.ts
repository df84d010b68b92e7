/**
 * A segw <-> segw tunnel between two lab namespaces with static keys (no IKE): each side runs
 * the userspace backend (its own engine, TUN device and UDP 4500 socket inside its namespace).
 * Used by test/kernel/userspace and bench/esp.
 *
 *   a (198.51.100.1, inner 192.0.2.1 on segw0) === ESP-in-UDP === b (198.51.100.2, inner 192.0.2.129)
 */
import { randomBytes } from 'node:crypto';
import type { Host, Lab } from '../../src/lab/lab.js';
import { UserspaceIpsec, type UserspaceIpsecOptions } from '../../src/kernel/userspace/backend.js';
import { parseTs } from '../../src/ike/traffic-selectors.js';
import type { PolicyParams, SaParams } from '../../src/kernel/types.js';

export interface Side {
  host: Host;
  ipsec: UserspaceIpsec;
  outer: string;
  inner: string;
  /** SA refs, this side's view. */
  out: SaParams;
  in: SaParams;
}

const V4 = { outerA: '198.51.100.1', outerB: '198.51.100.2', outerLen: '/24', innerA: '192.0.2.1', innerB: '192.0.2.129', netA: '192.0.2.0/25', netB: '192.0.2.128/25' };
const V6 = { outerA: '2001:db8:1::1', outerB: '2001:db8:1::2', outerLen: '/64', innerA: '2001:db8:a::1', innerB: '2001:db8:b::1', netA: '2001:db8:a::/64', netB: '2001:db8:b::/64' };
const noLimit = { softBytes: 0n, hardBytes: 0n, softPackets: 0n, hardPackets: 0n };

export function saParams(o: {
  direction: 'in' | 'out'; src: string; dst: string; spi: number; key: Buffer; reqid: number; localNet: string; remoteNet: string;
  raw?: boolean;
}): SaParams {
  return {
    direction: o.direction, src: o.src, dst: o.dst, spi: o.spi, protocol: 'esp', mode: 'tunnel', reqid: o.reqid,
    encap: o.raw ? undefined : { sport: 4500, dport: 4500 }, encryption: 'aes-gcm-16', encryptionKey: o.key, esn: true,
    replayWindow: o.direction === 'in' ? 1024 : 0, lifetime: noLimit,
    localTs: [parseTs(o.localNet)], remoteTs: [parseTs(o.remoteNet)],
  };
}

export function outPolicy(localNet: string, remoteNet: string, src: string, dst: string, reqid: number): PolicyParams {
  return { direction: 'out', src: parseTs(localNet), dst: parseTs(remoteNet), tmplSrc: src, tmplDst: dst, reqid, mode: 'tunnel', priority: 100 };
}

/** Builds both namespaces, links them, starts both engines and installs one SA pair each way. */
export async function segwTunnel(
  lab: Lab,
  engine: Omit<UserspaceIpsecOptions, 'netns' | 'udp' | 'raw'> = {},
  opts: { raw?: boolean; family?: 4 | 6; udpPorts?: number[] } = {},
): Promise<{ a: Side; b: Side }> {
  const v6 = opts.family === 6;
  const P = v6 ? V6 : V4;
  const ha = await lab.host('a');
  const hb = await lab.host('b');
  await lab.link(ha, hb, { a: P.outerA + P.outerLen, b: P.outerB + P.outerLen });
  const kAB = randomBytes(20), kBA = randomBytes(20);
  const mk = async (host: Host, outer: string, peer: string, inner: string, local: string, remote: string,
    spiOut: number, spiIn: number, kOut: Buffer, kIn: Buffer): Promise<Side> => {
    const sockets = opts.raw ? { raw: [outer] } : { udp: (opts.udpPorts ?? [4500]).map((port) => ({ address: outer, port })) };
    const ipsec = UserspaceIpsec.open({ ...engine, netns: host.ns, ...sockets });
    await host.exec('ip', ['addr', 'add', `${inner}/${v6 ? 128 : 32}`, 'dev', ipsec.tunName, ...(v6 ? ['nodad'] : [])]);
    await host.addRoute(remote, { dev: ipsec.tunName, src: inner });
    const raw = opts.raw;
    const out = saParams({ direction: 'out', src: outer, dst: peer, spi: spiOut, key: kOut, reqid: 1, localNet: local, remoteNet: remote, raw });
    const inn = saParams({ direction: 'in', src: peer, dst: outer, spi: spiIn, key: kIn, reqid: 1, localNet: local, remoteNet: remote, raw });
    await ipsec.addSa(inn);
    await ipsec.addSa(out);
    await ipsec.addPolicy(outPolicy(local, remote, outer, peer, 1));
    return { host, ipsec, outer, inner, out, in: inn };
  };
  const a = await mk(ha, P.outerA, P.outerB, P.innerA, P.netA, P.netB, 0xa0000001, 0xb0000001, kAB, kBA);
  const b = await mk(hb, P.outerB, P.outerA, P.innerB, P.netB, P.netA, 0xb0000001, 0xa0000001, kBA, kAB);
  if (v6) {
    // Outer IPv6 neighbours answer at once (no DAD wait on the link addresses).
    for (const h of [ha, hb]) await h.sysctl('net.ipv6.conf.all.accept_dad', 0);
  }
  return { a, b };
}

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
import { prefixSelector } from '../../src/kernel/userspace/selectors.js';
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

const NETS = { a: '192.0.2.0/25', b: '192.0.2.128/25' };
const noLimit = { softBytes: 0n, hardBytes: 0n, softPackets: 0n, hardPackets: 0n };

export function saParams(o: {
  direction: 'in' | 'out'; src: string; dst: string; spi: number; key: Buffer; reqid: number; localNet: string; remoteNet: string;
  raw?: boolean;
}): SaParams {
  return {
    direction: o.direction, src: o.src, dst: o.dst, spi: o.spi, protocol: 'esp', mode: 'tunnel', reqid: o.reqid,
    encap: o.raw ? undefined : { sport: 4500, dport: 4500 }, encryption: 'aes-gcm-16', encryptionKey: o.key, esn: true,
    replayWindow: o.direction === 'in' ? 1024 : 0, lifetime: noLimit,
    localTs: [prefixSelector(o.localNet)], remoteTs: [prefixSelector(o.remoteNet)],
  };
}

export function outPolicy(localNet: string, remoteNet: string, src: string, dst: string, reqid: number): PolicyParams {
  return { direction: 'out', src: prefixSelector(localNet), dst: prefixSelector(remoteNet), tmplSrc: src, tmplDst: dst, reqid, mode: 'tunnel', priority: 100 };
}

/** Builds both namespaces, links them, starts both engines and installs one SA pair each way. */
export async function segwTunnel(
  lab: Lab,
  engine: Omit<UserspaceIpsecOptions, 'netns' | 'udp' | 'raw'> = {},
  opts: { raw?: boolean } = {},
): Promise<{ a: Side; b: Side }> {
  const ha = await lab.host('a');
  const hb = await lab.host('b');
  await lab.link(ha, hb, { a: '198.51.100.1/24', b: '198.51.100.2/24' });
  const kAB = randomBytes(20), kBA = randomBytes(20);
  const mk = async (host: Host, outer: string, peer: string, inner: string, local: string, remote: string,
    spiOut: number, spiIn: number, kOut: Buffer, kIn: Buffer): Promise<Side> => {
    const sockets = opts.raw ? { raw: [outer] } : { udp: [{ address: outer, port: 4500 }] };
    const ipsec = UserspaceIpsec.open({ ...engine, netns: host.ns, ...sockets });
    await host.exec('ip', ['addr', 'add', `${inner}/32`, 'dev', ipsec.tunName]);
    await host.addRoute(remote, { dev: ipsec.tunName, src: inner });
    const raw = opts.raw;
    const out = saParams({ direction: 'out', src: outer, dst: peer, spi: spiOut, key: kOut, reqid: 1, localNet: local, remoteNet: remote, raw });
    const inn = saParams({ direction: 'in', src: peer, dst: outer, spi: spiIn, key: kIn, reqid: 1, localNet: local, remoteNet: remote, raw });
    await ipsec.addSa(inn);
    await ipsec.addSa(out);
    await ipsec.addPolicy(outPolicy(local, remote, outer, peer, 1));
    return { host, ipsec, outer, inner, out, in: inn };
  };
  const a = await mk(ha, '198.51.100.1', '198.51.100.2', '192.0.2.1', NETS.a, NETS.b, 0xa0000001, 0xb0000001, kAB, kBA);
  const b = await mk(hb, '198.51.100.2', '198.51.100.1', '192.0.2.129', NETS.b, NETS.a, 0xb0000001, 0xa0000001, kBA, kAB);
  return { a, b };
}

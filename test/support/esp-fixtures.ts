/**
 * Test helpers for the ESP engine: an engine with no TUN or sockets (tables and stage functions
 * only), SA parameter builders, and IPv4 packet builders.
 */
import { createEngine, type EspEngineOptions, type NativeEspEngine, type NativeSa, type OneResult } from '../../src/kernel/userspace/native.js';
import { loadAddon } from '../../src/native/addon.js';
import { parseTs } from '../../src/ike/traffic-selectors.js';
import { addrToBigInt } from '../../src/net/ip.js';

/**
 * The addon's test entry points (native/src/esp/binding_test.cc, module object `espTest`): kept
 * off the production EspEngine class; each takes the engine first.
 */
export interface EspTestHooks {
  /** Outbound: the last sequence number used. Inbound: restarts the replay window at `seq`. */
  setSeq(e: NativeEspEngine, sa: number, seq: bigint): boolean;
  seal(e: NativeEspEngine, sa: number, payload: Buffer, nextHeader: number): OneResult;
  open(e: NativeEspEngine, sa: number, packet: Buffer): OneResult;
  decapsulate(e: NativeEspEngine, packet: Buffer): OneResult;
  encapsulate(e: NativeEspEngine, ipPacket: Buffer): OneResult;
  /** The receive side's TCP coalescing over decrypted inner packets: one entry per TUN write. */
  coalesce(packets: Buffer[]): { merged: number; flags: number; gsoType: number; gsoSize: number; packet: Buffer }[];
  /** The send side's split of one TUN read (virtio-net header + packet); no packets if refused. */
  segment(read: Buffer): { headerLen: number; packets: Buffer[] };
}

export function espTest(): EspTestHooks {
  const hooks = loadAddon().espTest as EspTestHooks | undefined;
  if (!hooks) throw new Error('the native addon has no espTest entry points: run `npm run build:native`');
  return hooks;
}

/** An engine with the test entry points bound to it (one packet at a time, on this thread). */
export interface TestEngine extends NativeEspEngine {
  setSeq(sa: number, seq: bigint): boolean;
  espSeal(sa: number, payload: Buffer, nextHeader: number): OneResult;
  espOpen(sa: number, packet: Buffer): OneResult;
  decapsulate(packet: Buffer): OneResult;
  encapsulate(ipPacket: Buffer): OneResult;
}

export function bareEngine(o: EspEngineOptions = {}): TestEngine {
  const e = createEngine({ maxSas: 1024, ...o });
  const t = espTest();
  return Object.assign(e, {
    setSeq: (sa: number, seq: bigint) => t.setSeq(e, sa, seq),
    espSeal: (sa: number, payload: Buffer, nh: number) => t.seal(e, sa, payload, nh),
    espOpen: (sa: number, packet: Buffer) => t.open(e, sa, packet),
    decapsulate: (packet: Buffer) => t.decapsulate(e, packet),
    encapsulate: (ip: Buffer) => t.encapsulate(e, ip),
  });
}

export function gcmSa(over: Partial<NativeSa> & Pick<NativeSa, 'spi' | 'encryptionKey'>): NativeSa {
  return {
    direction: 'in',
    encryption: 'aes-gcm-16',
    esn: false,
    replayWindow: 1024,
    reqid: 1,
    localTs: [],
    remoteTs: [],
    path: { src: '198.51.100.1', dst: '198.51.100.2', encap: true, sport: 4500, dport: 4500 },
    ...over,
  };
}

/**
 * An SA pair of one key for loopback tests: seal with `out`, open with `in`. Selectors are the
 * sender's; the inbound SA gets them swapped, as the peer would install them.
 */
export function pair(engine: NativeEspEngine, sa: Omit<NativeSa, 'direction'>): { out: number; in: number } {
  return {
    out: engine.addSa({ ...sa, direction: 'out' }),
    in: engine.addSa({ ...sa, direction: 'in', localTs: sa.remoteTs, remoteTs: sa.localTs }),
  };
}

/** An IPv6 UDP datagram (empty payload) from src to dst. */
export function udp6(src: string, dst: string): Buffer {
  const ip = Buffer.alloc(48);
  ip[0] = 0x60;
  ip.writeUInt16BE(8, 4);
  ip[6] = 17;
  ip[7] = 64;
  const put = (a: string, off: number) => {
    let v = addrToBigInt(a);
    for (let i = 15; i >= 0; i--, v >>= 8n) ip[off + i] = Number(v & 0xffn);
  };
  put(src, 8);
  put(dst, 24);
  ip.writeUInt16BE(5000, 40);
  ip.writeUInt16BE(5001, 42);
  ip.writeUInt16BE(8, 44);
  return ip;
}

function ipv4Checksum(h: Buffer): number {
  let s = 0;
  for (let i = 0; i < h.length; i += 2) s += h.readUInt16BE(i);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** An IPv4 ICMP echo request from src to dst with `size` payload bytes. */
export function icmpEcho(src: string, dst: string, size = 56, seq = 1): Buffer {
  const icmp = Buffer.alloc(8 + size);
  icmp[0] = 8;
  icmp.writeUInt16BE(0x1234, 4);
  icmp.writeUInt16BE(seq, 6);
  for (let i = 0; i < size; i++) icmp[8 + i] = i & 0xff;
  icmp.writeUInt16BE(ipv4Checksum(icmp), 2);
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + icmp.length, 2);
  ip[8] = 64;
  ip[9] = 1;
  Buffer.from(src.split('.').map(Number)).copy(ip, 12);
  Buffer.from(dst.split('.').map(Number)).copy(ip, 16);
  ip.writeUInt16BE(ipv4Checksum(ip), 10);
  return Buffer.concat([ip, icmp]);
}

export const ts = parseTs;

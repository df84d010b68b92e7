/**
 * Writes UDP datagrams as a classic pcap file of Ethernet/IPv4/UDP frames, for feeding what
 * segw encodes to tshark. Test support only: addresses from the documentation ranges.
 */
import { writeFileSync } from 'node:fs';

export interface OutDatagram {
  src?: string;
  dst?: string;
  sport: number;
  dport: number;
  payload: Buffer;
}

const LINKTYPE_ETHERNET = 1;

function ipv4(addr: string): Buffer {
  return Buffer.from(addr.split('.').map(Number));
}

/** RFC 791 header checksum: one's complement of the one's complement sum of 16-bit words. */
function checksum(header: Buffer): number {
  let sum = 0;
  for (let i = 0; i < header.length; i += 2) sum += header.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** One Ethernet frame: IPv4 (no options, DF clear) carrying UDP (checksum 0: none, RFC 768). */
export function udpFrame(d: OutDatagram, id = 0): Buffer {
  const udpLength = 8 + d.payload.length;
  const eth = Buffer.from('02000000000202000000000108 00'.replace(/\s/g, ''), 'hex');
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + udpLength, 2);
  ip.writeUInt16BE(id & 0xffff, 4);
  ip[8] = 64;
  ip[9] = 17;
  ipv4(d.src ?? '198.51.100.1').copy(ip, 12);
  ipv4(d.dst ?? '198.51.100.2').copy(ip, 16);
  ip.writeUInt16BE(checksum(ip), 10);
  const udp = Buffer.alloc(8);
  udp.writeUInt16BE(d.sport, 0);
  udp.writeUInt16BE(d.dport, 2);
  udp.writeUInt16BE(udpLength, 4);
  return Buffer.concat([eth, ip, udp, d.payload]);
}

/** Writes the datagrams to `path` as a pcap file (microsecond timestamps, one per second). */
export function writePcap(path: string, datagrams: readonly OutDatagram[]): void {
  const global = Buffer.alloc(24);
  global.writeUInt32LE(0xa1b2c3d4, 0);
  global.writeUInt16LE(2, 4);
  global.writeUInt16LE(4, 6);
  global.writeUInt32LE(262144, 16); // snaplen
  global.writeUInt32LE(LINKTYPE_ETHERNET, 20);
  const parts: Buffer[] = [global];
  datagrams.forEach((d, i) => {
    const frame = udpFrame(d, i + 1);
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(1700000000 + i, 0);
    rec.writeUInt32LE(frame.length, 8);
    rec.writeUInt32LE(frame.length, 12);
    parts.push(rec, frame);
  });
  writeFileSync(path, Buffer.concat(parts));
}

/**
 * Reads the captures in ../shared/captures for known-answer tests: pcapng (and classic pcap)
 * files of Ethernet frames, reduced to the UDP datagrams they carry. Test support only.
 */
import { readFileSync } from 'node:fs';

export interface UdpDatagram {
  frame: number; // 1-based, as tshark numbers frames
  src: string;
  dst: string;
  sport: number;
  dport: number;
  payload: Buffer;
}

const LINKTYPE_ETHERNET = 1;

/** Raw link-layer frames of a pcapng or pcap file, in order. */
export function readFrames(path: string): { linkType: number; data: Buffer }[] {
  const buf = readFileSync(path);
  const magic = buf.readUInt32LE(0);
  if (magic === 0x0a0d0d0a) return readPcapng(buf);
  if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) return readPcap(buf);
  throw new Error(`${path}: not a pcap or pcapng file`);
}

function readPcapng(buf: Buffer): { linkType: number; data: Buffer }[] {
  const frames: { linkType: number; data: Buffer }[] = [];
  const linkTypes: number[] = [];
  let off = 0;
  while (off + 12 <= buf.length) {
    const type = buf.readUInt32LE(off);
    const len = buf.readUInt32LE(off + 4);
    if (len < 12 || off + len > buf.length) throw new Error(`pcapng: bad block length ${len} at ${off}`);
    if (type === 0x0a0d0d0a) {
      if (buf.readUInt32LE(off + 8) !== 0x1a2b3c4d) throw new Error('pcapng: only little-endian sections supported');
      linkTypes.length = 0; // interface ids restart per section
    } else if (type === 1) {
      linkTypes.push(buf.readUInt16LE(off + 8)); // Interface Description Block
    } else if (type === 6) {
      // Enhanced Packet Block: iface, ts hi, ts lo, captured len, original len, data
      const iface = buf.readUInt32LE(off + 8);
      const capLen = buf.readUInt32LE(off + 20);
      frames.push({ linkType: linkTypes[iface] ?? -1, data: buf.subarray(off + 28, off + 28 + capLen) });
    } else if (type === 3) {
      // Simple Packet Block: original length, then data (interface 0)
      const data = buf.subarray(off + 12, off + len - 4);
      frames.push({ linkType: linkTypes[0] ?? -1, data });
    }
    off += len;
  }
  return frames;
}

function readPcap(buf: Buffer): { linkType: number; data: Buffer }[] {
  const linkType = buf.readUInt32LE(20);
  const frames: { linkType: number; data: Buffer }[] = [];
  for (let off = 24; off + 16 <= buf.length; ) {
    const capLen = buf.readUInt32LE(off + 8);
    frames.push({ linkType, data: buf.subarray(off + 16, off + 16 + capLen) });
    off += 16 + capLen;
  }
  return frames;
}

function ipv6ToString(b: Buffer): string {
  const parts: string[] = [];
  for (let i = 0; i < 16; i += 2) parts.push(b.readUInt16BE(i).toString(16));
  return parts.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

/** Every UDP datagram (IPv4 or IPv6 over Ethernet) in a capture, numbered like tshark's frames. */
export function readUdpDatagrams(path: string): UdpDatagram[] {
  const out: UdpDatagram[] = [];
  readFrames(path).forEach((f, i) => {
    if (f.linkType !== LINKTYPE_ETHERNET || f.data.length < 14) return;
    const etherType = f.data.readUInt16BE(12);
    const ip = f.data.subarray(14);
    let src: string;
    let dst: string;
    let proto: number;
    let l4: Buffer;
    if (etherType === 0x0800) {
      const ihl = (ip[0] & 0x0f) * 4;
      proto = ip[9];
      src = Array.from(ip.subarray(12, 16)).join('.');
      dst = Array.from(ip.subarray(16, 20)).join('.');
      l4 = ip.subarray(ihl, ip.readUInt16BE(2));
    } else if (etherType === 0x86dd) {
      proto = ip[6];
      src = ipv6ToString(ip.subarray(8, 24));
      dst = ipv6ToString(ip.subarray(24, 40));
      l4 = ip.subarray(40, 40 + ip.readUInt16BE(4));
    } else {
      return;
    }
    if (proto !== 17 || l4.length < 8) return;
    out.push({
      frame: i + 1,
      src,
      dst,
      sport: l4.readUInt16BE(0),
      dport: l4.readUInt16BE(2),
      payload: l4.subarray(8, l4.readUInt16BE(4)),
    });
  });
  return out;
}

/** The key lines of a captures/*.keys.txt file ("SKEYSEED: 9836...") as name -> bytes. */
export function readKeys(path: string): Map<string, Buffer> {
  const keys = new Map<string, Buffer>();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m = /^([A-Za-z_ ]+?)(?: secret)?: ([0-9a-f]+)$/.exec(line.trim());
    if (m) keys.set(m[1], Buffer.from(m[2], 'hex'));
  }
  return keys;
}

/** Copies of ../shared/captures, kept in the repository so a clean clone anywhere can run the KATs. */
export const CAPTURES_DIR = new URL('../fixtures/captures/', import.meta.url).pathname;

/**
 * What the guest kernel shows: `ip -s xfrm state` (iproute2 6.1) reduced to the fields the
 * scenarios assert on. Read from the text a user would read, on purpose: these tests prove what
 * `ip xfrm` shows, not what segw's own netlink parser believes.
 *
 *   src 198.51.100.2 dst 198.51.100.1
 *   	proto esp spi 0xc5d2a1e0(3318915552) reqid 1(0x00000001) mode tunnel
 *   	...
 *   	encap type espinudp sport 4500 dport 4500 addr 0.0.0.0
 *   	...
 *   	lifetime current:
 *   	  1848(bytes), 22(packets)
 */
import type { Host } from '../../../src/lab/lab.js';

export interface ShownSa {
  src: string;
  dst: string;
  proto: string;
  /** Lower-case hex, 8 digits, as swanctl and segw print SPIs. */
  spi: string;
  reqid: number;
  mode: string;
  /** `espinudp sport 4500 dport 4500` when UDP-encapsulated. */
  encap?: { type: string; sport: number; dport: number };
  bytes: bigint;
  packets: bigint;
}

export function parseXfrmStates(text: string): ShownSa[] {
  const blocks = text.split(/^(?=src )/m).filter((b) => b.startsWith('src '));
  return blocks.map((b) => {
    const head = /^src (\S+) dst (\S+)/.exec(b);
    const id = /proto (\w+) spi 0x([0-9a-f]+)\S* reqid (\d+)\S* mode (\w+)/.exec(b);
    if (!head || !id) throw new Error(`unreadable ip xfrm state block:\n${b}`);
    const encap = /encap type (\w+) sport (\d+) dport (\d+)/.exec(b);
    const current = /lifetime current:\s*\n\s*(\d+)\(bytes\), (\d+)\(packets\)/.exec(b);
    return {
      src: head[1]!,
      dst: head[2]!,
      proto: id[1]!,
      spi: id[2]!.padStart(8, '0'),
      reqid: Number(id[3]),
      mode: id[4]!,
      ...(encap ? { encap: { type: encap[1]!, sport: Number(encap[2]), dport: Number(encap[3]) } } : {}),
      bytes: BigInt(current?.[1] ?? 0),
      packets: BigInt(current?.[2] ?? 0),
    };
  });
}

/** `ip -s xfrm state` in a lab host, parsed. */
export async function xfrmStates(h: Host): Promise<ShownSa[]> {
  return parseXfrmStates((await h.exec('ip', ['-s', 'xfrm', 'state'])).stdout);
}

export interface ShownPolicy {
  src: string;
  dst: string;
  dir: string;
  priority: number;
  /** tmpl src/dst of the first template. */
  tmpl?: { src: string; dst: string; proto: string; reqid: number; mode: string };
}

/** `ip xfrm policy` (without -s), parsed. */
export function parseXfrmPolicies(text: string): ShownPolicy[] {
  const blocks = text.split(/^(?=src )/m).filter((b) => b.startsWith('src '));
  return blocks.map((b) => {
    const head = /^src (\S+) dst (\S+)/.exec(b);
    const dir = /dir (\w+) priority (\d+)/.exec(b);
    if (!head || !dir) throw new Error(`unreadable ip xfrm policy block:\n${b}`);
    const t = /tmpl src (\S+) dst (\S+)\s*\n\s*proto (\w+) reqid (\d+) mode (\w+)/.exec(b);
    return {
      src: head[1]!,
      dst: head[2]!,
      dir: dir[1]!,
      priority: Number(dir[2]),
      ...(t ? { tmpl: { src: t[1]!, dst: t[2]!, proto: t[3]!, reqid: Number(t[4]), mode: t[5]! } } : {}),
    };
  });
}

export async function xfrmPolicies(h: Host): Promise<ShownPolicy[]> {
  return parseXfrmPolicies((await h.exec('ip', ['xfrm', 'policy'])).stdout);
}

/**
 * Packet capture with tshark inside a lab namespace, and decoding of the capture: every frame
 * with its IKE exchange, ESP SPI and any malformed / expert-error flag tshark raised.
 */
import { join } from 'node:path';
import type { Host } from '../lab.js';
import { run } from '../exec.js';
import type { LabProcess } from '../process.js';

export interface DecodedFrame {
  frame: number;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  /** isakmp.exchangetype as a number, if tshark saw IKE. */
  ikeExchange?: number;
  /** isakmp.flag_r (response bit), if IKE. */
  ikeResponse?: boolean;
  espSpi?: number;
  /** True when tshark flagged the frame malformed. */
  malformed: boolean;
  /** Expert-info severities tshark attached (e.g. 'error', 'warning'), if any. */
  expert: string[];
  protocols: string;
}

/** The discard port (RFC 863): where the capture's end marker goes. */
const MARKER_DPORT = 9;

export class Capture {
  private constructor(
    readonly file: string,
    private readonly proc: LabProcess,
    private readonly host: Host,
    private readonly ifname: string,
  ) {}

  /**
   * Starts capturing on `ifname` in `host` (capture filter `filter`, default all UDP). tshark
   * also prints each frame's UDP ports as it writes it, which is how stop() sees its marker.
   */
  static async start(host: Host, ifname: string, opts: { filter?: string; name?: string } = {}): Promise<Capture> {
    const file = join(host.lab.dir, `${opts.name ?? `${host.name}-${ifname}`}.pcapng`);
    const filter = `(${opts.filter ?? 'udp'}) or (udp dst port ${MARKER_DPORT})`;
    const proc = host.spawn('tshark', ['-n', '-i', ifname, '-f', filter, '-w', file, '-P', '-l', '-T', 'fields', '-e', 'udp.srcport', '-e', 'udp.dstport'], {
      name: `tshark-${ifname}`,
    });
    await proc.waitFor(/Capturing on/, 15_000);
    return new Capture(file, proc, host, ifname);
  }

  /**
   * Stops the capture (SIGINT lets tshark flush) and decodes it. dumpcap reads the kernel's ring
   * in batches, so first a marker datagram goes out of the interface to a neighbour on it: once
   * tshark has written the marker, every frame before it is in the file too. The marker is not
   * among the frames returned.
   */
  async stop(): Promise<DecodedFrame[]> {
    const sport = await this.sendMarker();
    if (sport !== undefined) await this.proc.waitFor(new RegExp(`^${sport}\\t${MARKER_DPORT}$`, 'm'), 15_000);
    await this.proc.stop('SIGINT', 5000);
    const frames = await decodeCapture(this.file);
    return frames.filter((f) => !(f.sport === sport && f.dport === MARKER_DPORT));
  }

  /**
   * One UDP datagram to a neighbour on the link; its source port, or undefined when the link
   * has no neighbour (then no unicast frame went out on it, and there is nothing to wait for).
   */
  private async sendMarker(): Promise<number | undefined> {
    const r = await this.host.exec('ip', ['-j', 'neigh', 'show', 'dev', this.ifname]);
    const neighbours = (JSON.parse(r.stdout || '[]') as { dst: string; lladdr?: string }[]).filter((n) => n.lladdr && !n.dst.startsWith('fe80:'));
    const to = neighbours[0]?.dst;
    if (!to) return undefined;
    const sport = 40_000 + Math.floor(Math.random() * 20_000);
    const fam = to.includes(':') ? 'udp6' : 'udp4';
    const send = `const s=require('dgram').createSocket('${fam}');s.bind(${sport},()=>s.send(Buffer.from('segw capture marker'),${MARKER_DPORT},'${to}',(e)=>{s.close();if(e)throw e}))`;
    await this.host.exec(process.execPath, ['-e', send]);
    return sport;
  }
}

const FIELDS = [
  'frame.number',
  'ip.src',
  'ip.dst',
  'udp.srcport',
  'udp.dstport',
  'isakmp.exchangetype',
  'isakmp.flag_r',
  'esp.spi',
  '_ws.malformed',
  '_ws.expert.severity',
  'frame.protocols',
];

/** epan/proto.h PI_* severities, as -T fields prints them. */
const SEVERITY: Record<string, string> = {
  '1048576': 'comment',
  '2097152': 'chat',
  '4194304': 'note',
  '6291456': 'warning',
  '8388608': 'error',
};
/** The name of an expert-info severity as `-T fields` prints it (a PI_* number). */
export function severityName(v: string): string {
  return SEVERITY[v] ?? v;
}

/** Decodes a capture file with tshark (two passes, so reassembly and expert info are complete). */
export async function decodeCapture(file: string): Promise<DecodedFrame[]> {
  const args = ['-n', '-2', '-r', file, '-T', 'fields', '-E', 'separator=\t', '-E', 'occurrence=a', '-E', 'aggregator=,'];
  for (const f of FIELDS) args.push('-e', f);
  const r = await run('tshark', args, { timeoutMs: 60_000 });
  return r.stdout
    .split('\n')
    .filter((l) => l.trim())
    .map((line) => {
      const c = line.split('\t');
      const num = (s: string) => (s ? Number(s.split(',')[0]) : undefined);
      return {
        frame: Number(c[0]),
        src: c[1]?.split(',')[0] ?? '',
        dst: c[2]?.split(',')[0] ?? '',
        sport: num(c[3]) ?? 0,
        dport: num(c[4]) ?? 0,
        ikeExchange: num(c[5]),
        ikeResponse: c[6] ? c[6].split(',')[0] === '1' || c[6].split(',')[0] === 'True' : undefined,
        espSpi: c[7] ? Number(c[7].split(',')[0]) : undefined,
        malformed: Boolean(c[8]),
        expert: c[9] ? c[9].split(',').map(severityName) : [],
        protocols: c[10] ?? '',
      };
    });
}

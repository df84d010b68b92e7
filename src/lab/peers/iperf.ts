/**
 * iperf3 between two lab hosts: one bounded TCP run. Tests assert that traffic flowed in every
 * interval (`flowedThroughout`); the throughput itself is for bench/, never a test threshold.
 */
import type { Host } from '../lab.js';

export interface IperfResult {
  /** Goodput measured at the receiver. */
  bitsPerSecond: number;
  retransmits: number;
  /** Bytes of each reporting interval (1 s) as the client counted them. */
  intervalBytes: number[];
}

interface IperfJson {
  intervals?: { sum: { bytes: number } }[];
  end: { sum_received: { bits_per_second: number }; sum_sent: { retransmits?: number } };
}

/** The result of `iperf3 -c ... -J` (its stdout). */
export function parseIperf(stdout: string): IperfResult {
  const j = JSON.parse(stdout) as IperfJson;
  return {
    bitsPerSecond: j.end.sum_received.bits_per_second,
    retransmits: j.end.sum_sent.retransmits ?? 0,
    intervalBytes: (j.intervals ?? []).map((i) => i.sum.bytes),
  };
}

/** Traffic passed in every interval of the run: no stall, whatever the speed. */
export function flowedThroughout(r: IperfResult): boolean {
  return r.intervalBytes.length > 0 && r.intervalBytes.every((b) => b > 0);
}

/**
 * Runs `iperf3 -s -1` on `server` (bound to serverAddr) and a client on `client` (bound to
 * clientAddr) for `seconds`; `reverse` makes the server send.
 */
export async function iperf3(
  client: Host,
  server: Host,
  opts: { serverAddr: string; clientAddr: string; seconds?: number; reverse?: boolean; parallel?: number },
): Promise<IperfResult> {
  const seconds = opts.seconds ?? 5;
  const srv = server.spawn('iperf3', ['-s', '-1', '--forceflush', '-B', opts.serverAddr], { name: 'iperf3-s' });
  await srv.waitFor(/Server listening/, 10_000);
  const args = ['-c', opts.serverAddr, '-B', opts.clientAddr, '-t', String(seconds), '-J'];
  if (opts.reverse) args.push('-R');
  if (opts.parallel) args.push('-P', String(opts.parallel));
  try {
    const r = await client.exec('iperf3', args, { timeoutMs: (seconds + 20) * 1000 });
    return parseIperf(r.stdout);
  } finally {
    await srv.stop('SIGTERM', 2000);
  }
}

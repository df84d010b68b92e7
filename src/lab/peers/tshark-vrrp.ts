/**
 * VRRP frames of a capture as tshark decodes them: source, priority, the checksum verdict and
 * any malformed / expert flag. tshark 4.0 checks VRRPv3 IPv4 checksums with the RFC 5798
 * pseudo-header unless `vrrp.v3_checksum_as_in_v2` is set, which is RFC 9568's form.
 */
import { run } from '../exec.js';
import { severityName } from './tshark.js';

export interface VrrpFrame {
  src: string;
  vrid: number;
  priority: number;
  /** tshark's vrrp.checksum.status: 'good', 'bad' or 'unverified'. */
  checksum: 'good' | 'bad' | 'unverified';
  hopLimit: number;
  malformed: boolean;
  expert: string[];
}

const STATUS: Record<string, VrrpFrame['checksum']> = { '0': 'bad', '1': 'good', '2': 'unverified', Bad: 'bad', Good: 'good', Unverified: 'unverified' };

export async function decodeVrrp(file: string, opts: { checksum: 'rfc9568' | 'pseudo-header' }): Promise<VrrpFrame[]> {
  const args = ['-n', '-r', file, '-Y', 'vrrp', '-o', `vrrp.v3_checksum_as_in_v2:${opts.checksum === 'rfc9568' ? 'TRUE' : 'FALSE'}`];
  args.push('-T', 'fields', '-E', 'separator=\t', '-E', 'occurrence=a', '-E', 'aggregator=,');
  for (const f of ['ip.src', 'ipv6.src', 'vrrp.virt_rtr_id', 'vrrp.prio', 'vrrp.checksum.status', 'ip.ttl', 'ipv6.hlim', '_ws.malformed', '_ws.expert.severity']) {
    args.push('-e', f);
  }
  const r = await run('tshark', args, { timeoutMs: 60_000 });
  return r.stdout
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      const c = l.split('\t');
      return {
        src: c[0] || c[1],
        vrid: Number(c[2]),
        priority: Number(c[3]),
        checksum: STATUS[c[4]] ?? 'unverified',
        hopLimit: Number(c[5] || c[6]),
        malformed: Boolean(c[7]),
        expert: c[8] ? c[8].split(',').map(severityName) : [],
      };
    });
}

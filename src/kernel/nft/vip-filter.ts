/**
 * VipAcceptFilter on nftables (RFC 9568 §6.1 Accept_Mode False, §6.4.3): one table of segw's own
 * per set, `inet segw_<name>`, with an input chain that drops what is addressed to the virtual
 * addresses, except IPv6 Neighbor Discovery (§6.4.3: a master answers NS for them; ARP is not IP,
 * so the inet family never sees it) and what the host sends itself (over lo).
 *
 *   table inet segw_vrrp_eth0_51 {
 *     chain input {
 *       type filter hook input priority filter; policy accept;
 *       iif "lo" accept
 *       ip daddr { 203.0.113.10 } counter drop
 *     }
 *   }
 *
 * Written with `nft -f -` (the nftables netlink protocol, NFT_MSG_NEWTABLE/NEWCHAIN/NEWRULE in
 * batches with expressions per rule, is far larger than this one table needs). A replacement is
 * one transaction (create-if-absent, delete, add), so the rules never lapse while they change.
 */
import { spawn } from 'node:child_process';
import { SegwError } from '../../errors.js';
import { familyOf } from '../../net/ip.js';
import type { VipAcceptFilter } from '../types.js';

/** nft failed; the message carries its own. */
export class NftError extends SegwError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SEGW_NFT', message, options);
  }
}

export interface NftOptions {
  /** The nft binary (default "nft" on PATH). */
  binary?: string;
}

/** "vrrp_eth0.100_51" -> a valid nft identifier. */
export function tableName(name: string): string {
  return `segw_${name.replace(/[^A-Za-z0-9_]/g, '_')}`;
}

/** The nft script that replaces table `name` with the drop rules for `addresses`. */
export function blockScript(name: string, addresses: string[]): string {
  if (addresses.length === 0) throw new TypeError('blockScript: no addresses');
  const families = new Set(addresses.map((a) => familyOf(a)));
  if (families.size !== 1) throw new TypeError('blockScript: addresses of one family only');
  const set = `{ ${addresses.join(', ')} }`;
  const rules = families.has(4)
    ? [`ip daddr ${set} counter drop`]
    : [`ip6 daddr ${set} icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept`, `ip6 daddr ${set} counter drop`];
  const t = tableName(name);
  return [
    `table inet ${t} {}`,
    `delete table inet ${t}`,
    `table inet ${t} {`,
    '  chain input {',
    '    type filter hook input priority filter; policy accept;',
    '    iif "lo" accept',
    ...rules.map((r) => `    ${r}`),
    '  }',
    '}',
    '',
  ].join('\n');
}

export class NftVipFilter implements VipAcceptFilter {
  constructor(private readonly opts: NftOptions = {}) {}

  async block(name: string, addresses: string[]): Promise<void> {
    await this.run(blockScript(name, addresses));
  }

  async unblock(name: string): Promise<boolean> {
    try {
      await this.run(`delete table inet ${tableName(name)}\n`);
      return true;
    } catch (err) {
      if (err instanceof NftError && /No such file or directory/.test(err.message)) return false;
      throw err;
    }
  }

  private run(script: string): Promise<void> {
    const bin = this.opts.binary ?? 'nft';
    return new Promise((resolve, reject) => {
      const p = spawn(bin, ['-f', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
      let stderr = '';
      p.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      p.on('error', (err) => {
        const enoent = (err as NodeJS.ErrnoException).code === 'ENOENT';
        reject(new NftError(enoent ? `${bin} not found: accept: false needs nftables (apt-get install nftables)` : `${bin}: ${String(err)}`, { cause: err }));
      });
      p.on('close', (code) => {
        if (code === 0) return resolve();
        const hint = /Operation not permitted/.test(stderr) ? ' (needs CAP_NET_ADMIN)' : '';
        reject(new NftError(`nft -f - failed (exit ${code})${hint}: ${stderr.trim()}`));
      });
      p.stdin.end(script);
    });
  }
}

/**
 * What a rekey cost the traffic, at both ends of the tunnel: the echo requests of a ping train
 * that got no reply, and the XFRM drop counters (/proc/net/xfrm_stat) that moved meanwhile,
 * which say where a packet died (e.g. XfrmAcquireError at the receiver: ESP arrived on an SPI
 * whose SA was still larval, i.e. the sender used the new SA before the receiver installed it).
 * Used in the guest (./lifecycle.ts) and again on the host (../lifecycle.test.ts).
 */
import type { Host } from '../../../src/lab/lab.js';

export interface Loss {
  sent: number;
  received: number;
  /** The XFRM drop counters that moved at each end during the train, by kernel name. */
  drops?: { gw: Record<string, number>; bs: Record<string, number> };
}

export type RekeyKind = 'child by gateway' | 'child by base station' | 'IKE by gateway' | 'IKE by base station';

/** /proc/net/xfrm_stat of a host's namespace, by counter name (every counter there counts drops). */
export async function xfrmStat(h: Host): Promise<Record<string, number>> {
  const r = await h.exec('cat', ['/proc/net/xfrm_stat'], { allowFail: true });
  const out: Record<string, number> = {};
  for (const m of r.stdout.matchAll(/^(Xfrm\w+)\s+(\d+)\s*$/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

/** The counters that changed from `before` to `after`, by how much. */
export function moved(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) if (v !== (before[k] ?? 0)) out[k] = v - (before[k] ?? 0);
  return out;
}

const lostEchoes = (l: Loss) => l.sent - l.received;
const sum = (d: Record<string, number> | undefined, pick: (name: string) => boolean) =>
  Object.entries(d ?? {}).reduce((n, [k, v]) => n + (pick(k) ? v : 0), 0);
/** Outbound drops of the base station's own kernel (charon's policy swap; nothing the gateway sent). */
const isOutbound = (name: string) => name.startsWith('XfrmOut');
/** Drops the gateway answers for: any at its own kernel, and what the base station could not receive. */
const gatewayDrops = (l: Loss) => sum(l.drops?.gw, () => true) + sum(l.drops?.bs, (k) => !isOutbound(k));
/** Echoes lost for a reason other than the base station's own outbound drops (each may have been one). */
const unexplainedEchoes = (l: Loss) => Math.max(0, lostEchoes(l) - sum(l.drops?.bs, isOutbound));

/**
 * The ways segw's rekeys of `kinds` did worse than the same rekeys between two charons: more
 * packets dropped by XFRM at the gateway or on their way into the base station, or more echoes
 * lost than the base station's own outbound drops explain. Measured under load in the guest:
 * charon as the base station sometimes drops its own outbound packets (XfrmOutPolBlock: its
 * fallback drop policy, while it swaps the policies to the new SA on the DELETE), with either
 * gateway; that is charon's cost, not the gateway's. Empty when segw did no worse.
 */
export function worseThanReference(loss: Record<string, Loss>, ref: Record<string, Loss>, kinds: readonly RekeyKind[]): string[] {
  const worse: string[] = [];
  for (const kind of kinds) {
    const s = loss[kind];
    const c = ref[kind];
    if (!s || !c) {
      worse.push(`${kind}: not measured`);
      continue;
    }
    const drops = `segw ${JSON.stringify(s.drops)}, charons ${JSON.stringify(c.drops)}`;
    if (unexplainedEchoes(s) > unexplainedEchoes(c)) worse.push(`${kind}: segw lost ${lostEchoes(s)}/${s.sent} echoes, charon ${lostEchoes(c)}/${c.sent} (XFRM drops: ${drops})`);
    if (gatewayDrops(s) > gatewayDrops(c)) worse.push(`${kind}: XFRM dropped ${gatewayDrops(s)} packets on the gateway's account with segw, ${gatewayDrops(c)} between charons (${drops})`);
  }
  return worse;
}

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
const xfrmDrops = (l: Loss) => [l.drops?.gw, l.drops?.bs].reduce((n, d) => n + Object.values(d ?? {}).reduce((a, b) => a + b, 0), 0);

/**
 * The ways segw's rekeys of `kinds` did worse than the same rekeys between two charons: more
 * echoes lost, or more packets dropped by XFRM at either end. Empty when none did.
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
    if (lostEchoes(s) > lostEchoes(c)) worse.push(`${kind}: segw lost ${lostEchoes(s)}/${s.sent} echoes, charon ${lostEchoes(c)}/${c.sent}`);
    if (xfrmDrops(s) > xfrmDrops(c)) worse.push(`${kind}: XFRM dropped ${xfrmDrops(s)} packets with segw ${JSON.stringify(s.drops)}, ${xfrmDrops(c)} between charons ${JSON.stringify(c.drops)}`);
  }
  return worse;
}

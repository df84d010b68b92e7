/**
 * The SAs as each peer reports them, reduced to what both can be compared on: strongSwan's
 * `swanctl --list-sas --raw`, segw's control socket `list-sas`. `oneTunnel` waits until both
 * report exactly one established IKE SA with one installed child and the same SPIs, mirrored.
 */
import type { StrongSwan } from '../../../src/lab/peers/strongswan.js';
import type { SegwProcess } from '../../../src/lab/peers/segw.js';
import { childSas, ikeSas, type ViciSection } from '../../../src/lab/peers/vici-raw.js';
import type { IkeSaView } from '../../../src/control/views.js';
import { eventually } from '../../support/eventually.js';

export interface PeerChild {
  state: string;
  spiIn: string;
  spiOut: string;
  localTs: string[];
  remoteTs: string[];
  encap: boolean;
}

export interface PeerIke {
  state: string;
  spiI: string;
  spiR: string;
  natLocal: boolean;
  natRemote: boolean;
  children: PeerChild[];
  raw: unknown;
}

const s = (v: unknown) => (typeof v === 'string' ? v : '');
const list = (v: unknown) => (Array.isArray(v) ? (v as string[]) : []);

export async function swanView(ss: StrongSwan): Promise<PeerIke[]> {
  const events = await ss.listSas();
  return events.flatMap((e) =>
    ikeSas(e).map(([, ike]: [string, ViciSection]) => ({
      state: s(ike.state),
      spiI: s(ike['initiator-spi']),
      spiR: s(ike['responder-spi']),
      natLocal: ike['nat-local'] === 'yes',
      natRemote: ike['nat-remote'] === 'yes',
      children: childSas(ike).map((c) => ({
        state: s(c.state),
        spiIn: s(c['spi-in']),
        spiOut: s(c['spi-out']),
        localTs: list(c['local-ts']),
        remoteTs: list(c['remote-ts']),
        encap: c.encap === 'yes',
      })),
      raw: ike,
    })),
  );
}

export async function segwView(segw: SegwProcess): Promise<PeerIke[]> {
  const { ikeSas: sas } = await segw.ctl<{ ikeSas: IkeSaView[] }>('list-sas');
  return sas.map((sa) => ({
    state: sa.state,
    spiI: sa.spiI,
    spiR: sa.spiR,
    natLocal: sa.nat.local,
    natRemote: sa.nat.remote,
    children: sa.children.map((c) => ({ state: c.state, spiIn: c.spiIn, spiOut: c.spiOut, localTs: c.localTs, remoteTs: c.remoteTs, encap: c.encap })),
    raw: sa,
  }));
}

export interface Tunnel {
  swan: PeerIke;
  segw: PeerIke;
  /** segw's control view of the SA (names, proposal, identities). */
  segwSa: IkeSaView;
}

/**
 * A rekeyed child strongSwan keeps listed as DELETED for charon.delete_rekeyed_delay (5 s), for
 * late inbound packets; it is gone as far as IKE is concerned.
 */
function live(ike: PeerIke): PeerIke {
  return { ...ike, children: ike.children.filter((c) => c.state !== 'DELETED') };
}

/** Why the two views are not one agreed tunnel, or undefined when they are. */
function disagreement(sw: PeerIke[], sg: PeerIke[]): string | undefined {
  if (sw.length !== 1 || sg.length !== 1) return `IKE SAs: strongSwan ${sw.length}, segw ${sg.length}`;
  const [a, b] = [live(sw[0]!), sg[0]!];
  if (a.state !== 'ESTABLISHED' || b.state !== 'ESTABLISHED') return `states: strongSwan ${a.state}, segw ${b.state}`;
  if (a.spiI !== b.spiI || a.spiR !== b.spiR) return `IKE SPIs differ: ${a.spiI}_${a.spiR} vs ${b.spiI}_${b.spiR}`;
  if (a.children.length !== 1 || b.children.length !== 1) return `children: strongSwan ${a.children.length}, segw ${b.children.length}`;
  const [c, d] = [a.children[0]!, b.children[0]!];
  if (c.state !== 'INSTALLED' || d.state !== 'INSTALLED') return `child states: strongSwan ${c.state}, segw ${d.state}`;
  if (c.spiIn !== d.spiOut || c.spiOut !== d.spiIn) return `child SPIs not mirrored: strongSwan in ${c.spiIn} out ${c.spiOut}, segw in ${d.spiIn} out ${d.spiOut}`;
  if (c.localTs.join() !== d.remoteTs.join() || c.remoteTs.join() !== d.localTs.join()) {
    return `traffic selectors differ: strongSwan ${c.localTs} === ${c.remoteTs}, segw ${d.localTs} === ${d.remoteTs}`;
  }
  return undefined;
}

/**
 * Waits until strongSwan and segw each report one ESTABLISHED IKE SA with one INSTALLED child,
 * the same IKE SPIs and mirrored child SPIs; `pred` may demand more (e.g. new SPIs).
 */
export async function oneTunnel(ss: StrongSwan, segw: SegwProcess, opts: { timeoutMs?: number; pred?: (t: Tunnel) => boolean } = {}): Promise<Tunnel> {
  return eventually(
    async () => {
      const [sw, sg] = [await swanView(ss), await segwView(segw)];
      const bad = disagreement(sw, sg);
      const why = bad ?? 'agreed, but not yet what the test waits for';
      if (!bad) {
        const t = { swan: live(sw[0]!), segw: sg[0]!, segwSa: sg[0]!.raw as IkeSaView };
        if (!opts.pred || opts.pred(t)) return t;
      }
      throw new Error(`${why}\nstrongSwan: ${JSON.stringify(sw)}\nsegw: ${JSON.stringify(sg)}`);
    },
    { what: 'an agreed tunnel', timeoutMs: opts.timeoutMs ?? 20_000, intervalMs: 200 },
  );
}

/** Waits until neither peer lists any IKE SA. */
export async function noTunnel(ss: StrongSwan, segw: SegwProcess, timeoutMs = 15_000): Promise<void> {
  await eventually(
    async () => {
      const [sw, sg] = [await swanView(ss), await segwView(segw)];
      if (sw.length > 0 || sg.length > 0) throw new Error(`SAs left: strongSwan ${JSON.stringify(sw)}, segw ${JSON.stringify(sg)}`);
      return true;
    },
    { what: 'no IKE SA on either peer', timeoutMs, intervalMs: 200 },
  );
}

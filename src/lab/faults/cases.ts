/**
 * The faults of the matrix, each a function over a converged FaultCluster that injects the fault,
 * waits for the cluster to converge again (./invariants.ts: every base station has a tunnel, no
 * stale route, no leaked SA or TUN device, one master holding the VIP) and returns how long each
 * phase took (ms). Each case leaves all three gateways running, so the next starts converged.
 * The bench (bench/faults) repeats them for the table; the tests (test/faults) run a few once and
 * assert only that they converge within a generous bound and what holds afterwards.
 */
import type { FaultCluster } from './cluster.js';
import type { LogDisk } from './log-disk.js';
import { eventually } from '../eventually.js';
import { gwName } from './config.js';
import { leftovers } from './invariants.js';

/** Phase name -> milliseconds from the fault (or the repair) until convergence. */
export type Phases = Record<string, number>;

export interface CaseContext {
  cluster: FaultCluster;
  /** Upper bound for each convergence wait (ms). */
  boundMs: number;
  /** Facts worth a line in the report (what a killed gateway left, who was hit). */
  note: (line: string) => void;
  /** The gateway whose log.file is on a LogDisk (the disk-full case). */
  logDisk?: { gateway: number; disk: LogDisk };
}

export interface FaultCase {
  name: string;
  what: string;
  run(ctx: CaseContext): Promise<Phases>;
}

/** SIGKILL gateway `i`, converge on the others, start it again, converge. */
async function killAndRestart(ctx: CaseContext, i: number, master = false): Promise<Phases> {
  const c = ctx.cluster;
  const t0 = Date.now();
  await c.kill(i);
  const failover = await c.converge(`every base station up without ${gwName(i)}`, ctx.boundMs, t0);
  const left = leftovers((await c.snapshot()).gateways[i]!);
  ctx.note(`${gwName(i)} killed, left ${left.join(', ') || 'nothing'}`);
  const t1 = Date.now();
  await c.startGateway(i);
  const restart = await c.converge(`${gwName(i)} restarted and clean`, ctx.boundMs, t1, master ? i : undefined);
  return { failover, restart };
}

export const killMaster: FaultCase = {
  name: 'kill -9 master',
  what: 'SIGKILL the VRRP master; after convergence start it again (it preempts back)',
  run: async (ctx) => killAndRestart(ctx, await ctx.cluster.master(), true),
};

export const killMember: FaultCase = {
  name: 'kill -9 member',
  what: 'SIGKILL the backup holding the most base stations; then start it again',
  run: async (ctx) => killAndRestart(ctx, await ctx.cluster.busiestBackup()),
};

export const splitBrain: FaultCase = {
  name: 'cut VRRP link',
  what: "take the master's bridge port down: both sides master (split brain); the rest serves every base station; heal: one master, GARP",
  async run(ctx) {
    const c = ctx.cluster;
    const m = await c.master();
    const t0 = Date.now();
    await c.setLink(m, false);
    try {
      await eventually(async () => (await Promise.all(c.hosts.map((_h, i) => c.vrrpState(i)))).filter((s) => s === 'Master').length === 2, {
        what: 'two VRRP masters (split brain)',
        timeoutMs: ctx.boundMs,
      });
      const split = Date.now() - t0;
      // The isolated master keeps the VIP; the rest must carry every base station meanwhile.
      const others = c.hosts.map((_h, i) => i).filter((i) => i !== m);
      await eventually(async () => {
        const s = await c.snapshot();
        const served = new Set(others.flatMap((i) => s.gateways[i]!.established.map((sa) => sa.peer)));
        return c.identities.every((id) => served.has(id)) && s.sim?.up === c.baseStations;
      }, { what: `every base station up on ${others.map(gwName).join(' and ')} while ${gwName(m)} is cut off`, timeoutMs: ctx.boundMs, intervalMs: 100 });
      const rehomed = Date.now() - t0;
      const t1 = Date.now();
      await c.setLink(m, true);
      const heal = await c.converge('one master after the heal, VIP resolved to it', ctx.boundMs, t1);
      return { 'two masters': split, rehomed, heal };
    } finally {
      await c.setLink(m, true);
    }
  },
};

export const restart: FaultCase = {
  name: 'restart member',
  what: 'clean stop (SIGTERM: Deletes, routes withdrawn) of the busiest backup, then start it again',
  async run(ctx) {
    const c = ctx.cluster;
    const i = await c.busiestBackup();
    const t0 = Date.now();
    await c.stop(i);
    const stopped = await c.converge(`every base station up without ${gwName(i)}`, ctx.boundMs, t0);
    const t1 = Date.now();
    await c.startGateway(i);
    const started = await c.converge(`${gwName(i)} back`, ctx.boundMs, t1);
    return { stopped, started };
  },
};

/**
 * Takes gateway `i`'s bridge port down until `down` holds, then up again; the cluster must then
 * converge (timed from the moment the port went down).
 */
async function flapLink(ctx: CaseContext, i: number, down: () => Promise<boolean>, what: string): Promise<Phases> {
  const c = ctx.cluster;
  const t0 = Date.now();
  await c.setLink(i, false);
  try {
    await eventually(down, { what, timeoutMs: ctx.boundMs });
    ctx.note(`${gwName(i)} link down ${Date.now() - t0} ms`);
  } finally {
    await c.setLink(i, true);
  }
  return { converge: await c.converge(`after the flap of ${gwName(i)}`, ctx.boundMs, t0) };
}

export const flap: FaultCase = {
  name: 'flap member link',
  what: "take the busiest backup's bridge port down until the master's table marks it stale, then up again",
  async run(ctx) {
    const c = ctx.cluster;
    const m = await c.master();
    const i = await c.busiestBackup();
    const stale = async () => {
      const rows = (await c.gateways[m]!.ctl<{ members: { id: string; stale: boolean }[] }>('members')).members;
      return rows.find((r) => r.id === gwName(i))?.stale === true;
    };
    return flapLink(ctx, i, stale, `${gwName(m)} marks ${gwName(i)} stale`);
  },
};

export const flapMaster: FaultCase = {
  name: 'flap master link',
  what: "take the master's bridge port down until a backup takes over, then up again: it preempts back (GARP twice)",
  async run(ctx) {
    const c = ctx.cluster;
    const m = await c.master();
    const backupMaster = async () => (await Promise.all(c.hosts.map((_h, i) => (i === m ? null : c.vrrpState(i))))).includes('Master');
    return flapLink(ctx, m, backupMaster, `a backup takes over from ${gwName(m)}`);
  },
};

export const rekeyKill: FaultCase = {
  name: 'kill -9 during rekey',
  what: 'short child lifetimes; SIGKILL the busiest backup the moment it logs a rekeyed child SA installed; start it again',
  async run(ctx) {
    const c = ctx.cluster;
    const i = await c.busiestBackup();
    const g = c.gateways[i]!;
    const installs = () => g.process.output.split('"msg":"child SA installed"').length;
    const before = installs();
    // The next install on a gateway already serving its base stations is a rekey's new child.
    await eventually(() => installs() > before, { what: `a child SA rekey on ${gwName(i)}`, timeoutMs: ctx.boundMs, intervalMs: 5 });
    return killAndRestart(ctx, i);
  },
};

export const diskFull: FaultCase = {
  name: 'log disk full',
  what: "fill the tmpfs of a gateway's log.file; a member dies so base stations move (some onto it); it keeps serving; free the space: logging to the file resumes",
  async run(ctx) {
    const c = ctx.cluster;
    const ld = ctx.logDisk;
    if (!ld) throw new Error('the disk-full case needs a gateway with its log on a LogDisk');
    const g = c.gateways[ld.gateway]!;
    const t0 = Date.now();
    await ld.disk.fill();
    // Status lines (SIGUSR1) until a write finds the disk full (the file's last page may take a few).
    await eventually(() => {
      g.process.child.kill('SIGUSR1');
      return /write failed \(ENOSPC\)/.test(g.process.output);
    }, { what: `${gwName(ld.gateway)} reports its log disk full`, timeoutMs: ctx.boundMs, intervalMs: 200 });
    ctx.note(`${gwName(ld.gateway)} reported the full disk after ${Date.now() - t0} ms`);
    // Activity while the disk is full: another member's base stations move.
    const m = await c.master();
    const victim = c.hosts.map((_h, x) => x).find((x) => x !== ld.gateway && x !== m);
    if (victim === undefined) throw new Error('the disk-full case needs a member other than the master and the full-disk gateway');
    const t1 = Date.now();
    await c.kill(victim);
    const serving = await c.converge(`every base station up with ${gwName(ld.gateway)}'s log disk full`, ctx.boundMs, t1);
    const t2 = Date.now();
    const size = ld.disk.size();
    await ld.disk.free();
    await eventually(() => {
      g.process.child.kill('SIGUSR1');
      return /"msg":"status"/.test(ld.disk.textFrom(size));
    }, { what: `${gwName(ld.gateway)} writes its log file again`, timeoutMs: ctx.boundMs, intervalMs: 250 });
    const recovered = Date.now() - t2;
    const t3 = Date.now();
    await c.startGateway(victim);
    await c.converge(`${gwName(victim)} restarted`, ctx.boundMs, t3);
    return { serving, 'log back': recovered };
  },
};

export const ALL_CASES: FaultCase[] = [killMaster, killMember, splitBrain, restart, flap, flapMaster, diskFull, rekeyKill];

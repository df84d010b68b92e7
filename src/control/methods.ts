/**
 * The control socket's methods: a table of name -> { params, description, run }; a node adds
 * its own (cluster drain, redirect...) through ControlServerOptions.methods. Each handler
 * validates its params, acts through the IkeDaemon's public operations, and (for actions that
 * start an exchange) awaits the outcome the daemon settles from the task's final status
 * (ike/outcome.ts), bounded by `timeoutMs`, so the answer says what happened rather than
 * "request sent".
 *
 * Handlers throw ControlError for outcomes the caller should see; anything else is a bug and
 * the server answers INTERNAL.
 */
import { isIP } from 'node:net';
import type { IkeDaemon } from '../ike/daemon.js';
import { IkeState, type IkeSa } from '../ike/sa/ike-sa.js';
import { ChildState, type ChildSa } from '../ike/sa/child-sa.js';
import { OutcomeError, type Outcome, type Started } from '../ike/outcome.js';
import { ControlError, ControlErrorCode, DEFAULT_TIMEOUT_MS, MAX_TIMEOUT_MS } from './protocol.js';
import { childSaView, espDropsView, ikeSaView, type ChildSaView, type EspDropsView, type IkeSaView } from './views.js';
import type { MembersView } from '../cluster/view.js';

/** What the control socket drives: a Gateway (gateway or base-station node), or a test double. */
export interface ControlTarget {
  readonly daemon: IkeDaemon;
  status(): unknown;
  /** Set on a cluster member (config `cluster:`): the membership table. */
  readonly cluster?: { members(): MembersView };
  /** Set on a cluster member that runs VRRP: the instance's state and counters. */
  readonly vrrp?: { status(): unknown };
  /** More about an IKE SA for `list-sas` (a base station: the cluster it is on and why). */
  describeIkeSa?(sa: IkeSa): Record<string, unknown> | undefined;
}

type Params = Record<string, unknown>;

export interface MethodSpec {
  /** One line: what it does. */
  description: string;
  /** Parameter synopsis for `methods`, e.g. "{ike, timeoutMs?}". */
  params: string;
  run(target: ControlTarget, params: Params, ctx: MethodContext): Promise<unknown>;
}

/** What a method may know about the server running it. */
export interface MethodContext {
  /** Every method this server answers (the built-in ones and any the node added). */
  methods: Readonly<Record<string, MethodSpec>>;
}

// ---- parameter checks ----

function invalid(message: string): ControlError {
  return new ControlError(ControlErrorCode.INVALID_PARAMS, message);
}

function reqString(p: Params, key: string, what: string): string {
  const v = p[key];
  if (typeof v !== 'string' || v.length === 0 || v.length > 256) throw invalid(`\`${key}\` is required: ${what}`);
  return v;
}

function optString(p: Params, key: string, what: string): string | undefined {
  return p[key] === undefined ? undefined : reqString(p, key, what);
}

function optBool(p: Params, key: string): boolean {
  const v = p[key];
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw invalid(`\`${key}\` must be true or false`);
  return v;
}

function timeoutOf(p: Params): number {
  const v = p.timeoutMs;
  if (v === undefined) return DEFAULT_TIMEOUT_MS;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_TIMEOUT_MS) {
    throw invalid(`\`timeoutMs\` must be an integer 0..${MAX_TIMEOUT_MS}`);
  }
  return v;
}

// ---- lookups ----

const IKE_SELECTOR = 'the IKE SA name "SPIi_SPIr" (as list-sas shows it) or one of its SPIs (16 hex digits)';
const CHILD_SELECTOR = 'a child SA SPI (8 hex digits, inbound or outbound, as list-sas shows it)';

function liveSas(d: IkeDaemon): IkeSa[] {
  return d.manager.ikeSaList().filter((sa) => !sa.isDead);
}

export function findIkeSa(d: IkeDaemon, sel: string): IkeSa {
  const s = sel.toLowerCase().replace(/^0x/, '');
  let match: (sa: IkeSa) => boolean;
  if (/^[0-9a-f]{16}_[0-9a-f]{16}$/.test(s)) match = (sa) => sa.name === s;
  else if (/^[0-9a-f]{16}$/.test(s)) match = (sa) => sa.spiI.toString('hex') === s || sa.spiR.toString('hex') === s;
  else throw invalid(`\`ike\` must be ${IKE_SELECTOR}; got "${sel}"`);
  const sa = liveSas(d).find(match);
  if (!sa) throw new ControlError(ControlErrorCode.NOT_FOUND, `no IKE SA ${sel} (list-sas shows the current ones)`);
  return sa;
}

export function findChildSa(d: IkeDaemon, sel: string): ChildSa {
  const s = sel.toLowerCase().replace(/^0x/, '');
  if (!/^[0-9a-f]{1,8}$/.test(s)) throw invalid(`\`child\` must be ${CHILD_SELECTOR}; got "${sel}"`);
  const spi = parseInt(s, 16);
  for (const sa of liveSas(d)) {
    const c = sa.children.find((x) => x.state !== ChildState.DELETED && ((x.spiIn >>> 0) === spi || (x.spiOut >>> 0) === spi));
    if (c) return c;
  }
  throw new ControlError(ControlErrorCode.NOT_FOUND, `no child SA with SPI ${sel} (list-sas shows the current ones)`);
}

function requireEstablished(sa: IkeSa, what: string): void {
  if (sa.state !== IkeState.ESTABLISHED) {
    throw new ControlError(ControlErrorCode.INVALID_STATE, `cannot ${what}: IKE SA ${sa.name} is ${sa.state}, not ESTABLISHED`);
  }
}

/**
 * The value of an action's outcome, or throws: TIMEOUT (naming `what`) if it is not settled
 * within `timeoutMs` (the action goes on), INVALID_STATE or FAILED with the daemon's reason.
 */
async function outcomeOf<T>(started: Started<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), timeoutMs);
  });
  let o: Outcome<T> | undefined;
  try {
    o = await Promise.race([started.outcome, timeout]);
  } finally {
    clearTimeout(timer);
  }
  if (!o) {
    throw new ControlError(ControlErrorCode.TIMEOUT, `${what} did not finish within ${timeoutMs} ms; it may still complete (check list-sas)`);
  }
  if (o.ok) return o.value;
  const code = o.error === OutcomeError.INVALID_STATE ? ControlErrorCode.INVALID_STATE : ControlErrorCode.FAILED;
  throw new ControlError(code, `${what}: ${o.reason} (the daemon log says more)`);
}

// ---- counters (list-sas {counters: true}, status) ----

/** The data plane's drops by reason, asked through KernelIpsec (never the addon itself). */
async function espDrops(d: IkeDaemon): Promise<EspDropsView> {
  const k = d.manager.kernel;
  if (!k.stats) return { available: false, reason: `the ${k.name} data plane does not count drops` };
  try {
    return espDropsView(await k.stats());
  } catch (err) {
    return { available: false, reason: `the ${k.name} data plane did not answer: ${(err as Error).message}` };
  }
}

async function status(t: ControlTarget): Promise<unknown> {
  const s = t.status();
  const espDropsNow = await espDrops(t.daemon);
  return s !== null && typeof s === 'object' ? { ...s, espDrops: espDropsNow } : { status: s, espDrops: espDropsNow };
}

async function childWithCounters(d: IkeDaemon, c: ChildSa): Promise<ChildSaView> {
  if (!c.isInstalled) return childSaView(c, null);
  try {
    const [inC, outC] = await Promise.all([d.manager.kernel.querySa(c.inRef), d.manager.kernel.querySa(c.outRef)]);
    return childSaView(c, { in: inC, out: outC });
  } catch {
    return childSaView(c, null);
  }
}

async function listSas(t: ControlTarget, p: Params): Promise<{ ikeSas: IkeSaView[] }> {
  const d = t.daemon;
  const ike = optString(p, 'ike', IKE_SELECTOR);
  const conn = optString(p, 'connection', 'a connection name');
  const counters = optBool(p, 'counters');
  let sas = ike ? [findIkeSa(d, ike)] : liveSas(d);
  if (conn) sas = sas.filter((sa) => sa.conn?.name === conn);
  const out: IkeSaView[] = [];
  for (const sa of sas) {
    const children = counters ? await Promise.all(sa.children.map((c) => childWithCounters(d, c))) : undefined;
    out.push({ ...ikeSaView(sa, children), ...t.describeIkeSa?.(sa) });
  }
  return { ikeSas: out };
}

// ---- actions ----

async function initiate(d: IkeDaemon, p: Params): Promise<{ ike: IkeSaView; refusedChildren?: string[] }> {
  const name = reqString(p, 'connection', 'the name of a configured connection');
  const remote = optString(p, 'remote', 'the peer address to use instead of remote.addrs');
  const timeoutMs = timeoutOf(p);
  const conn = d.connection(name);
  if (!conn) throw new ControlError(ControlErrorCode.NOT_FOUND, `no connection named "${name}"`);
  if (remote !== undefined && isIP(remote) === 0) throw invalid('`remote` must be an IPv4 or IPv6 address');
  if (!remote && !conn.cfg.remote.addrs?.some((a) => a !== '%any')) {
    throw invalid(`connection ${name} names no peer address (remote.addrs); pass \`remote\``);
  }
  let started: Awaited<ReturnType<IkeDaemon['establish']>>;
  try {
    started = await d.establish(name, { remote });
  } catch (err) {
    throw new ControlError(ControlErrorCode.FAILED, `cannot initiate ${name}: ${(err as Error).message}`, { cause: err });
  }
  const up = await outcomeOf(started, timeoutMs, `initiating ${name}`);
  return up.refusedChildren.length > 0 ? { ike: ikeSaView(up.sa), refusedChildren: up.refusedChildren } : { ike: ikeSaView(up.sa) };
}

async function terminateIke(d: IkeDaemon, p: Params): Promise<{ deleted: string; notified: boolean }> {
  const timeoutMs = timeoutOf(p);
  const force = optBool(p, 'force');
  const sa = findIkeSa(d, reqString(p, 'ike', IKE_SELECTOR));
  // A half-open SA has no keys to send a Delete with; `force` skips the peer entirely.
  if (force || sa.state === IkeState.CONNECTING) {
    await sa.run(() => sa.destroy('terminated by operator'));
    return { deleted: sa.name, notified: false };
  }
  await outcomeOf(await d.terminate(sa), timeoutMs, `deleting IKE SA ${sa.name}`);
  return { deleted: sa.name, notified: true };
}

async function terminateChild(d: IkeDaemon, p: Params): Promise<{ deleted: ChildSaView }> {
  const timeoutMs = timeoutOf(p);
  const child = findChildSa(d, reqString(p, 'child', CHILD_SELECTOR));
  requireEstablished(child.ike, 'delete a child SA');
  if (child.state === ChildState.CREATED) {
    throw new ControlError(ControlErrorCode.INVALID_STATE, `child SA ${hexSpi(child)} is still being created`);
  }
  await outcomeOf(await d.terminateChild(child), timeoutMs, `deleting child SA ${hexSpi(child)}`);
  return { deleted: childSaView(child) };
}

async function rekeyIke(d: IkeDaemon, p: Params): Promise<{ old: string; ike: IkeSaView }> {
  const timeoutMs = timeoutOf(p);
  const sa = findIkeSa(d, reqString(p, 'ike', IKE_SELECTOR));
  requireEstablished(sa, 'rekey');
  const next = await outcomeOf(await d.rekeyIke(sa), timeoutMs, `rekeying IKE SA ${sa.name}`);
  return { old: sa.name, ike: ikeSaView(next) };
}

async function rekeyChild(d: IkeDaemon, p: Params): Promise<{ old: ChildSaView; child: ChildSaView; ike: string }> {
  const timeoutMs = timeoutOf(p);
  const child = findChildSa(d, reqString(p, 'child', CHILD_SELECTOR));
  requireEstablished(child.ike, 'rekey a child SA');
  if (child.state !== ChildState.INSTALLED) {
    throw new ControlError(ControlErrorCode.INVALID_STATE, `child SA ${hexSpi(child)} is ${child.state}, not INSTALLED`);
  }
  const next = await outcomeOf(await d.rekeyChild(child), timeoutMs, `rekeying child SA ${hexSpi(child)}`);
  return { old: childSaView(child), child: childSaView(next), ike: next.ike.name };
}

async function dpd(d: IkeDaemon, p: Params): Promise<{ ike: string; alive: boolean; ms: number }> {
  const timeoutMs = timeoutOf(p);
  const sa = findIkeSa(d, reqString(p, 'ike', IKE_SELECTOR));
  requireEstablished(sa, 'check liveness');
  const started = Date.now();
  await outcomeOf(await d.dpd(sa), timeoutMs, `the liveness check of ${sa.name}`);
  return { ike: sa.name, alive: true, ms: Date.now() - started };
}

function hexSpi(c: ChildSa): string {
  return (c.spiIn >>> 0).toString(16).padStart(8, '0');
}

export const METHODS: Readonly<Record<string, MethodSpec>> = {
  methods: {
    description: 'the methods this daemon answers, with their parameters',
    params: '{}',
    run: async (_t, _p, ctx) => ({ methods: Object.entries(ctx.methods).map(([name, m]) => ({ name, params: m.params, description: m.description })) }),
  },
  status: {
    description: 'node status: data plane, IKE SA counts by state, routes, counters, ESP drops by reason',
    params: '{}',
    run: (t) => status(t),
  },
  'list-sas': {
    description: 'IKE SAs with state, peer, identities, SPIs, proposal, and their child SAs (SPIs, traffic selectors, state; counters: packets, bytes, ESP drops by reason)',
    params: '{ike?, connection?, counters?}',
    run: (t, p) => listSas(t, p),
  },
  initiate: {
    description: 'bring up a configured connection; answers once the IKE SA and its children are up',
    params: '{connection, remote?, timeoutMs?}',
    run: (t, p) => initiate(t.daemon, p),
  },
  'terminate-ike': {
    description: 'delete an IKE SA and its children with the peer (force: locally only)',
    params: '{ike, force?, timeoutMs?}',
    run: (t, p) => terminateIke(t.daemon, p),
  },
  'terminate-child': {
    description: 'delete one child SA with the peer',
    params: '{child, timeoutMs?}',
    run: (t, p) => terminateChild(t.daemon, p),
  },
  'rekey-ike': {
    description: 'rekey an IKE SA now; answers with the new IKE SA once the old one is deleted',
    params: '{ike, timeoutMs?}',
    run: (t, p) => rekeyIke(t.daemon, p),
  },
  'rekey-child': {
    description: 'rekey a child SA now; answers with the new child once the old one is deleted',
    params: '{child, timeoutMs?}',
    run: (t, p) => rekeyChild(t.daemon, p),
  },
  dpd: {
    description: 'a liveness check (empty INFORMATIONAL) now; answers when the peer answers',
    params: '{ike, timeoutMs?}',
    run: (t, p) => dpd(t.daemon, p),
  },
  members: {
    description: 'cluster members: id, address, VRRP role, load, age of the last report, stale or draining',
    params: '{}',
    run: async (t) => {
      if (!t.cluster) throw new ControlError(ControlErrorCode.NOT_FOUND, 'this node is not a cluster member (its config has no cluster: section)');
      return t.cluster.members();
    },
  },  vrrp: {
    description: 'this member\'s VRRP instance: state, priority, master, transitions, adverts in/out, checksum mismatches, drops by reason',
    params: '{}',
    run: async (t) => {
      if (!t.vrrp) throw new ControlError(ControlErrorCode.NOT_FOUND, 'this node runs no VRRP instance (its config has no cluster: section)');
      return t.vrrp.status();
    },
  },

};

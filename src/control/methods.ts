/**
 * The control socket's methods: a table of name -> { params, description, run }; a node adds
 * its own (cluster drain, redirect...) through ControlServerOptions.methods. Each handler
 * validates its params, acts through the IkeDaemon's public operations, and (for actions that
 * start an exchange) waits, bounded by `timeoutMs`, until the outcome is visible in the SA
 * tables, so the answer says what happened rather than "request sent".
 *
 * Handlers throw ControlError for outcomes the caller should see; anything else is a bug and
 * the server answers INTERNAL.
 */
import { isIP } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { IkeDaemon } from '../ike/daemon.js';
import { IkeState, type IkeSa } from '../ike/sa/ike-sa.js';
import { ChildState, type ChildSa } from '../ike/sa/child-sa.js';
import { TaskType } from '../ike/tasks/task.js';
import { ControlError, ControlErrorCode, DEFAULT_TIMEOUT_MS, MAX_TIMEOUT_MS } from './protocol.js';
import { childSaView, espDropsView, ikeSaView, type ChildSaView, type EspDropsView, type IkeSaView } from './views.js';

/** What the control socket drives: a Gateway (gateway or base-station node), or a test double. */
export interface ControlTarget {
  readonly daemon: IkeDaemon;
  status(): unknown;
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

/** Polls `done` until it returns a value (not undefined), or throws TIMEOUT naming `what`. */
async function waitFor<T>(done: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = done();
    if (v !== undefined) return v;
    if (Date.now() >= end) {
      throw new ControlError(ControlErrorCode.TIMEOUT, `${what} did not finish within ${timeoutMs} ms; it may still complete (check list-sas)`);
    }
    await sleep(Math.min(25, Math.max(1, end - Date.now())));
  }
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

async function listSas(d: IkeDaemon, p: Params): Promise<{ ikeSas: IkeSaView[] }> {
  const ike = optString(p, 'ike', IKE_SELECTOR);
  const conn = optString(p, 'connection', 'a connection name');
  const counters = optBool(p, 'counters');
  let sas = ike ? [findIkeSa(d, ike)] : liveSas(d);
  if (conn) sas = sas.filter((sa) => sa.conn?.name === conn);
  const out: IkeSaView[] = [];
  for (const sa of sas) {
    const children = counters ? await Promise.all(sa.children.map((c) => childWithCounters(d, c))) : undefined;
    out.push(ikeSaView(sa, children));
  }
  return { ikeSas: out };
}

// ---- actions ----

async function initiate(d: IkeDaemon, p: Params): Promise<{ ike: IkeSaView }> {
  const name = reqString(p, 'connection', 'the name of a configured connection');
  const remote = optString(p, 'remote', 'the peer address to use instead of remote.addrs');
  const timeoutMs = timeoutOf(p);
  const conn = d.connection(name);
  if (!conn) throw new ControlError(ControlErrorCode.NOT_FOUND, `no connection named "${name}"`);
  if (remote !== undefined && isIP(remote) === 0) throw invalid('`remote` must be an IPv4 or IPv6 address');
  if (!remote && !conn.cfg.remote.addrs?.some((a) => a !== '%any')) {
    throw invalid(`connection ${name} names no peer address (remote.addrs); pass \`remote\``);
  }
  let sa: IkeSa;
  try {
    sa = await d.initiate(name, { remote });
  } catch (err) {
    throw new ControlError(ControlErrorCode.FAILED, `cannot initiate ${name}: ${(err as Error).message}`, { cause: err });
  }
  await waitFor(() => (sa.isDead || (sa.established && !sa.tm.busy && sa.tm.queuedTasks().length === 0) ? true : undefined), timeoutMs, `initiating ${name}`);
  if (sa.isDead || !sa.established) {
    throw new ControlError(ControlErrorCode.FAILED, `IKE SA ${sa.name} for ${name} failed before it was established (the daemon log says why)`);
  }
  return { ike: ikeSaView(sa) };
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
  if (!sa.tm.hasTask(TaskType.IKE_DELETE)) await d.terminate(sa);
  await waitFor(() => (sa.isDead ? true : undefined), timeoutMs, `deleting IKE SA ${sa.name}`);
  return { deleted: sa.name, notified: true };
}

async function terminateChild(d: IkeDaemon, p: Params): Promise<{ deleted: ChildSaView }> {
  const timeoutMs = timeoutOf(p);
  const child = findChildSa(d, reqString(p, 'child', CHILD_SELECTOR));
  requireEstablished(child.ike, 'delete a child SA');
  if (child.state === ChildState.CREATED) {
    throw new ControlError(ControlErrorCode.INVALID_STATE, `child SA ${hexSpi(child)} is still being created`);
  }
  if (child.state !== ChildState.DELETING) await d.terminateChild(child);
  await waitFor(() => (child.state === ChildState.DELETED || child.ike.isDead ? true : undefined), timeoutMs, `deleting child SA ${hexSpi(child)}`);
  return { deleted: childSaView(child) };
}

async function rekeyIke(d: IkeDaemon, p: Params): Promise<{ old: string; ike: IkeSaView }> {
  const timeoutMs = timeoutOf(p);
  const sa = findIkeSa(d, reqString(p, 'ike', IKE_SELECTOR));
  requireEstablished(sa, 'rekey');
  if (sa.tm.hasTask(TaskType.IKE_REKEY) || sa.tm.hasTask(TaskType.IKE_DELETE)) {
    throw new ControlError(ControlErrorCode.INVALID_STATE, `IKE SA ${sa.name} is already being rekeyed or deleted`);
  }
  const before = new Set(d.manager.ikeSaList().map((s) => s.name));
  await d.rekeyIke(sa);
  const outcome = await waitFor(
    () => {
      if (sa.state === IkeState.ESTABLISHED) return sa.tm.hasTask(TaskType.IKE_REKEY) ? undefined : 'refused';
      // Replaced: done once the old SA is gone (its delete exchange finished).
      return sa.isDead ? 'rekeyed' : undefined;
    },
    timeoutMs,
    `rekeying IKE SA ${sa.name}`,
  );
  const next = liveSas(d).find((s) => !before.has(s.name) && s.established && s.conn === sa.conn && s.peerId === sa.peerId);
  if (outcome === 'refused' || !next) {
    throw new ControlError(ControlErrorCode.FAILED, `IKE SA ${sa.name} was not rekeyed (the peer refused or the SA was torn down; the daemon log says why)`);
  }
  return { old: sa.name, ike: ikeSaView(next) };
}

async function rekeyChild(d: IkeDaemon, p: Params): Promise<{ old: ChildSaView; child: ChildSaView; ike: string }> {
  const timeoutMs = timeoutOf(p);
  const child = findChildSa(d, reqString(p, 'child', CHILD_SELECTOR));
  requireEstablished(child.ike, 'rekey a child SA');
  if (child.state !== ChildState.INSTALLED) {
    throw new ControlError(ControlErrorCode.INVALID_STATE, `child SA ${hexSpi(child)} is ${child.state}, not INSTALLED`);
  }
  const before = new Set(liveSas(d).flatMap((sa) => sa.children));
  await d.rekeyChild(child);
  const outcome = await waitFor(
    () => {
      if (child.state === ChildState.DELETED) return 'rekeyed';
      if (child.state === ChildState.INSTALLED && !child.ike.tm.hasTask(TaskType.CHILD_REKEY)) return 'refused';
      return child.ike.isDead ? 'refused' : undefined;
    },
    timeoutMs,
    `rekeying child SA ${hexSpi(child)}`,
  );
  const next = liveSas(d)
    .flatMap((sa) => sa.children)
    .find((c) => !before.has(c) && c.reqid === child.reqid && c.state === ChildState.INSTALLED);
  if (outcome === 'refused' || !next) {
    throw new ControlError(ControlErrorCode.FAILED, `child SA ${hexSpi(child)} was not rekeyed (the peer refused or the IKE SA went away; the daemon log says why)`);
  }
  return { old: childSaView(child), child: childSaView(next), ike: next.ike.name };
}

async function dpd(d: IkeDaemon, p: Params): Promise<{ ike: string; alive: boolean; ms: number }> {
  const timeoutMs = timeoutOf(p);
  const sa = findIkeSa(d, reqString(p, 'ike', IKE_SELECTOR));
  requireEstablished(sa, 'check liveness');
  const started = Date.now();
  await d.dpd(sa);
  await waitFor(() => (sa.isDead || !sa.tm.hasTask(TaskType.IKE_DPD) ? true : undefined), timeoutMs, `the liveness check of ${sa.name}`);
  if (sa.isDead) throw new ControlError(ControlErrorCode.FAILED, `no answer from the peer of ${sa.name}: the IKE SA was torn down`);
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
    run: (t, p) => listSas(t.daemon, p),
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
};

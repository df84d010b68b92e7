/**
 * The IKE configuration model: connections (peers) with their children, as TypeScript types.
 *
 *   ConnectionConfig   the declarative form, with the config file's key names and units
 *                      (seconds), built by the YAML loader (src/config) or by code (tests,
 *                      the load generator)
 *        │ resolveConnection(c, path)   once: defaults, proposal strings, traffic selectors,
 *        ▼                              lifetimes and every unit conversion (s -> ms)
 *   ResolvedConnection what the daemon and the exchange code read, as is; the per-SA objects
 *                      share it (no per-SA copies)
 *
 * Errors name the config file's path (`connections.bs.children.s1.lifetime.jitter`), so the
 * loader passes them through unchanged.
 */
import { ProtocolId } from './constants.js';
import type { Proposal } from './codec/types.js';
import { espSuiteOf, parseProposals, proposalToString } from './proposal.js';
import { isSupportedDhGroup, isSupportedEncr, INTEG_ALGORITHMS, PRF_ALGORITHMS } from './crypto/index.js';
import { TransformType } from './constants.js';
import { isDynamic, parseTs } from './traffic-selectors.js';
import { ConfigError } from '../errors.js';

/** An identity as configured: "fqdn:gw.example.net", "192.0.2.1", "CN=gw, O=segw", "%any". */
export type IdentityText = string;

export interface PskAuthConfig {
  method: 'psk';
  /** The pre-shared key (UTF-8 text or raw octets). */
  secret: string | Buffer;
}

export interface CertAuthConfig {
  method: 'pubkey';
  /** PEM of our certificate (local side), then intermediates. */
  certs?: string[];
  /** PEM private key (local side). */
  privateKey?: string;
  /** PEM CA certificates that anchor the peer's chain (remote side). */
  cacerts?: string[];
  /** CRLs (PEM text or DER) for the peer's chain (remote side, RFC 5280 §5). */
  crls?: (string | Buffer)[];
  /** CRL files (absolute paths), re-read when they change (remote side). */
  crlFiles?: string[];
}

export type AuthConfig = PskAuthConfig | CertAuthConfig;

export interface EndConfig {
  /** Addresses of this end. Local: where we send from (optional); remote: peer address(es), or "%any". */
  addrs?: string[];
  port?: number;
  id?: IdentityText;
  auth: AuthConfig;
}

/** A lifetime as the config file's `lifetime:` / `ikeLifetime:` keys give it, in seconds. */
export interface LifetimeConfig {
  /** Seconds until rekey starts. 0: never rekey (strongSwan's rekey_time = 0). */
  rekey: number;
  /** Seconds of random jitter subtracted from rekey (strongSwan's rand_time); needs rekey > 0. */
  jitter?: number;
  /** Seconds until hard expiry (default rekey * 1.1; with rekey 0, default none). */
  life?: number;
}

export interface ChildConfig {
  name: string;
  localTs: string[];
  remoteTs: string[];
  espProposals: string[];
  mode?: 'tunnel' | 'transport';
  lifetime?: LifetimeConfig;
  /** Anti-replay window (packets); default 32 like strongSwan. */
  replayWindow?: number;
}

/** The `retransmit:` keys of a connection, in seconds (resolved into RetransmitConfig). */
export interface RetransmitSettings {
  timeout?: number;
  base?: number;
  tries?: number;
  maxInterval?: number;
}

/** Resolved retransmission schedule (ms). */
export interface RetransmitConfig {
  /** First retransmission after this many ms (strongSwan retransmit_timeout 4 s). */
  timeoutMs: number;
  /** Multiplier per try (retransmit_base 1.8). */
  base: number;
  /** Retransmissions before giving up (retransmit_tries 5). */
  tries: number;
  /** Upper bound of one interval. */
  maxIntervalMs: number;
}

export interface ConnectionConfig {
  name: string;
  local: EndConfig;
  remote: EndConfig;
  ikeProposals: string[];
  children: ChildConfig[];
  /** IKE SA rekey (§2.18); lifeTime here is rekeyTime + over time. */
  ikeLifetime?: LifetimeConfig;
  /** DPD (§2.4 liveness) interval in seconds, 0 = off. */
  dpdDelay?: number;
  /** RFC 7383: offer fragmentation and fragment messages above `fragmentSize` octets of IP packet. */
  fragmentation?: boolean;
  fragmentSize?: number;
  retransmit?: RetransmitSettings;
  /** Send CERTREQ for our CAs (cert auth). */
  sendCertReq?: boolean;
  /** Initiator: follow RFC 5685 redirects (bounded, §9). */
  followRedirects?: boolean;
  /** Send INITIAL_CONTACT in the first IKE_AUTH (initiator). */
  initialContact?: boolean;
  /**
   * No other connection of the daemon uses this connection's local identity (the load
   * generator: one connection per simulated base station). INITIAL_CONTACT (RFC 7296 §2.4: the
   * only IKE SA between the two identities) is then sent when this connection has no other IKE
   * SA, not only when no IKE SA of the peer identity exists at all. Default false.
   */
  ownIdentity?: boolean;
  /** Port the peer is reached on (initiator): 500 by default. */
  remotePort?: number;
}

export interface ResolvedLifetime {
  rekeyMs: number;
  randMs: number;
  lifeMs: number;
}

export interface ResolvedChild {
  readonly cfg: ChildConfig;
  readonly name: string;
  readonly proposals: Proposal[];
  readonly mode: 'tunnel' | 'transport';
  readonly lifetime: ResolvedLifetime;
  readonly replayWindow: number;
}

export interface ResolvedConnection {
  readonly cfg: ConnectionConfig;
  readonly name: string;
  readonly ikeProposals: Proposal[];
  readonly children: ResolvedChild[];
  readonly ikeLifetime: ResolvedLifetime;
  readonly dpdMs: number;
  readonly fragmentation: boolean;
  readonly fragmentSize: number;
  readonly retransmit: RetransmitConfig;
  readonly followRedirects: boolean;
  readonly initialContact: boolean;
  readonly ownIdentity: boolean;
}

export const DEFAULT_RETRANSMIT: RetransmitConfig = { timeoutMs: 4000, base: 1.8, tries: 5, maxIntervalMs: 60_000 };
/** strongSwan defaults: IKE rekey 4 h, child rekey 1 h, 10 % jitter. */
const DEFAULT_IKE_LIFETIME: LifetimeConfig = { rekey: 4 * 3600, jitter: 4 * 360 };
const DEFAULT_CHILD_LIFETIME: LifetimeConfig = { rekey: 3600, jitter: 360 };
/** RFC 7383 §2.5.1: 1280 for IPv6, 576 for IPv4 is the safe minimum; strongSwan uses 1280. */
export const DEFAULT_FRAGMENT_SIZE = 1280;

function fail(path: string, msg: string): never {
  throw new ConfigError(`${path}: ${msg}`);
}

/** Checks one lifetime against the config file's rules; `path` is where it sits (`...lifetime`). */
function resolveLifetime(l: LifetimeConfig | undefined, dflt: LifetimeConfig, path: string): ResolvedLifetime {
  const v = l ?? dflt;
  const secs = (x: number) => `${x} s`;
  if (!(v.rekey >= 0)) fail(`${path}.rekey`, `must be 0 (never rekey) or more seconds, got ${v.rekey}`);
  const jitter = v.jitter ?? (l ? 0 : dflt.jitter ?? 0);
  if (!(jitter >= 0)) fail(`${path}.jitter`, `must be 0 or more seconds, got ${jitter}`);
  if (v.rekey === 0 && jitter > 0) fail(`${path}.jitter`, 'has no meaning with rekey 0 (never rekey): remove it, or set rekey');
  if (v.rekey > 0 && jitter >= v.rekey) fail(`${path}.jitter`, `${secs(jitter)} must be below rekey (${secs(v.rekey)})`);
  const life = v.life ?? (v.rekey > 0 ? v.rekey * 1.1 : 0);
  if (!(life >= 0)) fail(`${path}.life`, `must be 0 or more seconds, got ${life}`);
  if (life > 0 && v.rekey > 0 && life <= v.rekey) fail(`${path}.life`, `${secs(life)} must be above rekey (${secs(v.rekey)})`);
  return { rekeyMs: v.rekey * 1000, randMs: jitter * 1000, lifeMs: life * 1000 };
}

/** Runs `fn`; a ConfigError from it (a proposal or selector parser) is prefixed with `path`. */
function at<T>(path: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(`${path}: ${err.message}`, { cause: err });
    throw err;
  }
}

function checkTs(list: string[], path: string): void {
  if (list.length === 0) fail(path, 'at least one traffic selector is needed');
  list.forEach((t, i) => {
    if (!isDynamic(t)) at(`${path}[${i}]`, () => parseTs(t));
  });
}

/** Every algorithm of an IKE proposal must be one the crypto module implements. */
function checkIkeSupported(ps: Proposal[], path: string): Proposal[] {
  for (const p of ps) {
    for (const t of p.transforms) {
      const ok =
        (t.type === TransformType.ENCR && isSupportedEncr(t.id, t.keyLength)) ||
        (t.type === TransformType.PRF && PRF_ALGORITHMS.has(t.id)) ||
        (t.type === TransformType.INTEG && INTEG_ALGORITHMS.has(t.id)) ||
        (t.type === TransformType.DH && isSupportedDhGroup(t.id));
      if (!ok) fail(path, `"${proposalToString(p)}" uses an algorithm segw does not implement`);
    }
  }
  return ps;
}

/** ESP proposals must be ones the data planes implement (AES-GCM-16, AES-CBC + HMAC-SHA2). */
function checkEspSupported(ps: Proposal[], path: string): Proposal[] {
  for (const p of ps) {
    const s = espSuiteOf(p);
    if (!s || (s.dh !== 0 && !isSupportedDhGroup(s.dh))) {
      fail(path, `ESP "${proposalToString(p)}" is not supported (use aes128gcm16, aes256gcm16, or aesNNN-sha256/384/512)`);
    }
  }
  return ps;
}

function resolveRetransmit(r: RetransmitSettings | undefined, path: string): RetransmitConfig {
  const out = { ...DEFAULT_RETRANSMIT };
  if (r?.timeout !== undefined) out.timeoutMs = r.timeout * 1000;
  if (r?.maxInterval !== undefined) out.maxIntervalMs = r.maxInterval * 1000;
  if (r?.base !== undefined) out.base = r.base;
  if (r?.tries !== undefined) out.tries = r.tries;
  if (!(out.timeoutMs > 0)) fail(`${path}.timeout`, 'must be above 0 seconds');
  if (!(out.maxIntervalMs >= out.timeoutMs)) fail(`${path}.maxInterval`, 'must not be below timeout');
  if (!(out.base >= 1)) fail(`${path}.base`, 'must be 1 or more');
  if (!(Number.isInteger(out.tries) && out.tries >= 0)) fail(`${path}.tries`, 'must be a whole number, 0 or more');
  return out;
}

/** `path` is where the child sits in the config file: `connections.<conn>.children.<name>`. */
export function resolveChild(c: ChildConfig, path: string): ResolvedChild {
  checkTs(c.localTs, `${path}.localTs`);
  checkTs(c.remoteTs, `${path}.remoteTs`);
  return {
    cfg: c,
    name: c.name,
    proposals: checkEspSupported(at(`${path}.espProposals`, () => parseProposals(c.espProposals, ProtocolId.ESP)), `${path}.espProposals`),
    mode: c.mode ?? 'tunnel',
    lifetime: resolveLifetime(c.lifetime, DEFAULT_CHILD_LIFETIME, `${path}.lifetime`),
    replayWindow: c.replayWindow ?? 32,
  };
}

/**
 * Validates a connection and resolves its defaults and units, once; throws ConfigError naming
 * the config file's path (`path`, default `connections.<name>`).
 */
export function resolveConnection(c: ConnectionConfig, path = `connections.${c.name}`): ResolvedConnection {
  if (!c.name) throw new ConfigError('connections: a connection needs a name');
  for (const [side, end] of [['local', c.local], ['remote', c.remote]] as const) {
    if (!end?.auth) fail(`${path}.${side}.auth`, 'is needed (psk or pubkey)');
    if (end.auth.method === 'psk' && !end.auth.secret) fail(path, `${side}.auth is psk: set psk or pskFile`);
  }
  const fragmentSize = c.fragmentSize ?? DEFAULT_FRAGMENT_SIZE;
  if (!(fragmentSize >= 576 && fragmentSize <= 65535)) fail(`${path}.fragmentSize`, 'must be 576..65535 octets');
  if (!(c.dpdDelay === undefined || c.dpdDelay >= 0)) fail(`${path}.dpd`, 'must be 0 (off) or more seconds');
  const names = new Set<string>();
  for (const ch of c.children) {
    if (names.has(ch.name)) fail(`${path}.children.${ch.name}`, 'is defined twice');
    names.add(ch.name);
  }
  const ikePath = `${path}.ikeProposals`;
  return {
    cfg: c,
    name: c.name,
    ikeProposals: checkIkeSupported(at(ikePath, () => parseProposals(c.ikeProposals, ProtocolId.IKE)), ikePath),
    children: c.children.map((ch) => resolveChild(ch, `${path}.children.${ch.name}`)),
    ikeLifetime: resolveLifetime(c.ikeLifetime, DEFAULT_IKE_LIFETIME, `${path}.ikeLifetime`),
    dpdMs: (c.dpdDelay ?? 0) * 1000,
    fragmentation: c.fragmentation ?? true,
    fragmentSize,
    retransmit: resolveRetransmit(c.retransmit, `${path}.retransmit`),
    followRedirects: c.followRedirects ?? true,
    initialContact: c.initialContact ?? true,
    ownIdentity: c.ownIdentity ?? false,
  };
}

/** A connection handed to the daemon: resolved already (the config loader's) or declarative. */
export function asResolved(c: ConnectionConfig | ResolvedConnection): ResolvedConnection {
  return 'cfg' in c ? c : resolveConnection(c);
}

/** Rekey delay with jitter: rekey - random(0..rand) (strongSwan's model). */
export function jitteredRekey(l: ResolvedLifetime, random = Math.random): number {
  return Math.max(0, l.rekeyMs - Math.floor(random() * l.randMs));
}

/** Global daemon settings (not per connection). */
export interface IkeDaemonSettings {
  /** Half-open IKE SAs (responder) above which cookies are demanded (§2.6). */
  cookieThreshold: number;
  /** Half-open SAs allowed per peer address (IPv6: per /64); more are dropped. */
  halfOpenPerPeer: number;
  /**
   * Half-open SAs in total; more are dropped, except from addresses that completed IKE_AUTH
   * before, which may use a further tenth (src/ike/sa/manager.ts).
   */
  halfOpenMax: number;
  /** Responder half-open SAs are destroyed after this many ms. */
  halfOpenTimeoutMs: number;
  /** Cookie secret rotation interval (ms). */
  cookieSecretLifetimeMs: number;
  /** Max redirects followed within redirectWindowMs (RFC 5685 §9). */
  maxRedirects: number;
  redirectWindowMs: number;
  /** Send INVALID_IKE_SPI answers to unknown requests (§2.21.4), rate-limited. */
  answerInvalidSpi: boolean;
  /**
   * Responder: the most distinct prefixes a child's remote traffic selectors may cover (each
   * becomes an injected route; the gateway sets it from kernel.routes.maxPerChild). A child
   * beyond it is refused with TS_UNACCEPTABLE (RFC 7296 §3.10.1). 0: no limit.
   */
  maxRemotePrefixesPerChild: number;
}

export const DEFAULT_SETTINGS: IkeDaemonSettings = {
  cookieThreshold: 30,
  halfOpenPerPeer: 100,
  halfOpenMax: 20_000,
  halfOpenTimeoutMs: 30_000,
  cookieSecretLifetimeMs: 300_000,
  maxRedirects: 5,
  redirectWindowMs: 300_000,
  answerInvalidSpi: true,
  maxRemotePrefixesPerChild: 0,
};

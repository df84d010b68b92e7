/**
 * The IKE configuration model: connections (peers) with their children, as TypeScript types.
 * A config file loader (YAML) produces these objects; the daemon and the exchange code read
 * only these. `resolveConnection` fills defaults and parses proposal strings once, so the
 * per-SA objects share one resolved connection (no per-SA copies).
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

export interface LifetimeConfig {
  /** Seconds until rekey starts. 0: never rekey. */
  rekeyTime: number;
  /** Seconds of random jitter subtracted from rekeyTime (strongSwan's rand_time). */
  randTime?: number;
  /** Seconds until hard expiry (default rekeyTime * 1.1). */
  lifeTime?: number;
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
  retransmit?: Partial<RetransmitConfig>;
  /** Send CERTREQ for our CAs (cert auth). */
  sendCertReq?: boolean;
  /** Initiator: follow RFC 5685 redirects (bounded, §9). */
  followRedirects?: boolean;
  /** Send INITIAL_CONTACT in the first IKE_AUTH (initiator). */
  initialContact?: boolean;
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
}

export const DEFAULT_RETRANSMIT: RetransmitConfig = { timeoutMs: 4000, base: 1.8, tries: 5, maxIntervalMs: 60_000 };
/** strongSwan defaults: IKE rekey 4 h, child rekey 1 h, 10 % jitter. */
const DEFAULT_IKE_LIFETIME: LifetimeConfig = { rekeyTime: 4 * 3600, randTime: 4 * 360 };
const DEFAULT_CHILD_LIFETIME: LifetimeConfig = { rekeyTime: 3600, randTime: 360 };
/** RFC 7383 §2.5.1: 1280 for IPv6, 576 for IPv4 is the safe minimum; strongSwan uses 1280. */
export const DEFAULT_FRAGMENT_SIZE = 1280;

function resolveLifetime(l: LifetimeConfig | undefined, dflt: LifetimeConfig, what: string): ResolvedLifetime {
  const v = l ?? dflt;
  if (!(v.rekeyTime >= 0)) throw new ConfigError(`${what}: rekeyTime must be >= 0 seconds`);
  const rand = v.randTime ?? (l ? 0 : dflt.randTime ?? 0);
  if (rand < 0 || (v.rekeyTime > 0 && rand >= v.rekeyTime)) {
    throw new ConfigError(`${what}: randTime must be >= 0 and below rekeyTime`);
  }
  const life = v.lifeTime ?? (v.rekeyTime > 0 ? v.rekeyTime * 1.1 : 0);
  if (life > 0 && v.rekeyTime > 0 && life <= v.rekeyTime) {
    throw new ConfigError(`${what}: lifeTime must be above rekeyTime`);
  }
  return { rekeyMs: v.rekeyTime * 1000, randMs: rand * 1000, lifeMs: life * 1000 };
}

function checkTs(list: string[], what: string): void {
  if (list.length === 0) throw new ConfigError(`${what}: at least one traffic selector is needed`);
  for (const t of list) if (!isDynamic(t)) parseTs(t);
}

/** Every algorithm of an IKE proposal must be one the crypto module implements. */
function checkIkeSupported(ps: Proposal[], what: string): Proposal[] {
  for (const p of ps) {
    for (const t of p.transforms) {
      const ok =
        (t.type === TransformType.ENCR && isSupportedEncr(t.id, t.keyLength)) ||
        (t.type === TransformType.PRF && PRF_ALGORITHMS.has(t.id)) ||
        (t.type === TransformType.INTEG && INTEG_ALGORITHMS.has(t.id)) ||
        (t.type === TransformType.DH && isSupportedDhGroup(t.id));
      if (!ok) throw new ConfigError(`${what}: "${proposalToString(p)}" uses an algorithm segw does not implement`);
    }
  }
  return ps;
}

/** ESP proposals must be ones the data planes implement (AES-GCM-16, AES-CBC + HMAC-SHA2). */
function checkEspSupported(ps: Proposal[], what: string): Proposal[] {
  for (const p of ps) {
    const s = espSuiteOf(p);
    if (!s || (s.dh !== 0 && !isSupportedDhGroup(s.dh))) {
      throw new ConfigError(`${what}: ESP "${proposalToString(p)}" is not supported (use aes128gcm16, aes256gcm16, or aesNNN-sha256/384/512)`);
    }
  }
  return ps;
}

export function resolveChild(c: ChildConfig, conn: string): ResolvedChild {
  const what = `connection ${conn} child ${c.name}`;
  checkTs(c.localTs, `${what} localTs`);
  checkTs(c.remoteTs, `${what} remoteTs`);
  return {
    cfg: c,
    name: c.name,
    proposals: checkEspSupported(parseProposals(c.espProposals, ProtocolId.ESP), what),
    mode: c.mode ?? 'tunnel',
    lifetime: resolveLifetime(c.lifetime, DEFAULT_CHILD_LIFETIME, what),
    replayWindow: c.replayWindow ?? 32,
  };
}

/** Validates a connection and resolves its defaults; throws ConfigError naming the problem. */
export function resolveConnection(c: ConnectionConfig): ResolvedConnection {
  if (!c.name) throw new ConfigError('connection: a name is needed');
  for (const [side, end] of [['local', c.local], ['remote', c.remote]] as const) {
    if (!end?.auth) throw new ConfigError(`connection ${c.name}: ${side}.auth is needed (psk or pubkey)`);
    if (end.auth.method === 'psk' && !end.auth.secret) {
      throw new ConfigError(`connection ${c.name}: ${side}.auth psk needs a secret`);
    }
  }
  const fragmentSize = c.fragmentSize ?? DEFAULT_FRAGMENT_SIZE;
  if (fragmentSize < 576 || fragmentSize > 65535) {
    throw new ConfigError(`connection ${c.name}: fragmentSize must be 576..65535 octets`);
  }
  return {
    cfg: c,
    name: c.name,
    ikeProposals: checkIkeSupported(parseProposals(c.ikeProposals, ProtocolId.IKE), `connection ${c.name}`),
    children: c.children.map((ch) => resolveChild(ch, c.name)),
    ikeLifetime: resolveLifetime(c.ikeLifetime, DEFAULT_IKE_LIFETIME, `connection ${c.name} ikeLifetime`),
    dpdMs: (c.dpdDelay ?? 0) * 1000,
    fragmentation: c.fragmentation ?? true,
    fragmentSize,
    retransmit: { ...DEFAULT_RETRANSMIT, ...c.retransmit },
    followRedirects: c.followRedirects ?? true,
    initialContact: c.initialContact ?? true,
  };
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

/**
 * The `connections:` section shared by gateway and base-station configs, parsed into the IKE
 * configuration model (src/ike/config.ts) and resolved there once: the loader checks the
 * file's shape, reads the files it names (keys, certificates, CRLs) and hands the result to
 * `resolveConnection`, whose ResolvedConnection the daemon uses as is. Proposal strings,
 * traffic selectors, lifetimes and identities are checked at load time, so a bad config fails
 * before the daemon starts, with the path of the key.
 */
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { AuthConfig, ChildConfig, ConnectionConfig, ResolvedConnection } from '../ike/config.js';
import { resolveConnection } from '../ike/config.js';
import { parseIdentity } from '../ike/identity.js';
import { secretFileWarning } from './paths.js';
import { CrlFiles } from '../ike/crypto/crl.js';
import { loadCertificates } from '../ike/crypto/x509.js';
import { bool, configFail, ConfigKeyError, dict, duration, list, map, num, obj, oneOf, optional, str } from './schema.js';

/**
 * Reads a file named in the config, relative to the config file's directory. A secret (a key)
 * readable by others than its owner adds a warning to `warnings`.
 */
export function readConfigFile(baseDir: string, name: string, path: string, secret?: { warnings: string[] }): string {
  const p = resolve(baseDir, name);
  let text: string;
  try {
    text = readFileSync(p, 'utf8');
  } catch (err) {
    throw new ConfigKeyError(path, `cannot read ${p}: ${(err as Error).message}`, { cause: err });
  }
  const warning = secret && secretFileWarning(path, p);
  if (warning) secret.warnings.push(warning);
  return text;
}

/** A certificate file, read and parsed at load (errors name the key). */
function readCertificates(baseDir: string, name: string, path: string): string {
  const text = readConfigFile(baseDir, name, path);
  loadCertificates(text, `${path}: ${resolve(baseDir, name)}`);
  return text;
}

const identity = map(str({ hint: 'an identity (FQDN, address, user@domain, DN, or %any)' }), (s, path) => {
  if (s === '%any') return s;
  try {
    parseIdentity(s);
  } catch (err) {
    configFail(path, (err as Error).message);
  }
  return s;
});

const lifetime = obj({
  /** Seconds until rekey starts; 0 never rekeys. */
  rekey: duration(),
  /** Random jitter subtracted from rekey, so many tunnels do not rekey at once. */
  jitter: optional(duration()),
  /** Hard expiry (default rekey + 10 %). */
  life: optional(duration()),
});

const child = obj({
  localTs: list(str(), { min: 1, single: true }),
  remoteTs: list(str(), { min: 1, single: true }),
  espProposals: list(str(), { min: 1, single: true }),
  mode: optional(oneOf(['tunnel', 'transport'] as const)),
  lifetime: optional(lifetime),
  replayWindow: optional(num({ min: 0, max: 65536, integer: true })),
});

const end = obj({
  id: optional(identity),
  addrs: optional(list(str(), { single: true })),
  port: optional(num({ min: 1, max: 65535, integer: true })),
  auth: oneOf(['psk', 'pubkey'] as const),
  /** pubkey, local side: certificate (then intermediates) and private key files. */
  certs: optional(list(str(), { single: true })),
  privateKey: optional(str()),
  /** pubkey, remote side: CA files that anchor the peer's chain. */
  cacerts: optional(list(str(), { single: true })),
  /** pubkey, remote side: CRL files (PEM or DER, RFC 5280 §5), re-read when they change. */
  crls: optional(list(str(), { single: true })),
});

export const connectionField = obj({
  local: end,
  remote: end,
  /** The pre-shared key for psk ends: inline, or from a file (preferred). */
  psk: optional(str()),
  pskFile: optional(str()),
  ikeProposals: list(str(), { min: 1, single: true }),
  ikeLifetime: optional(lifetime),
  dpd: optional(duration()),
  fragmentation: optional(bool()),
  fragmentSize: optional(num({ min: 576, max: 65535, integer: true })),
  retransmit: optional(
    obj({
      timeout: optional(duration({ min: 0.1 })),
      base: optional(num({ min: 1, max: 10 })),
      tries: optional(num({ min: 0, max: 20, integer: true })),
      maxInterval: optional(duration({ min: 0.1 })),
    }),
  ),
  sendCertReq: optional(bool()),
  followRedirects: optional(bool()),
  initialContact: optional(bool()),
  children: dict(child, { keyPattern: /^[A-Za-z0-9_.-]{1,32}$/ }),
});

export const connectionsField = dict(connectionField, { keyPattern: /^[A-Za-z0-9_.-]{1,32}$/ });

type RawConnection = ReturnType<typeof connectionField.parse>;
type RawEnd = RawConnection['local'];

function toAuth(side: 'local' | 'remote', e: RawEnd, psk: string | undefined, baseDir: string, path: string, warnings: string[]): AuthConfig {
  if (e.crls && (side === 'local' || e.auth !== 'pubkey')) {
    configFail(`${path}.${side}.crls`, "CRLs check the peer's certificates: set them on the remote end, with auth pubkey");
  }
  // A key on the wrong end would be read by nobody: refuse it rather than ignore it.
  const misplaced: [keyof RawEnd, boolean, string][] = [
    ['certs', side === 'remote' || e.auth !== 'pubkey', 'our certificate goes on the local end, with auth pubkey'],
    ['privateKey', side === 'remote' || e.auth !== 'pubkey', 'our private key goes on the local end, with auth pubkey'],
    ['cacerts', side === 'local' || e.auth !== 'pubkey', "the CAs that anchor the peer's chain go on the remote end, with auth pubkey"],
  ];
  for (const [key, wrong, fix] of misplaced) if (wrong && e[key] !== undefined) configFail(`${path}.${side}.${key}`, fix);
  if (e.auth === 'psk') {
    if (psk === undefined) configFail(path, `${side}.auth is psk: set psk or pskFile`);
    return { method: 'psk', secret: psk };
  }
  if (side === 'local') {
    if (!e.certs?.length || !e.privateKey) configFail(`${path}.local`, 'auth pubkey needs certs and privateKey files');
    const privateKey = readConfigFile(baseDir, e.privateKey, `${path}.local.privateKey`, { warnings });
    try {
      createPrivateKey(privateKey); // parsed here too, so a bad key stops --check, not an IKE_AUTH
    } catch (err) {
      configFail(`${path}.local.privateKey`, `${resolve(baseDir, e.privateKey)} is not a private key in PEM (${(err as Error).message})`);
    }
    return { method: 'pubkey', certs: e.certs.map((f, i) => readCertificates(baseDir, f, `${path}.local.certs[${i}]`)), privateKey };
  }
  if (!e.cacerts?.length) configFail(`${path}.remote`, 'auth pubkey needs cacerts (the CAs that anchor the peer)');
  const cacerts = e.cacerts.map((f, i) => readCertificates(baseDir, f, `${path}.remote.cacerts[${i}]`));
  const crlFiles = e.crls?.map((f) => resolve(baseDir, f));
  if (crlFiles) {
    try {
      new CrlFiles(crlFiles); // loaded here too, so a bad file stops the start, not an IKE_AUTH
    } catch (err) {
      configFail(`${path}.remote.crls`, (err as Error).message);
    }
  }
  return { method: 'pubkey', cacerts, ...(crlFiles ? { crlFiles } : {}) };
}

/**
 * Turns one parsed `connections.<name>` entry into the IKE model and resolves it (once); doubts
 * about the files it reads (a key others can read) go to `warnings`.
 */
export function toConnection(name: string, c: RawConnection, baseDir: string, path: string, warnings: string[]): ResolvedConnection {
  if (c.psk !== undefined && c.pskFile !== undefined) configFail(path, 'set psk or pskFile, not both');
  if (c.local.port !== undefined) configFail(`${path}.local.port`, 'IKE listens on ike.port and ike.nattPort: set those instead');
  const psk = c.pskFile !== undefined ? readConfigFile(baseDir, c.pskFile, `${path}.pskFile`, { warnings }).trim() : c.psk;
  const children: ChildConfig[] = [...c.children].map(([cn, ch]) => ({
    name: cn,
    localTs: ch.localTs,
    remoteTs: ch.remoteTs,
    espProposals: ch.espProposals,
    mode: ch.mode,
    lifetime: ch.lifetime,
    replayWindow: ch.replayWindow,
  }));
  const conn: ConnectionConfig = {
    name,
    local: { id: c.local.id, addrs: c.local.addrs, auth: toAuth('local', c.local, psk, baseDir, path, warnings) },
    remote: { id: c.remote.id, addrs: c.remote.addrs, auth: toAuth('remote', c.remote, psk, baseDir, path, warnings) },
    // The peer's IKE port when we initiate (RFC 7296 §2: 500 unless configured).
    ...(c.remote.port !== undefined ? { remotePort: c.remote.port } : {}),
    ikeProposals: c.ikeProposals,
    children,
    ikeLifetime: c.ikeLifetime,
    dpdDelay: c.dpd,
    fragmentation: c.fragmentation,
    fragmentSize: c.fragmentSize,
    retransmit: c.retransmit,
    sendCertReq: c.sendCertReq,
    followRedirects: c.followRedirects,
    initialContact: c.initialContact,
  };
  return resolveConnection(conn, path);
}

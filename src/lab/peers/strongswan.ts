/**
 * strongSwan 5.9.8 (charon + swanctl) as a real peer inside a lab namespace. Settings measured
 * on these machines (../shared/PEERS.md): one strongswan.conf, vici socket and /run per daemon
 * (the pid file path is compiled in, so /run is bind-mounted in a private mount namespace);
 * kernel-libipsec before kernel-netlink, because the kernel has no ESP: ESP runs in userspace
 * over a TUN device (ipsec0) and always in UDP on port 4500.
 */
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { eventually } from '../eventually.js';
import { LabError } from '../../errors.js';
import type { Host } from '../lab.js';
import type { ExecResult } from '../exec.js';
import type { LabProcess } from '../process.js';
import { parseViciRaw, type ViciSection } from './vici-raw.js';

export const CHARON = '/usr/lib/ipsec/charon';

const PLUGINS =
  'random nonce openssl pem pkcs1 pkcs8 x509 revocation constraints pubkey curve25519 aes sha1 sha2 hmac gcm kdf ' +
  'kernel-libipsec kernel-netlink socket-default vici updown';

/** Credential directories swanctl --load-all reads (it complains about missing ones). */
const SWANCTL_DIRS = ['x509', 'x509ca', 'x509ocsp', 'x509aa', 'x509ac', 'x509crl', 'pubkey', 'private', 'rsa', 'ecdsa', 'bliss', 'pkcs8', 'pkcs12'];

export interface StrongSwanOptions {
  /** Used in file and process names. */
  name?: string;
  /** The `connections { }` / `secrets { }` body of swanctl.conf. */
  swanctl: string;
  /** Extra files under the swanctl directory, e.g. { 'x509ca/ca.pem': pem, 'private/k.pem': key }. */
  files?: Record<string, string | Buffer>;
  /** Extra settings inside `charon { }` of strongswan.conf. */
  charon?: string;
  /** charon log levels per subsystem (default: ike 2, cfg 1, others 1). */
  logLevels?: Record<string, number>;
  /** Load kernel-libipsec (default true): userspace ESP, since this kernel has none. */
  libipsec?: boolean;
}

export class StrongSwan {
  private constructor(
    readonly host: Host,
    readonly name: string,
    readonly dir: string,
    readonly process: LabProcess,
  ) {}

  get confPath(): string {
    return join(this.dir, 'strongswan.conf');
  }

  /** Writes the configuration, starts charon in `host` and loads swanctl.conf. */
  static async start(host: Host, opts: StrongSwanOptions): Promise<StrongSwan> {
    if (!existsSync(CHARON)) {
      throw new LabError(`${CHARON} not found: run scripts/install-test-deps.sh (strongswan-charon)`);
    }
    const name = opts.name ?? host.name;
    const dir = join(host.lab.dir, `strongswan-${name}`);
    for (const sub of ['run', ...SWANCTL_DIRS.map((d) => `swanctl/${d}`)]) {
      mkdirSync(join(dir, sub), { recursive: true });
    }
    writeFileSync(join(dir, 'strongswan.conf'), strongswanConf(dir, opts));
    writeFileSync(join(dir, 'swanctl', 'swanctl.conf'), opts.swanctl);
    for (const [rel, content] of Object.entries(opts.files ?? {})) {
      const p = join(dir, 'swanctl', rel);
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, content);
    }
    const proc = host.spawn(
      'unshare',
      ['-m', '--propagation', 'private', 'sh', '-c', `mount --bind '${dir}/run' /run && exec ${CHARON}`],
      { name: `charon-${name}`, env: { ...process.env, STRONGSWAN_CONF: join(dir, 'strongswan.conf') }, logFile: join(dir, 'charon.log') },
    );
    const ss = new StrongSwan(host, name, dir, proc);
    await ss.waitForVici();
    await ss.swanctl(['--load-all', '--file', join(dir, 'swanctl', 'swanctl.conf')]);
    return ss;
  }

  private async waitForVici(timeoutMs = 10_000): Promise<void> {
    const sock = join(this.dir, 'charon.vici');
    const seen = await eventually(() => (existsSync(sock) ? 'socket' : !this.process.running && 'exited'), {
      what: `charon ${this.name}'s vici socket`,
      timeoutMs,
    });
    if (seen === 'exited') throw new LabError(`charon ${this.name} exited at start:\n${this.process.output.slice(-3000)}`);
  }

  /** Runs swanctl against this daemon. */
  swanctl(args: string[], opts: { allowFail?: boolean; timeoutMs?: number } = {}): Promise<ExecResult> {
    return this.host.exec('swanctl', args, {
      env: { ...process.env, STRONGSWAN_CONF: this.confPath },
      allowFail: opts.allowFail,
      timeoutMs: opts.timeoutMs ?? 30_000,
    });
  }

  /** `swanctl --initiate --child NAME`; resolves when it reports success. */
  async initiate(child: string, opts: { ike?: string; timeoutS?: number } = {}): Promise<ExecResult> {
    const args = ['--initiate', '--child', child, '--timeout', String(opts.timeoutS ?? 15)];
    if (opts.ike) args.push('--ike', opts.ike);
    return this.swanctl(args, { timeoutMs: ((opts.timeoutS ?? 15) + 5) * 1000 });
  }

  /** IKE SAs as swanctl reports them (`--list-sas --raw`), keyed by connection name. */
  async listSas(): Promise<ViciSection[]> {
    const r = await this.swanctl(['--list-sas', '--raw']);
    return r.stdout
      .split('\n')
      .filter((l) => l.startsWith('list-sa event'))
      .map((l) => parseViciRaw(l.slice('list-sa event'.length)));
  }

  /** Polls listSas until `pred` holds; returns the last listing. */
  async waitForSas(pred: (sas: ViciSection[]) => boolean, timeoutMs = 15_000): Promise<ViciSection[]> {
    let last: ViciSection[] = [];
    await eventually(
      async () => {
        last = await this.listSas();
        if (!pred(last)) throw new Error(`SAs: ${JSON.stringify(last)}`);
        return true;
      },
      { what: `strongSwan ${this.name}'s SAs to meet the condition`, timeoutMs, intervalMs: 200 },
    );
    return last;
  }

  async stop(): Promise<void> {
    await this.process.stop('SIGTERM', 3000);
  }

  get log(): string {
    return this.process.output;
  }
}

function strongswanConf(dir: string, opts: StrongSwanOptions): string {
  const levels = { dmn: 1, mgr: 1, ike: 2, chd: 1, cfg: 1, knl: 1, net: 1, enc: 0, lib: 1, ...opts.logLevels };
  const plugins = opts.libipsec === false ? PLUGINS.replace('kernel-libipsec ', '') : PLUGINS;
  return `# written by segw's lab for one charon instance
charon {
  load = ${plugins}
  install_routes = yes
  port = 500
  port_nat_t = 4500
  plugins {
    vici { socket = unix://${dir}/charon.vici }
  }
  filelog {
    # The section name is the target; a 'path = /dev/stderr' cannot be opened when stderr is a socket.
    stderr {
      time_format = %H:%M:%S
      ${Object.entries(levels).map(([k, v]) => `${k} = ${v}`).join('\n      ')}
      default = 1
      flush_line = yes
    }
  }
  syslog { daemon { default = -1 } }
  ${opts.charon ?? ''}
}
swanctl {
  socket = unix://${dir}/charon.vici
}
`;
}

/**
 * The two responders under test, started inside the lab's responder namespace with the same
 * identity, PSK, proposal and selectors:
 *
 *   segw    `segw gateway` (src/cli, the working tree through tsx) with kernel.ipsec: stub and
 *           route injection off; DoS limits lifted (cookies, half-open per peer), as charon's
 *           dos_protection = no. heap-probe.mjs is preloaded to report JS heap figures.
 *   charon  strongSwan 5.9.8 with kernel-libipsec (userspace SA database, as segw's stub: the
 *           kernel here has no ESP, so kernel-netlink could not install an ESP SA at all) and
 *           the ../shared/PEERS.md benchmark settings: dos_protection = no,
 *           ikesa_table_size = 4096.
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import type { Host } from '../../src/lab/lab.js';
import type { LabProcess } from '../../src/lab/process.js';
import { StrongSwan } from '../../src/lab/peers/strongswan.js';
import { comm, pidIn, rssBytes } from './procfs.js';

const REPO = resolve(import.meta.dirname, '..', '..');
const PROBE = join(import.meta.dirname, 'heap-probe.mjs');

export const GW_ID = 'gw.segw.example';
export const CORE_TS = '203.0.113.0/24';

export interface ResponderSpec {
  /** IKE proposal in strongSwan syntax (both daemons read it). */
  proposal: string;
  esp: string;
  address: string;
  psk: string;
  /** The base stations' subnets (the child's remote TS). */
  pool: string;
  /** 'quiet': segw warn, charon -1 everywhere; 'default': segw info, charon 1 (their defaults). */
  log: 'quiet' | 'default';
  /** Write a V8 CPU profile of the segw gateway into this directory (stopped with SIGTERM then). */
  cpuProfDir?: string;
  /** Extra node flags for the segw gateway (experiments: GC settings). */
  nodeFlags?: string[];
  /** segw's data plane: 'stub' (the setting) or 'userspace' (the native ESP engine). */
  segwKernel?: 'stub' | 'userspace';
  /** segw only: the node name (default segw-gwN) and top-level config sections added or replaced (`cluster`, `control`). */
  name?: string;
  config?: Record<string, unknown>;
}

export interface MemorySample {
  rss: number;
  /** segw only (after two full GCs): heapUsed + external. */
  heapUsed?: number;
  external?: number;
}

export interface Responder {
  readonly name: 'segw' | 'charon';
  readonly pid: number;
  memory(): Promise<MemorySample>;
  stop(): Promise<void>;
}

let seq = 0;

async function waitUdpPort(host: Host, port: number, proc: LabProcess, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await host.exec('ss', ['-Hlun', `sport = :${port}`], { allowFail: true });
    if (r.stdout.trim()) return;
    if (!proc.running) throw new Error(`${proc.name} exited at start:\n${proc.output.slice(-3000)}`);
    if (Date.now() > deadline) throw new Error(`${proc.name}: UDP ${port} not bound after ${timeoutMs} ms:\n${proc.output.slice(-3000)}`);
    await sleep(100);
  }
}

export async function startSegw(host: Host, s: ResponderSpec): Promise<Responder> {
  const name = s.name ?? `segw-gw${++seq}`;
  const cfg = {
    node: { name },
    log: { level: s.log === 'quiet' ? 'warn' : 'info' },
    ike: { listen: [s.address], cookieThreshold: 1_000_000, halfOpenPerPeer: 1_000_000, halfOpenMax: 1_000_000 },
    // Userspace: SAs go to the native engine, and a route per child steers traffic into its TUN
    // device (as charon's kernel-libipsec does with its table 220).
    kernel: s.segwKernel === 'userspace' ? { ipsec: 'userspace', userspace: { tun: 'segw0', threads: 1 } } : { ipsec: 'stub', routes: { enabled: false } },
    connections: {
      ran: {
        local: { id: GW_ID, auth: 'psk' },
        remote: { id: '%any', addrs: ['%any'], auth: 'psk' },
        psk: s.psk,
        ikeProposals: [s.proposal],
        children: { core: { localTs: [CORE_TS], remoteTs: [s.pool], espProposals: [s.esp] } },
      },
    },
    ...s.config,
  };
  const file = join(host.lab.dir, `${name}.yaml`);
  writeFileSync(file, stringify(cfg));
  const prof = s.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${s.cpuProfDir}`] : [];
  const proc = host.spawn(process.execPath, [...prof, ...(s.nodeFlags ?? []), '--import', 'tsx', join(REPO, 'src/cli/main.ts'), 'gateway', '--config', file], {
    name,
    cwd: REPO,
    env: {
      ...process.env,
      NODE_OPTIONS: `--expose-gc --import=${pathToFileURL(PROBE).href}`,
      NODE_TEST_CONTEXT: undefined,
      SEGW_LOG_LEVEL: undefined,
    },
    logFile: join(host.lab.dir, `${name}.log`),
  });
  await waitUdpPort(host, 500, proc);
  const pid = proc.pid!;
  if (comm(pid) !== 'node') throw new Error(`segw gateway pid ${pid} is "${comm(pid)}", expected node`);
  let probes = 0;
  return {
    name: 'segw',
    pid,
    async memory() {
      const n = ++probes;
      process.kill(pid, 'SIGUSR2');
      const m = await proc.waitFor(new RegExp(`\\{"msg":"heap-probe","seq":${n},[^\\n]*\\}`), 120_000);
      const j = JSON.parse(m[0]) as { rss: number; heapUsed: number; external: number; gc: boolean };
      if (!j.gc) throw new Error('heap probe ran without gc(): --expose-gc did not reach the gateway');
      return { rss: rssBytes(pid), heapUsed: j.heapUsed, external: j.external };
    },
    async stop() {
      // A profile is written at a clean exit only.
      if (s.cpuProfDir) await proc.stop('SIGTERM', 30_000);
      else await proc.stop('SIGKILL', 2000);
    },
  };
}

const QUIET = Object.fromEntries(['dmn', 'mgr', 'ike', 'chd', 'cfg', 'knl', 'net', 'enc', 'lib', 'asn', 'job', 'esp', 'tls', 'app'].map((k) => [k, -1]));
const DEFAULT = Object.fromEntries(Object.keys(QUIET).map((k) => [k, 1]));

export async function startCharon(host: Host, s: ResponderSpec): Promise<Responder> {
  const swanctl = `connections {
  ran {
    version = 2
    local_addrs = ${s.address}
    proposals = ${s.proposal}
    send_certreq = no
    local { auth = psk
      id = ${GW_ID} }
    remote { auth = psk }
    children {
      core { local_ts = ${CORE_TS}
        remote_ts = ${s.pool}
        esp_proposals = ${s.esp} }
    }
  }
}
secrets { ike-ran { secret = "${s.psk}" } }
`;
  const ss = await StrongSwan.start(host, {
    name: `resp${++seq}`,
    swanctl,
    charon: 'dos_protection = no\n  ikesa_table_size = 4096',
    logLevels: s.log === 'quiet' ? QUIET : DEFAULT,
  });
  const pid = pidIn(host, 'charon');
  return {
    name: 'charon',
    pid,
    async memory() {
      return { rss: rssBytes(pid) };
    },
    async stop() {
      await ss.process.stop('SIGKILL', 2000);
    },
  };
}

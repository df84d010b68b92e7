/**
 * The demo's base stations: the simulator (`segw basestation` with a `simulate:` file, one
 * process holding N base stations on the primary VIP with the backup VIP after it), the
 * strongSwan base station bs1 on the primary VIP, and the pings bs1's LAN sends through its
 * tunnel to the server behind the core (`ping -O`, bounded in count and time).
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import type { LabProcess } from './process.js';
import { StrongSwan } from './peers/strongswan.js';
import type { DemoSite } from './demo-site.js';
import { SERVICE, SIM_POOL, STRONGSWAN_CHARON, STRONGSWAN_LAN, VIP, simulatorConfig, strongSwanClusterBaseStation } from './demo-config.js';

const REPO = resolve(import.meta.dirname, '..', '..');
/** The pings' bounds: one every 0.5 s for at most 15 minutes (a --keep run may last longer: it stops pinging). */
const PING_INTERVAL_S = 0.5;
const PING_DEADLINE_S = 900;

export interface BaseStations {
  strongswan: StrongSwan;
  sim: LabProcess;
  ping: LabProcess;
}

export async function startBaseStations(site: DemoSite, n: number, say: (m: string) => void): Promise<BaseStations> {
  const simFile = join(site.lab.dir, 'simulator.yaml');
  writeFileSync(simFile, stringify(simulatorConfig(n)));
  say(`starting the simulator: ${n} base stations (each its own identity, keys and /32 of ${SIM_POOL}), 100 new per second, primary VIP ${VIP} then the backup`);
  const sim = site.sim.spawn(process.execPath, ['--import', 'tsx', join(REPO, 'src/cli/main.ts'), 'basestation', '--config', simFile], {
    name: 'simulator',
    cwd: REPO,
    env: { ...process.env, NODE_TEST_CONTEXT: undefined, SEGW_LOG_LEVEL: 'error' },
    logFile: join(site.lab.dir, 'simulator.log'),
  });
  say(`starting strongSwan 5.9.8 as bs1 (its LAN ${STRONGSWAN_LAN.net}) and initiating to the VIP ${VIP}`);
  const strongswan = await StrongSwan.start(site.bs1, { name: 'bs1', swanctl: strongSwanClusterBaseStation(), charon: STRONGSWAN_CHARON });
  await strongswan.initiate('s1', { ike: 'vip', timeoutS: 30 });
  say(`bs1 pings the server ${SERVICE.server} from ${STRONGSWAN_LAN.addr} every ${PING_INTERVAL_S} s through its tunnel for the rest of the demo`);
  const ping = site.bs1.spawn('ping', ['-O', '-n', '-i', String(PING_INTERVAL_S), '-w', String(PING_DEADLINE_S), '-c', String(PING_DEADLINE_S / PING_INTERVAL_S), '-I', STRONGSWAN_LAN.addr, SERVICE.server], {
    name: 'ping-bs1',
  });
  return { strongswan, sim, ping };
}

/** The simulator deletes its SAs on SIGTERM (and prints its report), then strongSwan and the pings stop. */
export async function stopBaseStations(bs: BaseStations): Promise<void> {
  await bs.ping.stop('SIGINT', 2000);
  await bs.sim.stop('SIGTERM', 20_000);
  await bs.strongswan.stop();
}

/**
 * Both ends of bench/ike-setup's in-process measurements (inproc.ts, engine-memory.ts): `count`
 * base stations of src/initiator's population (distinct identities and /32 subnets of
 * 198.18.0.0/15, a null kernel) and a responder configured as `segw gateway` runs in the lab
 * bench (one connection for any peer, DoS limits lifted), on one in-memory wire that keeps no
 * capture log.
 */
import { IkeDaemon } from '../../src/ike/daemon.js';
import type { ChildConfig, ConnectionConfig } from '../../src/ike/config.js';
import type { KernelIpsec } from '../../src/kernel/types.js';
import type { Scheduler } from '../../src/ike/scheduler.js';
import { MemoryWire } from '../../src/ike/transport/memory.js';
import { NullKernelIpsec } from '../../src/initiator/null-kernel.js';
import { Population } from '../../src/initiator/population.js';

export const GW = '192.0.2.1';
const BS = '192.0.2.7';
const PSK = 'bench ike-setup pre-shared key 0123456789';

export interface InprocPairOptions {
  count: number;
  proposal: string;
  scheduler: Scheduler;
  /** The responder's kernel. */
  kernel: KernelIpsec;
  /** Added to every base station's connection and to its child. */
  initiator?: Partial<ConnectionConfig>;
  initiatorChild?: Partial<ChildConfig>;
}

export interface InprocPair {
  wire: MemoryWire;
  population: Population;
  initiators: IkeDaemon;
  responder: IkeDaemon;
}

export async function inprocPair(o: InprocPairOptions): Promise<InprocPair> {
  const wire = new MemoryWire({ keepLog: false }); // a log of every datagram would grow with the run
  const population = new Population({ count: o.count, subnetPool: '198.18.0.0/15', endpoints: [{ address: BS }] });
  const auth = { method: 'psk' as const, secret: PSK };
  const conns: ConnectionConfig[] = [];
  for (let i = 0; i < o.count; i++) {
    const bs = population.get(i);
    conns.push({
      name: bs.name,
      local: { addrs: [BS], id: bs.identity, auth },
      remote: { addrs: [GW], id: 'gw.segw.example', auth },
      ikeProposals: [o.proposal],
      ...o.initiator,
      children: [{ name: 'ran', localTs: [bs.subnet], remoteTs: ['203.0.113.0/24'], espProposals: ['aes128gcm16'], ...o.initiatorChild }],
    });
  }
  const initiators = new IkeDaemon({ connections: conns, kernel: new NullKernelIpsec(), scheduler: o.scheduler, sockets: [wire.socket({ address: BS, port: 500 })] });
  const responder = new IkeDaemon({
    connections: [{
      name: 'ran',
      local: { id: 'gw.segw.example', auth },
      remote: { addrs: ['%any'], id: '%any', auth },
      ikeProposals: [o.proposal],
      children: [{ name: 'core', localTs: ['203.0.113.0/24'], remoteTs: ['198.18.0.0/15'], espProposals: ['aes128gcm16'] }],
    }],
    kernel: o.kernel,
    scheduler: o.scheduler,
    sockets: [wire.socket({ address: GW, port: 500 })],
    settings: { cookieThreshold: 1e9, halfOpenPerPeer: 1e9, halfOpenMax: 1e9 },
  });
  await initiators.start();
  await responder.start();
  return { wire, population, initiators, responder };
}

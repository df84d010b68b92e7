/**
 * Two IKE daemons in one process on an in-memory wire, stepped message by message: the
 * initiator ("bs", a base station) and the responder ("gw", the gateway), each with a stub
 * kernel, one manual clock. `next()` delivers one datagram and waits until both sides are idle;
 * `describe()` prints a datagram the way the RFC writes exchanges.
 */
import { ExchangeType, HeaderFlag, NotifyType, PayloadType, nameOf } from '../../src/ike/constants.js';
import { decodeMessage, decodeProtected } from '../../src/ike/codec/index.js';
import type { ConnectionConfig } from '../../src/ike/config.js';
import { IkeDaemon, type IkeDaemonOptions } from '../../src/ike/daemon.js';
import { ManualClock, Scheduler } from '../../src/ike/scheduler.js';
import type { IkeSa } from '../../src/ike/sa/ike-sa.js';
import { MemoryWire, type WireDatagram } from '../../src/ike/transport/memory.js';
import { StubKernelIpsec } from '../../src/kernel/stub/ipsec.js';

export interface Side {
  daemon: IkeDaemon;
  kernel: StubKernelIpsec;
  addr: string;
}

export interface PairOptions {
  v6?: boolean;
  bs?: Partial<ConnectionConfig>;
  gw?: Partial<ConnectionConfig>;
  bsDaemon?: Partial<IkeDaemonOptions>;
  gwDaemon?: Partial<IkeDaemonOptions>;
  /** More gateways (redirect targets): address -> connection overrides. */
  extraGateways?: string[];
  extraGatewayDaemon?: Partial<IkeDaemonOptions>;
}

export const PSK = 'correct horse battery staple';

export function bsConfig(v6: boolean, over: Partial<ConnectionConfig> = {}): ConnectionConfig {
  const gw = v6 ? '2001:db8::1' : '192.0.2.1';
  return {
    name: 'bs',
    local: { id: 'bs1.example.net', auth: { method: 'psk', secret: PSK } },
    remote: { addrs: [gw], id: 'gw.example.net', auth: { method: 'psk', secret: PSK } },
    ikeProposals: ['aes128gcm16-prfsha256-ecp256'],
    children: [
      {
        name: 'lte',
        localTs: [v6 ? '2001:db8:10::/64' : '198.51.100.0/24'],
        remoteTs: [v6 ? '2001:db8:20::/48' : '203.0.113.0/24'],
        espProposals: ['aes128gcm16-esn'],
      },
    ],
    retransmit: { timeout: 1, base: 2, tries: 3 },
    ...over,
  };
}

export function gwConfig(v6: boolean, over: Partial<ConnectionConfig> = {}): ConnectionConfig {
  return {
    name: 'gw',
    local: { id: 'gw.example.net', auth: { method: 'psk', secret: PSK } },
    remote: { addrs: ['%any'], id: '%any', auth: { method: 'psk', secret: PSK } },
    ikeProposals: ['aes256gcm16-prfsha384-ecp384', 'aes128gcm16-prfsha256-ecp256', 'aes256-sha256-x25519'],
    children: [
      {
        name: 'lte',
        localTs: [v6 ? '2001:db8:20::/48' : '203.0.113.0/24'],
        remoteTs: [v6 ? '2001:db8:10::/56' : '198.51.100.0/24'],
        espProposals: ['aes256gcm16-esn', 'aes128gcm16-esn', 'aes128-sha256'],
      },
    ],
    retransmit: { timeout: 1, base: 2, tries: 3 },
    ...over,
  };
}

export class Pair {
  readonly clock = new ManualClock(1_000_000);
  readonly scheduler = new Scheduler(this.clock);
  readonly wire = new MemoryWire();
  readonly bs: Side;
  readonly gw: Side;
  readonly gateways: Side[] = [];

  constructor(readonly o: PairOptions = {}) {
    const v6 = o.v6 ?? false;
    this.bs = this.side(v6 ? '2001:db8::7' : '192.0.2.7', [bsConfig(v6, o.bs)], o.bsDaemon);
    this.gw = this.side(v6 ? '2001:db8::1' : '192.0.2.1', [gwConfig(v6, o.gw)], o.gwDaemon);
    for (const a of o.extraGateways ?? []) this.gateways.push(this.side(a, [gwConfig(v6, { ...o.gw })], o.extraGatewayDaemon));
  }

  private side(addr: string, connections: ConnectionConfig[], extra: Partial<IkeDaemonOptions> = {}): Side {
    const kernel = new StubKernelIpsec();
    const daemon = new IkeDaemon({
      connections,
      kernel,
      sockets: [this.wire.socket({ address: addr, port: 500 }), this.wire.socket({ address: addr, port: 4500 })],
      scheduler: this.scheduler,
      ...extra,
    });
    return { daemon, kernel, addr };
  }

  async start(): Promise<void> {
    for (const s of [this.bs, this.gw, ...this.gateways]) await s.daemon.start();
  }

  async settle(): Promise<void> {
    for (let i = 0; i < 3; i++) {
      for (const s of [this.bs, this.gw, ...this.gateways]) await s.daemon.idle();
    }
  }

  /** Delivers the next datagram (or drops it) and waits for both sides. */
  async next(drop = false): Promise<WireDatagram> {
    const d = this.wire.deliverNext(drop);
    if (!d) throw new Error('no datagram in flight');
    await this.settle();
    return d;
  }

  /** Delivers everything until the wire is quiet. */
  async run(limit = 100): Promise<number> {
    let n = 0;
    while (this.wire.queue.length > 0 && n < limit) {
      await this.next();
      n++;
    }
    return n;
  }

  async advance(ms: number): Promise<void> {
    this.scheduler.advance(ms);
    await this.settle();
  }

  async initiate(name = 'bs'): Promise<IkeSa> {
    const sa = await this.bs.daemon.initiate(name);
    await this.settle();
    return sa;
  }

  /** Initiates and runs until established. */
  async connect(): Promise<{ bsSa: IkeSa; gwSa: IkeSa }> {
    const bsSa = await this.initiate();
    await this.run();
    const gwSa = this.gw.daemon.manager.ikeSaList().find((s) => s.spiI.equals(bsSa.spiI) && !s.isDead);
    if (!gwSa) throw new Error('gateway has no SA');
    return { bsSa, gwSa };
  }

  async stop(): Promise<void> {
    for (const s of [this.bs, this.gw, ...this.gateways]) await s.daemon.stop();
  }

  /** The peer-side SA with the same SPIs. */
  peerOf(sa: IkeSa, side: Side): IkeSa | undefined {
    return side.daemon.manager.ikeSaList().find((s) => s.spiI.equals(sa.spiI) && s.spiR.equals(sa.spiR) && !s.isDead);
  }
}

/** "IKE_SA_INIT request { SA, KE, N(NAT_DETECTION_SOURCE_IP), ... }" for logs and asserts. */
export function describe(d: WireDatagram, sa?: IkeSa): string {
  const r = decodeMessage(d.data);
  if (!r.ok) return `undecodable (${r.error.code})`;
  const h = r.message.header;
  const resp = (h.flags & HeaderFlag.RESPONSE) !== 0;
  let payloads = r.message.payloads;
  if (sa?.skIn && payloads.at(-1)?.type === PayloadType.SK) {
    const o = decodeProtected({ message: r.message, raw: d.data }, sa.skIn);
    if (o.ok) payloads = o.message.payloads;
  }
  const names = payloads.map((p) => {
    if (p.type === PayloadType.NOTIFY && 'notifyType' in p) return `N(${nameOf(NotifyType, p.notifyType)})`;
    if (p.type === PayloadType.DELETE && 'protocol' in p) return `D(${p.protocol === 1 ? 'IKE' : 'ESP'})`;
    return nameOf(PayloadType, p.type);
  });
  return `${nameOf(ExchangeType, h.exchangeType)} ${resp ? 'response' : 'request'} #${h.messageId} { ${names.join(', ')} }`;
}

/** Payload/notify names of a datagram, decrypted with whichever SA can open it. */
export function payloadNames(d: WireDatagram, sas: IkeSa[]): string[] {
  for (const sa of sas) {
    const s = describe(d, sa);
    if (!s.includes('{ SK }') && !s.includes('SKF')) return s.replace(/^.*\{ (.*) \}$/, '$1').split(', ').filter(Boolean);
  }
  return describe(d).replace(/^.*\{ (.*) \}$/, '$1').split(', ');
}

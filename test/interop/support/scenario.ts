/**
 * One interop scenario: the topology, strongSwan and segw started with configurations written
 * from one TunnelSpec, a capture on the gateway's link from the first packet on. Either
 * `strongSwan initiator -> segw gateway` (segwRole 'gateway') or `segw basestation ->
 * strongSwan responder` (segwRole 'basestation'); `nat` puts a masquerading router between.
 *
 *   const sc = await Scenario.start(lab, { segwRole: 'gateway', spec });
 *   const t = await sc.up();                 // both report one tunnel, SPIs agree
 *   await sc.pingBothWays();
 *   const wire = await sc.finish();          // tshark over everything segw sent
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Lab } from '../../../src/lab/lab.js';
import { StrongSwan } from '../../../src/lab/peers/strongswan.js';
import { SegwProcess } from '../../../src/lab/peers/segw.js';
import { Capture } from '../../../src/lab/peers/tshark.js';
import { swanctlFiles } from './certs.js';
import { segwConfig, swanBaseStation, swanGateway, type TunnelSpec } from './configs.js';
import { oneTunnel, type Tunnel } from './sas.js';
import { buildTopology, pingCount, type Topology } from './topology.js';
import { checkWire, type WireReport } from './wire.js';
import { eventually } from '../../support/eventually.js';

export interface ScenarioOptions {
  segwRole: 'gateway' | 'basestation';
  spec: TunnelSpec;
  nat?: boolean;
  /** IPv6 for the IKE transport and the traffic selectors. */
  v6?: boolean;
}

export class Scenario {
  private constructor(
    readonly topo: Topology,
    readonly opts: ScenarioOptions,
    readonly ss: StrongSwan,
    readonly segw: SegwProcess,
    readonly cap: Capture,
    /** charon's log (StrongSwan.log stays empty: its stderr is a socket, which charon cannot open by path). */
    readonly swanLogFile: string,
  ) {}

  /** Everything charon logged so far. */
  get swanLogText(): string {
    try {
      return readFileSync(this.swanLogFile, 'utf8');
    } catch {
      return '';
    }
  }

  /** Where segw runs and its address; strongSwan's host and address. */
  get segwHost() {
    return this.opts.segwRole === 'gateway' ? this.topo.gw : this.topo.bs;
  }

  get swanHost() {
    return this.opts.segwRole === 'gateway' ? this.topo.bs : this.topo.gw;
  }

  get segwAddr(): string {
    return this.opts.segwRole === 'gateway' ? this.topo.gwAddr : this.topo.bsAddr;
  }

  /** segw's source address as the capture on the gateway's link sees it (the NAT's, behind one). */
  get segwOnWire(): string {
    return this.opts.segwRole === 'gateway' ? this.topo.gwAddr : this.topo.bsSeenAs;
  }

  static async start(lab: Lab, opts: ScenarioOptions): Promise<Scenario> {
    const topo = await buildTopology(lab, { nat: opts.nat, v6: opts.v6 });
    const lans = { bs: topo.bsLan, gw: topo.gwLan };
    const cap = await Capture.start(topo.gw, topo.gwIf);
    const { spec } = opts;
    const swanName = opts.segwRole === 'gateway' ? 'bs' : 'gw';
    const swanLogFile = join(lab.dir, `strongswan-${swanName}`, 'charon-full.log');
    const charon = { charon: charonFileLog(swanLogFile) };
    let ss: StrongSwan;
    let segw: SegwProcess;
    if (opts.segwRole === 'gateway') {
      const g = segwConfig(spec, 'gateway', topo.gwAddr, undefined, lans);
      segw = await SegwProcess.start(topo.gw, 'gateway', g.config, { files: g.files });
      ss = await StrongSwan.start(topo.bs, {
        name: swanName,
        swanctl: swanBaseStation(spec, topo.bsAddr, topo.gwAddr, lans),
        files: spec.certs && swanctlFiles(spec.certs, spec.certs.bs),
        ...charon,
      });
    } else {
      ss = await StrongSwan.start(topo.gw, {
        name: swanName,
        swanctl: swanGateway(spec, topo.gwAddr, lans),
        files: spec.certs && swanctlFiles(spec.certs, spec.certs.gw),
        ...charon,
      });
      const b = segwConfig(spec, 'basestation', topo.bsAddr, topo.gwAddr, lans);
      segw = await SegwProcess.start(topo.bs, 'basestation', b.config, { files: b.files });
    }
    return new Scenario(topo, opts, ss, segw, cap, swanLogFile);
  }

  /**
   * Brings the tunnel up (strongSwan initiates, or segw's base station already did at start)
   * and waits until both peers report it with the same SPIs.
   */
  async up(): Promise<Tunnel> {
    if (this.opts.segwRole === 'gateway') await this.ss.initiate('net', { ike: 'tun', timeoutS: 20 });
    return oneTunnel(this.ss, this.segw);
  }

  /** Echo replies both ways through the tunnel: base-station LAN -> gateway LAN and back. */
  async pingBothWays(count = 3): Promise<{ toGw: number; toBs: number }> {
    const { bs, gw, bsLan, gwLan } = this.topo;
    const toGw = await pingCount(bs, bsLan.addr, gwLan.addr, count);
    const toBs = await pingCount(gw, gwLan.addr, bsLan.addr, count);
    return { toGw, toBs };
  }

  /** Log lines of segw whose msg matches. */
  segwLog(msg: RegExp): Record<string, unknown>[] {
    return this.segw.logLines().filter((l) => msg.test(l.msg));
  }

  /** Waits until charon's log matches `re` (`count` times). */
  async waitSwanLog(re: RegExp, opts: { count?: number; timeoutMs?: number } = {}): Promise<string[]> {
    const count = opts.count ?? 1;
    return eventually(
      () => {
        const lines = this.swanLog(re);
        if (lines.length < count) throw new Error(`${lines.length}/${count} lines; log tail:\n${this.swanLogText.slice(-3000)}`);
        return lines;
      },
      { what: `charon to log ${re}`, timeoutMs: opts.timeoutMs ?? 15_000, intervalMs: 200 },
    );
  }

  /** Lines of charon's log matching `re`. */
  swanLog(re: RegExp): string[] {
    return this.swanLogText.split('\n').filter((l) => re.test(l));
  }

  /**
   * Stops both peers, the base station first: a segw gateway answers strongSwan's last Deletes;
   * a segw base station leaves with its own Deletes, as it would keep its connection up (initiate
   * again) after a strongSwan gateway's. Then stops the capture and runs the wire check over it
   * with the keys strongSwan logged.
   */
  async finish(): Promise<WireReport & { segwCounters: Record<string, number> }> {
    const { counters } = await this.segw.ctl<{ counters: Record<string, number> }>('status');
    if (this.opts.segwRole === 'basestation') await this.segw.stop();
    await this.ss.stop();
    const log = this.swanLogText;
    await this.segw.stop();
    const file = this.cap.file;
    await this.cap.stop();
    const wire = await checkWire(file, { segwAddrs: [this.segwOnWire], ikeProposal: this.opts.spec.ike, charonLog: log });
    return { ...wire, segwCounters: counters };
  }
}

/**
 * A charon file log (added to strongswan.conf's charon section; settings sections merge). Level
 * 4 for ike logs the SK_* keys, which the wire check decrypts with: test peers only.
 */
function charonFileLog(path: string): string {
  return `filelog {
    segwtest {
      path = ${path}
      time_format = %H:%M:%S
      ike_name = yes
      default = 1
      ike = 4
      chd = 2
      cfg = 2
      knl = 1
      net = 1
      enc = 1
      flush_line = yes
    }
  }`;
}

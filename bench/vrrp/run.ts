/**
 * bench/vrrp: VIP takeover time after a master is killed (SIGSTOP then SIGKILL, no resignation),
 * segw's VRRP beside keepalived 2.2.7 measured the same way in the same run, at advert intervals
 * 1 s and 0.1 s, printed beside RFC 9568's Master_Down_Interval.
 *
 *   node --import tsx bench/vrrp/run.ts                 # 20 kills per row
 *   KILLS=5 INTERVALS=100 node --import tsx bench/vrrp/run.ts
 *
 * Topology: two VRRP nodes and an observer on one bridge. Both nodes run priority 100 without
 * preemption, so a restarted node rejoins as backup and the survivor stays master: each round
 * kills the current master, waits for the other to take over, restarts the killed one.
 * Takeover is read from a capture on the observer (one clock for every frame): from the old
 * master's last advert to the new master's first advert, and to its first gratuitous ARP.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { withLab, type Host, type Lab } from '../../src/lab/lab.js';
import { Keepalived } from '../../src/lab/peers/keepalived.js';
import { SegwVrrp } from '../../src/lab/peers/segw-vrrp.js';
import { eventually } from '../../src/lab/eventually.js';
import { run } from '../../src/lab/exec.js';
import { masterDownIntervalMs } from '../../src/vrrp/timers.js';

const KILLS = Number(process.env.KILLS ?? 20);
const INTERVALS = (process.env.INTERVALS ?? '1000,100').split(',').map(Number);
const PRIORITY = 100;
const VIP = '203.0.113.10';
const ADDR = ['203.0.113.1', '203.0.113.2'];

/** One VRRP node process, whichever implementation. */
interface Node {
  isMaster(): boolean;
  isBackup(): boolean;
  crash(): Promise<void>;
  stop(): Promise<void>;
}

interface Impl {
  name: string;
  start(h: Host, intervalMs: number, tag: string): Promise<Node>;
}

const segw: Impl = {
  name: 'segw',
  async start(h, intervalMs, tag) {
    const n = await SegwVrrp.start(
      h,
      { interface: 'eth0', vrid: 61, priority: PRIORITY, preempt: false, advertInterval: intervalMs, vips: [`${VIP}/24`] },
      { name: `segw-${tag}` },
    );
    return { isMaster: () => n.state() === 'Master', isBackup: () => n.state() === 'Backup', crash: () => n.crash(), stop: () => n.stop() };
  },
};

const keepalived: Impl = {
  name: 'keepalived 2.2.7',
  async start(h, intervalMs, tag) {
    const k = await Keepalived.start(
      h,
      [{ interface: 'eth0', vrid: 62, priority: PRIORITY, nopreempt: true, advertInterval: intervalMs / 1000, vips: [`${VIP}/24`] }],
      { name: `ka-${tag}` },
    );
    const out = () => k.process.output;
    const last = () => {
      const m = [...out().matchAll(/Entering (MASTER|BACKUP) STATE/g)];
      return m.length ? m[m.length - 1][1] : '';
    };
    return { isMaster: () => last() === 'MASTER', isBackup: () => last() === 'BACKUP', crash: () => k.crash(), stop: () => k.stop() };
  },
};

interface Frame {
  t: number; // ms
  kind: 'advert' | 'garp';
  src: string;
  priority: number;
}

async function readCapture(file: string): Promise<Frame[]> {
  const r = await run('tshark', ['-n', '-r', file, '-T', 'fields', '-E', 'separator=\t', '-e', 'frame.time_epoch', '-e', 'ip.src', '-e', 'vrrp.prio', '-e', 'arp.src.proto_ipv4', '-e', 'arp.isgratuitous'], { timeoutMs: 120_000 });
  const frames: Frame[] = [];
  for (const line of r.stdout.split('\n')) {
    const [t, ipSrc, prio, arpSrc, grat] = line.split('\t');
    if (!t) continue;
    if (ipSrc && prio) frames.push({ t: Number(t) * 1000, kind: 'advert', src: ipSrc, priority: Number(prio) });
    else if (arpSrc === VIP && (grat === '1' || grat === 'True')) frames.push({ t: Number(t) * 1000, kind: 'garp', src: '', priority: 0 });
  }
  return frames;
}

interface Kill {
  at: number; // Date.now() when the kill began
  old: string;
  next: string;
}

/** Takeover per kill: old master's last advert before the kill -> new master's first advert / GARP after it. */
function takeovers(frames: Frame[], kills: Kill[]): { advert: number; garp: number }[] {
  return kills.map((k, i) => {
    const end = kills[i + 1]?.at ?? Infinity;
    const lastOld = frames.filter((f) => f.kind === 'advert' && f.src === k.old && f.t <= k.at + 5).at(-1);
    const firstNew = frames.find((f) => f.kind === 'advert' && f.src === k.next && f.t > k.at && f.t < end && f.priority > 0);
    const firstGarp = frames.find((f) => f.kind === 'garp' && f.t > k.at && f.t < end);
    if (!lastOld || !firstNew) throw new Error(`kill ${i}: no ${lastOld ? 'advert from the new master' : 'advert from the old master'} in the capture`);
    return { advert: firstNew.t - lastOld.t, garp: firstGarp ? firstGarp.t - lastOld.t : NaN };
  });
}

async function measure(lab: Lab, hosts: Host[], observer: Host, impl: Impl, intervalMs: number): Promise<{ advert: number; garp: number }[]> {
  const tag = `${impl.name.split(' ')[0]}-${intervalMs}`;
  const file = join(lab.dir, `${tag}.pcap`);
  const cap = observer.spawn('tcpdump', ['-n', '-i', 'eth0', '-U', '-w', file, 'proto 112 or arp'], { name: `tcpdump-${tag}` });
  await cap.waitFor(/listening on/, 10_000);
  const nodes: (Node | undefined)[] = [await impl.start(hosts[0], intervalMs, `${tag}-a0`)];
  await eventually(() => nodes[0]!.isMaster(), { what: 'first master', timeoutMs: 20_000 });
  nodes[1] = await impl.start(hosts[1], intervalMs, `${tag}-b0`);
  await eventually(() => nodes[1]!.isBackup(), { what: 'first backup', timeoutMs: 20_000 });
  const kills: Kill[] = [];
  let master = 0;
  for (let i = 0; i < KILLS; i++) {
    const other = 1 - master;
    // Steady state: the backup has heard several adverts since it started.
    await sleep(Math.max(3 * intervalMs, 500));
    kills.push({ at: Date.now(), old: ADDR[master], next: ADDR[other] });
    await nodes[master]!.crash();
    await eventually(() => nodes[other]!.isMaster(), { what: `${impl.name} takeover ${i + 1}`, timeoutMs: 20_000, intervalMs: 10 });
    nodes[master] = await impl.start(hosts[master], intervalMs, `${tag}-${master ? 'b' : 'a'}${i + 1}`);
    await eventually(() => nodes[master]!.isBackup(), { what: 'restarted node in backup', timeoutMs: 20_000 });
    master = other;
    process.stderr.write('.');
  }
  await sleep(6000); // let the last master's second GARP burst and adverts land in the capture
  for (const n of nodes) await n?.stop();
  await cap.stop('SIGINT', 5000);
  process.stderr.write('\n');
  return takeovers(await readCapture(file), kills);
}

const pct = (xs: number[], p: number) => {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] : NaN;
};
const ms = (x: number) => (Number.isNaN(x) ? '-' : x.toFixed(0));

await withLab('benchvrrp', async (lab) => {
  const sw = await lab.switch('lan');
  const hosts = [await lab.host('n1'), await lab.host('n2')];
  const observer = await lab.host('obs');
  for (const [i, h] of hosts.entries()) await sw.attach(h, `${ADDR[i]}/24`, { ifname: 'eth0' });
  await sw.attach(observer, '203.0.113.100/24', { ifname: 'eth0' });
  const rows: string[] = [];
  for (const intervalMs of INTERVALS) {
    const mdi = masterDownIntervalMs(PRIORITY, intervalMs / 10);
    for (const impl of [segw, keepalived]) {
      process.stderr.write(`${impl.name}, advert interval ${intervalMs} ms: ${KILLS} kills `);
      const t = await measure(lab, hosts, observer, impl, intervalMs);
      const adv = t.map((x) => x.advert);
      const garp = t.map((x) => x.garp);
      const p95 = pct(adv, 95);
      rows.push(
        `| ${intervalMs} ms | ${impl.name} | ${mdi.toFixed(1)} | ${ms(pct(adv, 50))} | ${ms(p95)} | ${ms(pct(garp, 50))} | ${ms(pct(garp, 95))} | ${ms(p95 - mdi)} | ${t.length} |`,
      );
    }
  }
  console.log(`VIP takeover after SIGKILL of the master (priority ${PRIORITY}, no preemption), from the old master's last advert, ms`);
  console.log('| advert interval | implementation | Master_Down_Interval | advert median | advert p95 | GARP median | GARP p95 | p95 - MDI | kills |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) console.log(r);
});

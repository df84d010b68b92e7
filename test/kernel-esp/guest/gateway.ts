/**
 * Guest scenarios: a segw gateway on the kernel's XFRM data plane against strongSwan on the
 * kernel's ESP (./tunnel.ts). Run by ../gateway.test.ts through scripts/uml-run.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { withLab } from '../../../src/lab/lab.js';
import { mark, type Scenario } from './scenario.js';
import { eventually } from '../../support/eventually.js';
import { SegwProcess } from '../../../src/lab/peers/segw.js';
import { makeCerts } from '../../interop/support/certs.js';
import { pingCount } from '../../interop/support/topology.js';
import { noTunnel } from '../../interop/support/sas.js';
import { bringUp, GCM, startKernelTunnel, trafficThroughKernel, type KernelTunnel } from './tunnel.js';
import { xfrmPolicies, xfrmStates } from './xfrm-show.js';

/** kernel.ipsec: xfrm, PSK: ping and iperf3 both ways, ESP counted by both kernels. */
const xfrmPsk: Scenario = async (ev) => {
  await withLab('kpsk', async (lab) => {
    const kt = await startKernelTunnel(lab, { ipsec: 'xfrm' }, ev);
    try {
      ev.dataPlane = kt.dataPlane;
      assert.equal(kt.dataPlane, 'xfrm');
      const t = await bringUp(kt);
      mark(ev, 'tunnel up');
      ev.child = t.segw.children[0];
      Object.assign(ev, await trafficThroughKernel(kt, t));
      mark(ev, 'traffic');
      ev.gwPolicies = await xfrmPolicies(kt.topo.gw);
    } finally {
      await stopBoth(kt);
      mark(ev, 'stopped');
    }
  });
};

/** kernel.ipsec: auto must choose XFRM (the probe finds ESP); ECDSA certificates; traffic both ways. */
const autoCerts: Scenario = async (ev) => {
  const certs = makeCerts({ type: 'ecdsa', size: 256 });
  try {
    await withLab('kauto', async (lab) => {
      const kt = await startKernelTunnel(lab, { ipsec: 'auto', spec: { ...GCM, certs } });
      try {
        ev.dataPlane = kt.dataPlane;
        ev.reason = kt.reason;
        assert.equal(kt.dataPlane, 'xfrm', `auto chose ${kt.dataPlane}: ${kt.reason}`);
        const t = await bringUp(kt);
        ev.child = t.segw.children[0];
        ev.peerId = t.segwSa.remote.id;
        Object.assign(ev, await trafficThroughKernel(kt, t, 1));
      } finally {
        await stopBoth(kt);
      }
    });
  } finally {
    certs.cleanup();
  }
};

/**
 * Another daemon's XFRM state and a static route in the gateway's namespace: segw must never
 * touch them. (reqid 7 is what a charon of the same namespace could use.)
 */
const FOREIGN = [
  ['xfrm', 'state', 'add', 'src', '203.0.113.7', 'dst', '198.51.100.2', 'proto', 'esp', 'spi', '0x00000777', 'reqid', '7', 'mode', 'tunnel',
    'aead', 'rfc4106(gcm(aes))', '0x0707070707070707070707070707070707070707', '128'],
  ['xfrm', 'policy', 'add', 'src', '192.0.2.240/28', 'dst', '192.0.2.224/28', 'dir', 'out',
    'tmpl', 'src', '198.51.100.2', 'dst', '203.0.113.7', 'proto', 'esp', 'reqid', '7', 'mode', 'tunnel'],
  ['route', 'add', '192.0.2.240/28', 'via', '198.51.100.1', 'proto', 'static'],
];

/**
 * SIGKILL of the gateway leaves its SAs, policies and `proto segw` routes in the kernel; the
 * next start removes exactly those (another daemon's state stays) and serves again.
 */
const sigkillRestart: Scenario = async (ev) => {
  await withLab('kkill', async (lab) => {
    const kt = await startKernelTunnel(lab, { ipsec: 'xfrm' });
    const { gw, bs, bsLan, gwLan } = kt.topo;
    let segw2: SegwProcess | undefined;
    try {
      for (const args of FOREIGN) await gw.exec('ip', args);
      const t = await bringUp(kt);
      const child = t.segw.children[0]!;
      ev.child = child;
      assert.equal(await pingCount(bs, bsLan.addr, gwLan.addr), 3);
      await kt.segw.kill();
      const spis = (await xfrmStates(gw)).map((s) => s.spi);
      ev.afterKill = { spis, policies: await xfrmPolicies(gw), routes: (await gw.exec('ip', ['route', 'show', 'proto', '200'])).stdout };
      assert.ok(spis.includes(child.spiIn) && spis.includes(child.spiOut), 'SIGKILL left the SAs in the kernel');
      segw2 = await SegwProcess.start(gw, 'gateway', readConfig(kt), { name: 'gateway-gw-2', dist: true, timeoutMs: 30_000 });
      const after = {
        states: await xfrmStates(gw),
        policies: await xfrmPolicies(gw),
        segwRoutes: (await gw.exec('ip', ['route', 'show', 'proto', '200'])).stdout.trim(),
        staticRoutes: (await gw.exec('ip', ['route', 'show', 'proto', 'static'])).stdout.trim(),
      };
      ev.afterRestart = after;
      assert.deepEqual(after.states.map((s) => `${s.spi} ${s.reqid}`), ['00000777 7'], 'only the other daemon\'s SA is left');
      assert.deepEqual(after.policies.map((p) => `${p.dir} ${p.src} ${p.dst} ${p.tmpl?.reqid}`), ['out 192.0.2.240/28 192.0.2.224/28 7']);
      assert.equal(after.segwRoutes, '', 'no proto segw route of the killed run');
      assert.match(after.staticRoutes, /^192\.0\.2\.240\/28 via 198\.51\.100\.1/);
      // The base station notices nothing until it tries; start over and carry traffic again.
      await kt.ss.swanctl(['--terminate', '--ike', 'tun', '--force'], { allowFail: true });
      const restarted = { ...kt, segw: segw2 };
      await noTunnel(kt.ss, segw2);
      const t2 = await bringUp(restarted);
      ev.child2 = t2.segw.children[0];
      ev.pingAfterRestart = { toGw: await pingCount(bs, bsLan.addr, gwLan.addr), toBs: await pingCount(gw, gwLan.addr, bsLan.addr) };
      assert.deepEqual(ev.pingAfterRestart, { toGw: 3, toBs: 3 });
    } finally {
      await kt.ss.stop();
      await segw2?.stop();
      await kt.segw.stop();
    }
  });
};

/**
 * DPD: the base station dies (charon SIGKILLed, nothing sent); segw's liveness checks go
 * unanswered and it removes the IKE SA, and with it the child's SAs, policies and route.
 */
const dpdDeadPeer: Scenario = async (ev) => {
  await withLab('kdpd', async (lab) => {
    const spec = { ...GCM, segw: { dpd: 1, retransmit: { timeout: 0.5, base: 1.5, tries: 2 } } };
    const kt = await startKernelTunnel(lab, { ipsec: 'xfrm', spec }, ev);
    const { gw } = kt.topo;
    try {
      const t = await bringUp(kt);
      ev.child = t.segw.children[0];
      ev.before = { states: (await xfrmStates(gw)).length, policies: (await xfrmPolicies(gw)).length };
      assert.deepEqual(ev.before, { states: 2, policies: 3 });
      await kt.ss.process.stop('SIGKILL', 1000);
      mark(ev, 'peer killed');
      await eventually(async () => (await kt.segw.ctl<{ ikeSas: unknown[] }>('list-sas')).ikeSas.length === 0, { timeoutMs: 30_000 });
      mark(ev, 'dpd removed the IKE SA');
      await eventually(async () => {
        const left = {
          states: await xfrmStates(gw),
          policies: await xfrmPolicies(gw),
          routes: (await gw.exec('ip', ['route', 'show', 'proto', '200'])).stdout.trim(),
        };
        ev.after = left;
        return left.states.length === 0 && left.policies.length === 0 && left.routes === '';
      }, { timeoutMs: 10_000 });
      ev.deadLog = kt.segw.logLines().filter((l) => /dead|DPD|liveness/i.test(l.msg)).map((l) => l.msg);
    } finally {
      await stopBoth(kt);
    }
  });
};

/** The config file the tunnel's segw was started with (a restart uses the same). */
function readConfig(kt: KernelTunnel): Record<string, unknown> {
  const cfg = parse(readFileSync(kt.segw.configFile, 'utf8')) as Record<string, unknown>;
  delete cfg.control; // the second process gets its own socket
  return cfg;
}

async function stopBoth(kt: KernelTunnel): Promise<void> {
  await kt.ss.stop();
  await kt.segw.stop();
}

export const scenarios: Record<string, Scenario> = {
  'xfrm-psk': xfrmPsk,
  'auto-certs': autoCerts,
  'sigkill-restart': sigkillRestart,
  'dpd-dead-peer': dpdDeadPeer,
};

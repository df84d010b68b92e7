/**
 * segw's VRRP against keepalived 2.2.7 in the same VRID on one LAN (namespaces): election in both
 * priority orders, failover both ways after a crash (SIGSTOP then SIGKILL, PEERS.md), preemption
 * when the higher priority returns, the checksum-form mismatch reported, and tshark decoding
 * segw's adverts without a malformed or checksum flag.
 *
 * keepalived 2.2.7 computes VRRPv3 IPv4 checksums only with the RFC 5798 pseudo-header (its
 * `v3_checksum_as_v2` came in a later release; 2.2.7 logs it as an unknown keyword), so segw talks
 * to it with checksum 'pseudo-header' and accepts that form besides RFC 9568's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, withLab, type Host } from '../../src/lab/lab.js';
import { Keepalived } from '../../src/lab/peers/keepalived.js';
import { SegwVrrp } from '../../src/lab/peers/segw-vrrp.js';
import { Capture } from '../../src/lab/peers/tshark.js';
import { decodeVrrp } from '../../src/lab/peers/tshark-vrrp.js';
import { vrrpLan } from './support/vrrp-lan.js';
import { eventually } from '../support/eventually.js';
import { virtualLinkLocal } from '../../src/vrrp/constants.js';

const VIP = '203.0.113.10';
const holdsVip = (h: Host) => h.hasAddress(`${VIP}/24`);
const VRID = 51;


async function lan(lab: Lab) {
  const { nodes: [s, k], client } = await vrrpLan(lab, ['segw', 'ka']);
  return { s: s!, k: k!, client };
}

const segwStrict = (priority: number) => ({ interface: 'eth0', vrid: VRID, priority, advertInterval: 100, vips: [`${VIP}/24`] });
/** The settings that interoperate with keepalived 2.2.7. */
const segwOpts = (priority: number) => ({ ...segwStrict(priority), checksum: 'pseudo-header' as const, acceptChecksums: ['rfc9568' as const, 'pseudo-header' as const] });
const kaOpts = (priority: number) => ({ interface: 'eth0', vrid: VRID, priority, advertInterval: 0.1, vips: [`${VIP}/24`] });

test('segw 200 over keepalived 100: segw is master; kill -9 segw and keepalived takes over; segw back preempts; tshark reads segw clean', { timeout: 120_000 }, async () => {
  let id = '';
  await withLab('vrrpka1', async (lab) => {
    id = lab.id;
    const { s, k, client } = await lan(lab);
    const cap = await Capture.start(client, 'eth0', { filter: 'proto 112', name: 'vrrp' });
    const segw = await SegwVrrp.start(s, segwOpts(200));
    await segw.waitForState('Master');
    const ka = await Keepalived.start(k, [kaOpts(100)]);
    await ka.waitForState('BACKUP');
    assert.equal(await holdsVip(s), true);
    assert.equal(await holdsVip(k), false);
    assert.equal(await client.ping(VIP), true);
    // keepalived stays backup through 20 of segw's adverts (2 s, over 5 of its Master_Down_Intervals).
    const sent = (await segw.status()).advertsOut;
    await eventually(async () => (await segw.status()).advertsOut >= sent + 20, { what: '20 more segw adverts', timeoutMs: 10_000 });
    assert.doesNotMatch(ka.process.output, /Entering MASTER STATE/);

    await segw.crash();
    await ka.waitForState('MASTER', 5000);
    await eventually(() => holdsVip(k), 'keepalived holds the VIP');
    assert.equal(await client.ping(VIP), true);

    // segw returns with the higher priority and preempts.
    const again = await SegwVrrp.start(s, segwOpts(200), { name: 'segw-again' });
    await again.waitForState('Master');
    await eventually(async () => (await holdsVip(s)) && !(await holdsVip(k)), 'the VIP moved back to segw');
    const st = await again.status();
    assert.equal(st.checksumMismatches, 0);
    assert.ok(st.advertsIn > 0, 'segw heard keepalived before preempting');
    await again.stop();
    await ka.process.waitFor(/Entering MASTER STATE[\s\S]*Entering BACKUP STATE[\s\S]*Entering MASTER STATE/, 5000);
    await ka.stop();

    await cap.stop();
    const vrrp = await decodeVrrp(cap.file, { checksum: 'pseudo-header' });
    const ours = vrrp.filter((f) => f.src === '203.0.113.1');
    assert.ok(ours.length >= 10, `segw adverts captured: ${ours.length}`);
    for (const f of ours) {
      assert.equal(f.checksum, 'good');
      assert.equal(f.malformed, false);
      assert.deepEqual(f.expert, []);
      assert.equal(f.hopLimit, 255);
      assert.equal(f.vrid, VRID);
    }
    assert.ok(ours.some((f) => f.priority === 0), 'the SIGTERM resignation (priority 0) was sent');
  });
  assert.deepEqual(await Lab.leftovers(id), { namespaces: [], links: [] });
});

test('keepalived 200 over segw 100: keepalived is master; crash it and segw takes over; keepalived back preempts and segw drops the VIP', { timeout: 120_000 }, async () => {
  let id = '';
  await withLab('vrrpka2', async (lab) => {
    id = lab.id;
    const { s, k, client } = await lan(lab);
    const ka = await Keepalived.start(k, [kaOpts(200)]);
    await ka.waitForState('MASTER');
    // segw is configured with 1 s; as a backup it adopts the master's advertised 0.1 s (§6.4.2).
    const segw = await SegwVrrp.start(s, { ...segwOpts(100), advertInterval: 1000 });
    await segw.waitForState('Backup');
    await eventually(async () => (await segw.status()).masterAddress === '203.0.113.2', 'segw follows keepalived');
    assert.equal(await holdsVip(s), false);
    const adopted = await segw.status();
    assert.equal(adopted.masterAdverInterval, 100, 'segw adopted the advertised interval');
    assert.equal(adopted.masterDownInterval, 300 + (156 * 100) / 256, 'Master_Down_Interval from the adopted interval');

    await ka.crash();
    await segw.waitForState('Master', 5000);
    await eventually(() => holdsVip(s), 'segw holds the VIP');
    assert.equal(await client.ping(VIP), true);

    const ka2 = await Keepalived.start(k, [kaOpts(200)], { name: 'keepalived-again' });
    await ka2.waitForState('MASTER', 10_000);
    await segw.waitForState('Backup', 5000);
    await eventually(async () => !(await holdsVip(s)), 'segw removed the VIP');
    assert.equal(await holdsVip(k), true);
    const st = await segw.status();
    assert.equal(st.checksumMismatches, 0);
    assert.equal(st.transitions, 3); // Initialize->Backup->Master->Backup
    await segw.stop();
    await ka2.stop();
  });
  assert.deepEqual(await Lab.leftovers(id), { namespaces: [], links: [] });
});

test('checksum form: keepalived (pseudo-header) vs segw RFC 9568 only is reported, once per peer; accepting and sending that form interoperates', { timeout: 120_000 }, async () => {
  let id = '';
  await withLab('vrrpka3', async (lab) => {
    id = lab.id;
    const { s, k, client } = await lan(lab);
    const cap = await Capture.start(client, 'eth0', { filter: 'proto 112', name: 'vrrp' });
    const ka = await Keepalived.start(k, [kaOpts(200)]);
    await ka.waitForState('MASTER');
    const strict = await SegwVrrp.start(s, segwStrict(100));
    await eventually(async () => (await strict.status()).checksumMismatches >= 3, 'mismatches counted');
    const lines = strict.logged(/checksum mismatch/);
    assert.equal(lines.length, 1, 'logged once for the peer');
    assert.equal(lines[0].peer, '203.0.113.2');
    assert.deepEqual(lines[0].expected, ['rfc9568']);
    assert.equal(lines[0].seen, 'pseudo-header');
    // Unable to read keepalived, segw goes master too: the misconfiguration an operator must see.
    await strict.waitForState('Master', 5000);
    await eventually(async () => (await strict.status()).advertsOut >= 10, 'segw advertising in the RFC 9568 form');
    await strict.stop();

    const legacy = await SegwVrrp.start(s, { ...segwOpts(100), checksum: 'pseudo-header', acceptChecksums: ['rfc9568', 'pseudo-header'] }, { name: 'segw-legacy' });
    await legacy.waitForState('Backup');
    await eventually(async () => (await legacy.status()).advertsIn >= 3, 'keepalived adverts accepted');
    const st = await legacy.status();
    assert.equal(st.checksumMismatches, 0);
    assert.equal(st.state, 'Backup');
    assert.equal(st.masterAddress, '203.0.113.2');
    await legacy.stop();
    await ka.stop();
    await cap.stop();
    // tshark: segw's RFC 9568 adverts check good under RFC 9568's rule, keepalived's under RFC 5798's.
    const rfc9568 = await decodeVrrp(cap.file, { checksum: 'rfc9568' });
    // (The legacy node stayed backup and sent nothing: every segw frame is the strict node's.)
    const fromSegw = rfc9568.filter((f) => f.src === '203.0.113.1');
    assert.ok(fromSegw.length >= 10, `segw frames: ${fromSegw.length}`);
    for (const f of fromSegw) assert.deepEqual([f.checksum, f.malformed, f.expert, f.hopLimit], ['good', false, [], 255]);
    const rfc5798 = await decodeVrrp(cap.file, { checksum: 'pseudo-header' });
    for (const f of rfc5798.filter((x) => x.src === '203.0.113.2')) assert.equal(f.checksum, 'good');
  });
  assert.deepEqual(await Lab.leftovers(id), { namespaces: [], links: [] });
});

test('IPv6: keepalived 200 over segw 100 on ff02::12; keepalived crashes and segw takes the IPv6 VIP; a lower keepalived then follows segw; no checksum mismatch', { timeout: 120_000 }, async () => {
  const VIP6 = '2001:db8::10';
  let id = '';
  await withLab('vrrpka6', async (lab) => {
    id = lab.id;
    const sw = await lab.switch('lan');
    const s = await lab.host('segw');
    const k = await lab.host('ka');
    const client = await lab.host('client');
    await sw.attach(s, '2001:db8::1/64', { ifname: 'eth0' });
    await sw.attach(k, '2001:db8::2/64', { ifname: 'eth0' });
    await sw.attach(client, '2001:db8::100/64', { ifname: 'eth0' });
    const holds = async (h: Host) => (await h.exec('ip', ['-6', '-o', 'addr', 'show', 'dev', 'eth0'])).stdout.includes(`${VIP6}/64`);
    // RFC 9568 §5.2.9: the virtual router's link-local address comes first; keepalived drops
    // adverts whose address count differs from its own list, so both list the same two.
    const vips = [`${virtualLinkLocal(VRID)}/64`, `${VIP6}/64`];
    const ka = await Keepalived.start(k, [{ interface: 'eth0', vrid: VRID, priority: 200, advertInterval: 0.1, vips }]);
    await ka.waitForState('MASTER');
    const segw = await SegwVrrp.start(s, { interface: 'eth0', vrid: VRID, priority: 100, advertInterval: 100, vips: [`${VIP6}/64`] });
    await segw.waitForState('Backup');
    await eventually(async () => (await segw.status()).advertsIn >= 5, 'segw reads keepalived\'s IPv6 adverts');
    const st = await segw.status();
    assert.equal(st.checksumMismatches, 0);
    assert.equal(st.addressMismatches, 0);
    assert.match(String(st.masterAddress), /^fe80:/);
    assert.equal(await holds(s), false);

    await ka.crash();
    await segw.waitForState('Master', 5000);
    await eventually(() => holds(s), 'segw holds the IPv6 VIP');
    assert.equal(await client.ping(VIP6), true);

    // The other way: a lower-priority keepalived reads segw's IPv6 adverts and stays backup.
    const ka2 = await Keepalived.start(k, [{ interface: 'eth0', vrid: VRID, priority: 50, advertInterval: 0.1, vips }], { name: 'keepalived-low' });
    await ka2.waitForState('BACKUP');
    const sent = (await segw.status()).advertsOut;
    await eventually(async () => (await segw.status()).advertsOut >= sent + 20, { what: '20 more segw adverts', timeoutMs: 10_000 });
    assert.doesNotMatch(ka2.process.output, /Entering MASTER STATE/);
    await segw.stop();
    await ka2.stop();
  });
  assert.deepEqual(await Lab.leftovers(id), { namespaces: [], links: [] });
});

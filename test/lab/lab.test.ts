import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Lab, withLab } from '../../src/lab/lab.js';
import { assertLabAddress } from '../../src/lab/addresses.js';

test('hosts joined by a veth reach each other; close removes namespaces, links and temp dir', async () => {
  const lab = await Lab.create('labtest');
  let dir = '';
  try {
    dir = lab.dir;
    const a = await lab.host('a');
    const b = await lab.host('b');
    await lab.link(a, b, { a: ['198.51.100.1/24', '2001:db8:1::1/64'], b: ['198.51.100.2/24', '2001:db8:1::2/64'] });
    assert.equal(await a.ping('198.51.100.2'), true);
    assert.equal(await b.ping('2001:db8:1::1'), true);
    const ifs = await a.exec('ip', ['-o', 'link', 'show', 'eth0']);
    assert.match(ifs.stdout, /eth0/);
    const left = await Lab.leftovers(lab.id);
    assert.equal(left.namespaces.length, 2);
  } finally {
    await lab.close();
  }
  assert.deepEqual(await Lab.leftovers(lab.id), { namespaces: [], links: [] });
  assert.equal(existsSync(dir), false);
});

test('a router and a NAT box: the inside host reaches the outside through masquerade', async () => {
  await withLab('labnat', async (lab) => {
    const inside = await lab.host('in');
    const nat = await lab.host('nat');
    const outside = await lab.host('out');
    await lab.link(inside, nat, { a: '192.0.2.2/24', b: '192.0.2.1/24' });
    await lab.link(nat, outside, { a: '203.0.113.1/24', b: '203.0.113.2/24' });
    await nat.enableForwarding();
    await nat.masquerade('eth1');
    await inside.addRoute('default', { via: '192.0.2.1' });
    // The outside host has no route back to 192.0.2.0/24: only NAT makes this work.
    assert.equal(await inside.ping('203.0.113.2', { count: 2 }), true);
    const seen = await outside.exec('ip', ['neigh', 'show', 'dev', 'eth0']);
    assert.match(seen.stdout, /203\.0\.113\.1 /, 'replies went to the NAT box, the only neighbour');
    const conn = await nat.exec('nft', ['list', 'ruleset']);
    assert.match(conn.stdout, /masquerade/);
  });
});

test('a switch joins several hosts on one LAN', async () => {
  await withLab('labsw', async (lab) => {
    const sw = await lab.switch('lan');
    const hosts = await Promise.all(['g1', 'g2', 'g3'].map((n) => lab.host(n)));
    for (const [i, h] of hosts.entries()) await sw.attach(h, `203.0.113.${i + 1}/24`);
    assert.equal(await hosts[0].ping('203.0.113.3'), true);
    assert.equal(await hosts[2].ping('203.0.113.2'), true);
  });
});

test('a failure inside withLab still tears everything down, and processes are killed', async () => {
  let id = '';
  await assert.rejects(
    withLab('labfail', async (lab) => {
      id = lab.id;
      const h = await lab.host('x');
      h.spawn('sleep', ['300']);
      // a process started behind the lab's back, inside the namespace
      await h.sh('nohup sleep 300 >/dev/null 2>&1 &');
      throw new Error('boom');
    }),
    /boom/,
  );
  assert.deepEqual(await Lab.leftovers(id), { namespaces: [], links: [] });
});

test('SIGINT to a process holding a lab removes its namespaces', async () => {
  const script = `
    import { Lab } from './src/lab/lab.ts';
    const lab = await Lab.create('labsig');
    const a = await lab.host('a'); const b = await lab.host('b');
    await lab.link(a, b, { a: '198.51.100.1/24', b: '198.51.100.2/24' });
    a.spawn('sleep', ['300']);
    console.log('ID ' + lab.id);
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const id = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /ID (\w+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.on('exit', (c) => reject(new Error(`child exited ${c} before creating its lab`)));
  });
  assert.equal((await Lab.leftovers(id)).namespaces.length, 2);
  child.kill('SIGINT');
  await new Promise((r) => child.on('exit', r));
  assert.deepEqual(await Lab.leftovers(id), { namespaces: [], links: [] });
});

test('addresses outside the documentation ranges are refused', () => {
  assert.throws(() => assertLabAddress('8.8.8.8/32'), { code: 'SEGW_LAB' });
  assert.throws(() => assertLabAddress('10.0.0.1/8'), { code: 'SEGW_LAB' });
  assert.throws(() => assertLabAddress('2a00:1450::1/64'), { code: 'SEGW_LAB' });
  assertLabAddress('203.0.113.7/24');
  assertLabAddress('2001:db8:5::1/64');
});

test('a test that times out while holding a lab leaves nothing behind', async () => {
  // A nested runner must not think it reports to this one.
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-force-exit', 'test/lab/fixtures/lab-timeout.ts'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  assert.notEqual(code, 0, 'the fixture test must fail by timeout');
  const id = /ID (\w+)/.exec(out)?.[1];
  assert.ok(id, `fixture printed no lab id: ${out}`);
  assert.deepEqual(await Lab.leftovers(id), { namespaces: [], links: [] });
});

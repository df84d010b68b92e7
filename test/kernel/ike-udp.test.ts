// The gateway's IKE socket (src/kernel/ike-udp.ts): a sized receive buffer, recvmmsg batches
// delivered in one callback each, sources and the RFC 3948 non-ESP marker handled per datagram.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IKE_RECV_BUFFER, NativeUdpIkeSocket } from '../../src/kernel/ike-udp.js';
import type { Endpoint } from '../../src/net/endpoint.js';
import { eventually } from '../support/eventually.js';
import { IkeDaemon } from '../../src/ike/daemon.js';
import { StubKernelIpsec } from '../../src/kernel/stub/ipsec.js';
import { bsConfig, gwConfig, PSK } from '../exchange/harness.js';
import { withLab } from '../../src/lab/lab.js';

function collect(s: NativeUdpIkeSocket): { data: Buffer; remote: Endpoint }[] {
  const got: { data: Buffer; remote: Endpoint }[] = [];
  s.setReceiver((data, remote) => got.push({ data, remote }));
  return got;
}

test('the receive buffer is sized for floods (16 MiB by default, far above the 208 KiB default)', async () => {
  const s = NativeUdpIkeSocket.bind({ address: '127.0.0.1', port: 0 });
  try {
    // The kernel reports twice the size set (its bookkeeping overhead), never less.
    assert.ok(s.recvBufferSize >= IKE_RECV_BUFFER, `SO_RCVBUF ${s.recvBufferSize}`);
  } finally {
    await s.close();
  }
});

test('a burst queued in the kernel is read in batches, each handed over in one callback, in order', async () => {
  const rx = NativeUdpIkeSocket.bind({ address: '127.0.0.1', port: 0, batch: 64 });
  const tx = NativeUdpIkeSocket.bind({ address: '127.0.0.2', port: 0 });
  try {
    const got = collect(rx);
    const N = 500;
    // Sent in one turn of the event loop: all of them wait in rx's queue before it reads.
    for (let i = 0; i < N; i++) tx.send(Buffer.from(`IKE_SA_INIT ${i}`), rx.local);
    await eventually(() => got.length === N, { what: `${N} datagrams` });
    assert.deepEqual(got.map((g) => g.data.toString()), Array.from({ length: N }, (_, i) => `IKE_SA_INIT ${i}`));
    assert.ok(got.every((g) => g.remote.address === '127.0.0.2' && g.remote.port === tx.local.port));
    assert.equal(rx.stats.datagrams, N);
    assert.ok(rx.stats.batches <= Math.ceil(N / 64) + 2, `${rx.stats.batches} callbacks for ${N} datagrams`);
    assert.equal(rx.stats.largestBatch, 64);
  } finally {
    await tx.close();
    await rx.close();
  }
});

test('NAT-T port: the marker is added on send and removed on receive; datagrams without it are not IKE', async () => {
  const a = NativeUdpIkeSocket.bind({ address: '::1', port: 0, natT: true });
  const b = NativeUdpIkeSocket.bind({ address: '::1', port: 0, natT: true });
  const plain = NativeUdpIkeSocket.bind({ address: '::1', port: 0, natT: false });
  try {
    const got = collect(b);
    a.send(Buffer.from('hello'), b.local);
    a.sendKeepalive(b.local);
    plain.send(Buffer.from('0a0b0c0d0e', 'hex'), b.local); // an ESP packet: SPI 0x0a0b0c0d
    await eventually(() => b.stats.datagrams === 3, { what: 'three datagrams' });
    assert.deepEqual(got.map((g) => g.data.toString()), ['hello']);
    assert.deepEqual(got[0]!.remote, a.local);
    assert.equal(b.stats.nonIke, 2);
  } finally {
    await Promise.all([a.close(), b.close(), plain.close()]);
  }
});

test('a port in use is refused with EADDRINUSE; a send to a malformed address is counted, not thrown', async () => {
  const a = NativeUdpIkeSocket.bind({ address: '127.0.0.1', port: 0 });
  try {
    assert.throws(() => NativeUdpIkeSocket.bind({ address: '127.0.0.1', port: a.local.port }), { code: 'EADDRINUSE' });
    for (const address of ['256.1.1.1', '1.2.3', '1.2.3.4.5', '1..2.3', '1.2.3.x']) a.send(Buffer.from('x'), { address, port: 500 });
    assert.equal(a.stats.sendErrors, 5);
  } finally {
    await a.close();
  }
});

test('a flood of IKE_SA_INIT read in batches: 30 half-open SAs, every later request answered with N(COOKIE)', async () => {
  // No age limit: every request is to be answered however long the 30 DH computations take here.
  const rx = NativeUdpIkeSocket.bind({ address: '127.0.0.1', port: 0, maxQueueAgeMs: 0 });
  const gw = new IkeDaemon({ connections: [gwConfig(false)], kernel: new StubKernelIpsec(), sockets: [rx] });
  const capture = NativeUdpIkeSocket.bind({ address: '127.0.0.1', port: 0 });
  const bs = new IkeDaemon({
    connections: [bsConfig(false, { remote: { addrs: ['127.0.0.1'], id: 'gw.example.net', auth: { method: 'psk', secret: PSK } }, remotePort: capture.local.port })],
    kernel: new StubKernelIpsec(),
    listen: [{ address: '127.0.0.2', port: 0, natTPort: 0 }],
  });
  const flood = NativeUdpIkeSocket.bind({ address: '127.0.0.3', port: 0 });
  try {
    await gw.start();
    await bs.start();
    // A genuine IKE_SA_INIT request, captured; each copy gets its own SPIi (a new half-open SA).
    let template: Buffer | undefined;
    capture.setReceiver((d) => (template ??= Buffer.from(d)));
    void bs.initiate('bs').catch(() => {});
    const init = await eventually(() => template, { what: 'an IKE_SA_INIT request' });
    const answers: Buffer[] = [];
    flood.setReceiver((d) => answers.push(d));
    const N = 1000;
    for (let i = 0; i < N; i++) {
      const m = Buffer.from(init);
      m.writeUInt32BE(0x5e9e0000, 0);
      m.writeUInt32BE(i, 4);
      flood.send(m, rx.local);
    }
    await eventually(() => answers.length === N, { what: `${N} answers` });
    assert.ok(rx.stats.batches < N / 4, `${rx.stats.batches} reads for ${N} datagrams`);
    const threshold = 30; // IkeSettings.cookieThreshold default (RFC 7296 §2.6: the responder's choice)
    assert.equal(gw.manager.halfOpenCount, threshold);
    assert.equal(gw.counters.cookie_sent, N - threshold);
    // N(COOKIE) answers: IKE_SA_INIT responses with SPIr 0 and one payload, a Notify (41) first.
    const cookies = answers.filter((a) => a.readBigUInt64BE(8) === 0n && a[16] === 41);
    assert.equal(cookies.length, N - threshold);
  } finally {
    await bs.stop();
    await gw.stop();
    await Promise.all([capture.close(), flood.close()]);
  }
});

/** rx answers every datagram (`ack <data>`) to `answerTo(remote, data)` from inside its receiver. */
function echo(rx: NativeUdpIkeSocket, answerTo: (remote: Endpoint, data: string) => Endpoint): void {
  rx.setReceiver((data, remote) => rx.send(Buffer.from(`ack ${data.toString()}`), answerTo(remote, data.toString())));
}

test('answers sent while a received batch is handled leave together (sendmmsg), in order, each to its own source', async () => {
  const rx = NativeUdpIkeSocket.bind({ address: '127.0.0.1', port: 0, batch: 64 });
  const tx = [NativeUdpIkeSocket.bind({ address: '127.0.0.2', port: 0 }), NativeUdpIkeSocket.bind({ address: '127.0.0.3', port: 0 })];
  try {
    const got = tx.map(collect);
    echo(rx, (remote) => remote);
    const N = 300;
    // One turn of the event loop: the requests queue in rx's buffer and are read in batches.
    for (let i = 0; i < N; i++) tx[i % 2]!.send(Buffer.from(`IKE_SA_INIT ${i}`), rx.local);
    await eventually(() => got[0]!.length + got[1]!.length === N, { what: `${N} answers` });
    for (const [k, g] of got.entries()) {
      const want = Array.from({ length: N / 2 }, (_, j) => `ack IKE_SA_INIT ${2 * j + k}`);
      assert.deepEqual(g.map((x) => x.data.toString()), want, `the answers to ${tx[k]!.local.address}, in order`);
    }
    assert.equal(rx.stats.sent, N);
    assert.equal(rx.stats.sendErrors, 0);
    assert.ok(rx.stats.sendCalls <= rx.stats.batches, `one system call per received batch: ${rx.stats.sendCalls} calls for ${rx.stats.batches} batches`);
  } finally {
    for (const s of [rx, ...tx]) await s.close();
  }
});

test('a datagram the kernel refuses inside a batch is reported with its peer and errno; the rest of the batch still goes', async () => {
  // A namespace of its own with only loopback: 198.51.100.99 has no route there (ENETUNREACH).
  await withLab('ikeudp', async (lab) => {
    const h = await lab.host('h');
    const netns = `/run/netns/${h.ns}`;
    const rx = NativeUdpIkeSocket.bind({ address: '127.0.0.1', port: 0, batch: 64, netns });
    const tx = NativeUdpIkeSocket.bind({ address: '127.0.0.1', port: 0, netns });
    try {
      const failed: { code: string | undefined; remote: Endpoint | undefined }[] = [];
      rx.setSendErrorHandler((err, remote) => failed.push({ code: (err as NodeJS.ErrnoException).code, remote }));
      const unroutable = { address: '198.51.100.99', port: 500 };
      echo(rx, (remote, data) => (Number(data.split(' ')[1]) % 10 === 0 ? unroutable : remote));
      const got = collect(tx);
      const N = 200;
      for (let i = 0; i < N; i++) tx.send(Buffer.from(`IKE_SA_INIT ${i}`), rx.local);
      await eventually(() => got.length + failed.length === N, { what: `${N} answers sent or refused` });
      const routed = Array.from({ length: N }, (_, i) => i).filter((i) => i % 10 !== 0);
      assert.deepEqual(got.map((g) => g.data.toString()), routed.map((i) => `ack IKE_SA_INIT ${i}`));
      assert.equal(failed.length, N / 10);
      assert.ok(failed.every((f) => f.code === 'ENETUNREACH' && f.remote === unroutable), JSON.stringify(failed.slice(0, 3)));
      assert.equal(rx.stats.sendErrors, N / 10);
      assert.equal(rx.stats.sent, N - N / 10);
      assert.ok(rx.stats.sendCalls < rx.stats.sent, `batched: ${rx.stats.sendCalls} calls for ${rx.stats.sent} datagrams`);
    } finally {
      await tx.close();
      await rx.close();
    }
  });
});

test('datagrams that waited longer than maxQueueAgeMs in the receive queue are dropped unread and counted; fresh ones are delivered', async () => {
  const rx = NativeUdpIkeSocket.bind({ address: '127.0.0.1', port: 0, maxQueueAgeMs: 1000 });
  const tx = NativeUdpIkeSocket.bind({ address: '127.0.0.2', port: 0 });
  try {
    const got = collect(rx);
    for (let i = 0; i < 100; i++) tx.send(Buffer.from(`old ${i}`), rx.local);
    // The event loop is held (as a gateway busy with a flood is) while these age in the queue.
    const until = Date.now() + 2500;
    while (Date.now() < until) { /* hold the loop */ }
    for (let i = 0; i < 20; i++) tx.send(Buffer.from(`new ${i}`), rx.local);
    await eventually(() => got.length === 20 && rx.stats.stale === 100, { what: 'the fresh datagrams, and the old ones counted as stale' });
    assert.deepEqual(got.map((g) => g.data.toString()), Array.from({ length: 20 }, (_, i) => `new ${i}`));
    assert.equal(rx.stats.datagrams, 20, 'stale datagrams never reach JavaScript');
  } finally {
    await tx.close();
    await rx.close();
  }
});

test('maxQueueAgeMs 0 keeps every datagram, however long it waited', async () => {
  const rx = NativeUdpIkeSocket.bind({ address: '127.0.0.1', port: 0, maxQueueAgeMs: 0 });
  const tx = NativeUdpIkeSocket.bind({ address: '127.0.0.2', port: 0 });
  try {
    const got = collect(rx);
    for (let i = 0; i < 10; i++) tx.send(Buffer.from(`old ${i}`), rx.local);
    const until = Date.now() + 1200;
    while (Date.now() < until) { /* hold the loop */ }
    await eventually(() => got.length === 10, { what: 'all ten' });
    assert.equal(rx.stats.stale, 0);
  } finally {
    await tx.close();
    await rx.close();
  }
});

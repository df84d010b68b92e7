/**
 * The request socket against a real kernel, inside lab namespaces (the socket is opened in the
 * namespace in-process): acknowledgements, dumps, errors, the in-flight bound, overrun
 * handling and cancellation on close.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withLab, type Host } from '../../src/lab/lab.js';
import { NETLINK, NLM_F_NEW } from '../../src/netlink/constants.js';
import { NetlinkError } from '../../src/netlink/errors.js';
import { NetlinkSocket } from '../../src/netlink/socket.js';
import { RTM, ifinfomsg, IFLA } from '../../src/netlink/rtnetlink.js';
import { decodeAttrs, encodeAttrs } from '../../src/netlink/attr.js';
import { addRoute } from '../../src/kernel/net/messages.js';

const nsPath = (h: Host) => `/run/netns/${h.ns}`;

function linkNames(parts: { type: number; payload: Buffer }[]): string[] {
  return parts.filter((m) => m.type === RTM.RTM_NEWLINK).map((m) => decodeAttrs(IFLA, m.payload, ifinfomsg.size).IFLA_IFNAME ?? '');
}

const getLink = (name: string) => Buffer.concat([ifinfomsg.encode({}), encodeAttrs(IFLA, { IFLA_IFNAME: name })]);

test('a socket opened in a lab namespace sees that namespace: dump, get, errors with names', async () => {
  await withLab('nlsock', async (lab) => {
    const a = await lab.host('a');
    const b = await lab.host('b');
    await lab.link(a, b, { aIf: 'left0', bIf: 'right0' });
    const nl = NetlinkSocket.open({ protocol: NETLINK.NETLINK_ROUTE, typeNames: RTM, netns: nsPath(a) });
    try {
      const links = linkNames(await nl.dump(RTM.RTM_GETLINK, ifinfomsg.encode({})));
      assert.deepEqual(links.sort(), ['left0', 'lo']);
      const one = await nl.request(RTM.RTM_GETLINK, 0, getLink('left0'));
      assert.deepEqual(linkNames(one), ['left0']);
      await assert.rejects(nl.request(RTM.RTM_GETLINK, 0, getLink('nosuch0'), { detail: 'look up link nosuch0' }), (e: NetlinkError) => {
        assert.equal(e.code, 'SEGW_NETLINK');
        assert.equal(e.errno, 'ENODEV');
        assert.equal(e.operation, 'RTM_GETLINK');
        assert.match(e.message, /RTM_GETLINK \(look up link nosuch0\) failed: ENODEV/);
        return true;
      });
    } finally {
      await nl.close();
    }
  });
});

test('a fresh namespace holds only loopback and disappears with the socket', async () => {
  const nl = NetlinkSocket.open({ protocol: NETLINK.NETLINK_ROUTE, freshNetns: true });
  try {
    assert.deepEqual(linkNames(await nl.dump(RTM.RTM_GETLINK, ifinfomsg.encode({}))), ['lo']);
  } finally {
    await nl.close();
  }
});

test('thousands of requests at once: a queue bounded in flight, every one answered', async () => {
  await withLab('nlqueue', async (lab) => {
    const a = await lab.host('a');
    const nl = NetlinkSocket.open({ protocol: NETLINK.NETLINK_ROUTE, typeNames: RTM, netns: nsPath(a), maxInFlight: 16 });
    try {
      const replies = await Promise.all(Array.from({ length: 3000 }, () => nl.request(RTM.RTM_GETLINK, 0, getLink('lo'))));
      assert.equal(replies.length, 3000);
      assert.ok(replies.every((r) => linkNames(r)[0] === 'lo'));
      const s = nl.stats();
      assert.equal(s.maxInFlightSeen, 16, 'never more than maxInFlight unacknowledged');
      assert.ok(s.datagramsSent < 3000, `requests were batched (${s.datagramsSent} datagrams)`);
      assert.equal(s.inFlight + s.queued, 0);
    } finally {
      await nl.close();
    }
  });
});

test('a receive buffer too small for the ACKs: requests fail with ENOBUFS, no crash, the socket recovers', async () => {
  await withLab('nlnobufs', async (lab) => {
    const a = await lab.host('a');
    const b = await lab.host('b');
    await lab.link(a, b, { aIf: 'eth0' });
    // 2000 requests in one burst against a tiny buffer: the kernel must drop acknowledgements.
    const nl = NetlinkSocket.open({ protocol: NETLINK.NETLINK_ROUTE, typeNames: RTM, netns: nsPath(a), maxInFlight: 4000, rcvbuf: 1 });
    try {
      const oif = Number((await a.exec('cat', ['/sys/class/net/eth0/ifindex'])).stdout);
      const reqs = Array.from({ length: 2000 }, (_, i) => addRoute({ dst: `198.18.${i >> 8}.${i & 255}/32`, dev: 'eth0' }, oif));
      const results = await Promise.allSettled(reqs.map((r) => nl.request(r.type, r.flags, r.payload, { detail: r.detail })));
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      assert.ok(failed.length > 0, 'the tiny buffer overflowed');
      assert.ok(failed.every((f) => f.reason instanceof NetlinkError && f.reason.errno === 'ENOBUFS'), String(failed[0]?.reason));
      assert.ok(nl.stats().overruns > 0);
      // The kernel did the work even where the ACK was lost (reconciliation finds it); the socket
      // answers again once its queue has drained (small answers: the buffer is still tiny).
      const shown = await a.exec('ip', ['-4', 'route', 'show', 'proto', '200']);
      assert.equal(shown.stdout.trim().split('\n').length, 2000);
      const next = addRoute({ dst: '198.18.100.1/32', dev: 'eth0' }, oif);
      await nl.request(next.type, next.flags, next.payload);
      assert.match((await a.exec('ip', ['route', 'show', '198.18.100.1'])).stdout, /dev eth0/);
    } finally {
      await nl.close();
    }
  });
});

test('close: requests not yet answered fail with ECANCELED', async () => {
  const nl = NetlinkSocket.open({ protocol: NETLINK.NETLINK_ROUTE, typeNames: RTM, freshNetns: true, maxInFlight: 1 });
  const pending = Array.from({ length: 5 }, () => nl.request(RTM.RTM_GETLINK, 0, getLink('lo')));
  await nl.close();
  const results = await Promise.allSettled(pending);
  assert.ok(results.every((r) => r.status === 'rejected' && (r.reason as NetlinkError).errno === 'ECANCELED'));
  await assert.rejects(nl.request(RTM.RTM_NEWLINK, NLM_F_NEW.NLM_F_CREATE, Buffer.alloc(16)), { errno: 'ECANCELED' });
});

test('UDP_ENCAP_ESPINUDP can be set on a UDP socket opened elsewhere (the IKE port-4500 socket with kernel ESP)', async () => {
  const { createSocket } = await import('node:dgram');
  const { enableEspInUdp, openSocket } = await import('../../src/netlink/native.js');
  const udp = createSocket('udp4');
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
  try {
    const fd = (udp as unknown as { _handle: { fd: number } })._handle.fd;
    assert.ok(fd > 0);
    enableEspInUdp(fd);
    const nl = openSocket(16, 3, 0, { freshNetns: true });
    try {
      assert.throws(() => enableEspInUdp(nl.fd), { code: 'ENOPROTOOPT', syscall: 'setsockopt' });
    } finally {
      nl.close();
    }
  } finally {
    udp.close();
  }
});

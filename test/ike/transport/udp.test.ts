// The IKE UDP socket: the non-ESP marker on the NAT-T port (RFC 3948 §2.2), and UDP_ENCAP for
// the kernel XFRM data plane: with it, the kernel takes ESP-in-UDP off the socket (here, with no
// ESP state, it drops it) and still hands IKE to the socket. Loopback only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { eventually } from '../../support/eventually.js';
import { UdpIkeSocket } from '../../../src/ike/transport/udp.js';
import { enableEspInUdp } from '../../../src/netlink/native.js';

const LO = '127.0.0.1';
const IKE = Buffer.concat([Buffer.alloc(4), Buffer.from('ike-header-and-more-octets-here')]); // marker + "IKE"
const ESP = Buffer.concat([Buffer.from('1234567800000001', 'hex'), Buffer.alloc(40, 0xab)]); // SPI, seq, data
/** Sent last: once it has arrived, so has everything sent before it (one sender, loopback, in order). */
const LAST = Buffer.concat([Buffer.alloc(4), Buffer.from('the-last-ike-datagram-of-the-probe')]);

async function probe(espInUdp: boolean): Promise<{ got: Buffer[]; nonIke: number }> {
  const sock = await UdpIkeSocket.bind({ address: LO, port: 0, natT: true });
  const got: Buffer[] = [];
  sock.setReceiver((data) => got.push(Buffer.from(data)));
  const tx = createSocket('udp4');
  try {
    if (espInUdp) {
      assert.equal(typeof sock.fd, 'number', 'the descriptor is reachable');
      enableEspInUdp(sock.fd!);
    }
    for (const d of [ESP, IKE, ESP, LAST]) await new Promise<void>((r, j) => tx.send(d, sock.local.port, LO, (e) => (e ? j(e) : r())));
    const last = LAST.subarray(4);
    await eventually(() => got.some((g) => g.equals(last)), 'the last datagram');
    return { got: got.slice(0, got.findIndex((g) => g.equals(last))), nonIke: sock.nonIke };
  } finally {
    tx.close();
    await sock.close();
  }
}

test('NAT-T socket: IKE arrives without its marker, other datagrams are counted as non-IKE', async () => {
  const r = await probe(false);
  assert.deepEqual(r.got, [IKE.subarray(4)]);
  assert.equal(r.nonIke, 2);
});

test('with UDP_ENCAP (XFRM mode) the kernel keeps ESP-in-UDP from the socket and IKE still arrives', async () => {
  const r = await probe(true);
  assert.deepEqual(r.got, [IKE.subarray(4)]);
  assert.equal(r.nonIke, 0, 'the ESP datagrams went to the kernel, not to IKE');
});

test('fd is undefined once the socket is closed (no stale descriptor handed out)', async () => {
  const sock = await UdpIkeSocket.bind({ address: LO, port: 0, natT: true });
  assert.equal(typeof sock.fd, 'number');
  await sock.close();
  assert.equal(sock.fd, undefined);
});

test('a failed send (EMSGSIZE on loopback) is reported to the send-error handler, never thrown', async () => {
  const sock = await UdpIkeSocket.bind({ address: LO, port: 0, natT: false });
  const errors: { err: Error; remote: string | undefined }[] = [];
  sock.setSendErrorHandler((err, remote) => errors.push({ err, remote: remote && `${remote.address}:${remote.port}` }));
  try {
    // Larger than any UDP datagram: the kernel's sendmsg refuses it.
    sock.send(Buffer.alloc(70_000), { address: LO, port: 9 });
    await eventually(() => errors.length === 1, 'the send error');
    assert.equal(errors[0]!.remote, `${LO}:9`, 'with the peer it was meant for');
    assert.match(errors[0]!.err.message, /EMSGSIZE|too long/i);
    assert.equal(sock.sendErrors, 1);
  } finally {
    await sock.close();
  }
  // After close, node:dgram throws synchronously: still reported, not thrown.
  assert.doesNotThrow(() => sock.send(Buffer.alloc(8), { address: LO, port: 9 }));
  await eventually(() => errors.length === 2, 'the error of a send after close');
});

/**
 * IkeDatagramSocket over node:dgram: one socket per local address and port (500, or 4500 with
 * the RFC 3948 non-ESP marker). On a NAT-T port, datagrams without the marker (ESP, or a
 * one-octet NAT-keepalive 0xFF, RFC 3948 §2.3) are not IKE and are counted and dropped here.
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { IKE_NATT_PORT, NON_ESP_MARKER } from '../constants.js';
import type { Endpoint, IkeDatagramSocket, IkeReceiver, SendErrorHandler } from '../../net/endpoint.js';

export interface UdpSocketOptions {
  address: string;
  port: number;
  /** Default: port === 4500. */
  natT?: boolean;
  /** Receive buffer size (bytes), for bursts of IKE_SA_INIT. */
  recvBufferSize?: number;
}

export class UdpIkeSocket implements IkeDatagramSocket {
  readonly natT: boolean;
  private receiver: IkeReceiver | undefined;
  private sendError: SendErrorHandler | undefined;
  private sock: Socket;
  private boundLocal: Endpoint;
  /** Datagrams on a NAT-T port that were not IKE (ESP without an engine, keepalives). */
  nonIke = 0;
  sendErrors = 0;

  private constructor(opts: UdpSocketOptions, sock: Socket) {
    this.natT = opts.natT ?? opts.port === IKE_NATT_PORT;
    this.sock = sock;
    this.boundLocal = { address: opts.address, port: opts.port };
  }

  /** Binds and resolves once the socket is ready (port 0 picks a free port, for tests). */
  static async bind(opts: UdpSocketOptions): Promise<UdpIkeSocket> {
    const v6 = isIPv6(opts.address);
    const sock = createSocket(v6 ? { type: 'udp6', ipv6Only: true } : { type: 'udp4' });
    const s = new UdpIkeSocket(opts, sock);
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind({ address: opts.address, port: opts.port, exclusive: true }, () => {
        sock.off('error', reject);
        resolve();
      });
    });
    if (opts.recvBufferSize) {
      try {
        sock.setRecvBufferSize(opts.recvBufferSize);
      } catch {
        // best effort: the kernel caps it at net.core.rmem_max
      }
    }
    const a = sock.address();
    s.boundLocal = { address: a.address, port: a.port };
    sock.on('message', (msg, rinfo) => s.onMessage(msg, { address: rinfo.address, port: rinfo.port }));
    sock.on('error', (err) => s.failed(err, undefined));
    return s;
  }

  get local(): Endpoint {
    return this.boundLocal;
  }

  /**
   * The socket's file descriptor, for socket options node:dgram does not offer (UDP_ENCAP when
   * the kernel does ESP). node:dgram keeps its handle behind a symbol; undefined if that changes.
   */
  get fd(): number | undefined {
    const sym = Object.getOwnPropertySymbols(this.sock).find((k) => k.description === 'state symbol');
    const state = sym ? (this.sock as unknown as Record<symbol, { handle?: { fd?: unknown } } | undefined>)[sym] : undefined;
    const fd = state?.handle?.fd;
    return typeof fd === 'number' && fd >= 0 ? fd : undefined;
  }

  setReceiver(receiver: IkeReceiver): void {
    this.receiver = receiver;
  }

  setSendErrorHandler(handler: SendErrorHandler): void {
    this.sendError = handler;
  }

  send(data: Buffer, remote: Endpoint): void {
    this.sendTo(this.natT ? [NON_ESP_MARKER, data] : [data], remote);
  }

  /** RFC 3948 §2.3 NAT-keepalive: one octet 0xFF, no marker. */
  sendKeepalive(remote: Endpoint): void {
    this.sendTo([Buffer.from([0xff])], remote);
  }

  /** node:dgram reports most failures to the callback, some (a closed socket) by throwing. */
  private sendTo(out: Buffer[], remote: Endpoint): void {
    try {
      this.sock.send(out, remote.port, remote.address, (err) => {
        if (err) this.failed(err, remote);
      });
    } catch (err) {
      this.failed(err as Error, remote);
    }
  }

  private failed(err: Error, remote: Endpoint | undefined): void {
    this.sendErrors++;
    this.sendError?.(err, remote);
  }

  private onMessage(msg: Buffer, remote: Endpoint): void {
    let data = msg;
    if (this.natT) {
      if (msg.length < 4 || msg.readUInt32BE(0) !== 0) {
        this.nonIke++;
        return;
      }
      data = msg.subarray(4);
    }
    this.receiver?.(data, remote, this.boundLocal);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      try {
        this.sock.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }
}

/**
 * IKE on the engine's UDP-encapsulation socket (RFC 3948, port 4500): the engine keeps ESP and
 * hands over datagrams that begin with the non-ESP marker, stripped; `send` adds the marker.
 */
import type { Endpoint, IkeDatagramSocket, IkeReceiver, SendErrorHandler } from '../../net/endpoint.js';
import type { NativeEspEngine } from './native.js';

export class EngineIkeSocket implements IkeDatagramSocket {
  readonly natT = true;
  private receiver: IkeReceiver | undefined;
  private sendError: SendErrorHandler | undefined;
  private closed = false;
  /** Datagrams the engine could not send (sendmsg failed: no route, EPERM, ...). */
  sendErrors = 0;

  constructor(
    private readonly engine: NativeEspEngine,
    /** Index of the engine's UDP socket. */
    readonly socket: number,
    readonly local: Endpoint,
  ) {}

  /** The engine throws when sendmsg fails: a lost datagram, reported, never thrown at IKE. */
  send(data: Buffer, remote: Endpoint): void {
    if (this.closed) return;
    try {
      this.engine.sendIke(this.socket, data, remote.address, remote.port);
    } catch (err) {
      this.sendErrors++;
      this.sendError?.(err instanceof Error ? err : new Error(String(err)), remote);
    }
  }

  setSendErrorHandler(handler: SendErrorHandler): void {
    this.sendError = handler;
  }

  setReceiver(receiver: IkeReceiver): void {
    this.receiver = receiver;
  }

  /** Called by the backend for each IKE datagram the engine delivered on this socket. */
  deliver(data: Buffer, remote: Endpoint): void {
    if (!this.closed) this.receiver?.(data, remote, this.local);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  async close(): Promise<void> {
    // The engine owns the socket (ESP keeps flowing); IKE just stops listening.
    this.closed = true;
    this.receiver = undefined;
  }
}

/**
 * A UDP endpoint, and the datagram port IKE messages travel through (RFC 7296 §2.11, §2.23).
 * In src/net, a leaf, because both sides of the kernel interface need them: the IKE daemon sends
 * and receives through an IkeDatagramSocket, and the userspace kernel backend provides one.
 * Implementations: a node:dgram socket (ike/transport/udp.ts: port 500, and 4500 when nothing
 * else owns it), and the native ESP engine's UDP-encapsulation socket (port 4500 shared with
 * ESP-in-UDP, RFC 3948: the engine keeps ESP packets and hands over only those that start with
 * the non-ESP marker).
 */
/** RFC 7296 §2.23 / RFC 3948 §2.2: the non-ESP marker before IKE messages on port 4500. */
export const NON_ESP_MARKER = Buffer.alloc(4);
/** RFC 7296 §2.23 ports. */
export const IKE_PORT = 500;
export const IKE_NATT_PORT = 4500;

export interface Endpoint {
  address: string;
  port: number;
}

export type IkeReceiver = (data: Buffer, remote: Endpoint, local: Endpoint) => void;

/**
 * A datagram could not be sent (no route, EPERM from a firewall, a full buffer...). To IKE that
 * is a lost datagram, nothing more: the retransmission schedule (RFC 7296 §2.1) decides.
 * `remote` is undefined for a socket error not tied to one send.
 */
export type SendErrorHandler = (err: Error, remote: Endpoint | undefined) => void;

export interface IkeDatagramSocket {
  /** The bound local endpoint (a specific address: gateways bind each address they serve). */
  readonly local: Endpoint;
  /** True for a NAT-T port: `send` prepends and the receiver never sees the non-ESP marker. */
  readonly natT: boolean;
  /**
   * Sends one IKE message (without marker: the socket adds it on NAT-T ports). Never throws
   * for an I/O failure: it goes to the send-error handler, as a datagram lost on the way would.
   */
  send(data: Buffer, remote: Endpoint): void;
  /** Installs the handler told about failed sends (synchronous or reported later). */
  setSendErrorHandler?(handler: SendErrorHandler): void;
  /** Installs the receiver; `data` is one IKE message, with any non-ESP marker removed. */
  setReceiver(receiver: IkeReceiver): void;
  /**
   * RFC 3948 §2.3 NAT-keepalive (one octet 0xFF, no marker) on a NAT-T port. Optional: sockets
   * that cannot send one omit it.
   */
  sendKeepalive?(remote: Endpoint): void;
  close(): Promise<void>;
}

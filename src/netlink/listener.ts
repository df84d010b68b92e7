/**
 * A netlink notification listener: a socket that joins multicast groups (RTNLGRP_LINK,
 * RTNLGRP_IPV4_IFADDR, XFRMNLGRP_EXPIRE, ...) and hands every message the kernel multicasts to
 * `onMessage`. If the kernel had to drop notifications (ENOBUFS: the receive buffer was full)
 * `onOverrun` is called: the listener's view is stale and the owner should re-read the state
 * with a dump. An idle listener does not keep the process alive.
 */
import { logger, RateLimitedLog } from '../log/index.js';
import { AF, NETLINK_OPT, SOCK, SOL } from './constants.js';
import { splitMessages, type NlMessage } from './message.js';
import { openSocket, parseSockaddrNl, sockaddrNl, type NativeSocket, type SocketOptions } from './native.js';
import { setRcvbuf } from './socket.js';

const log = logger('netlink');

export interface ListenerOptions extends Pick<SocketOptions, 'netns' | 'freshNetns'> {
  protocol: number;
  /** Group numbers (RTNLGRP_*, XFRMNLGRP_*), joined with NETLINK_ADD_MEMBERSHIP. */
  groups: number[];
  onMessage(m: NlMessage): void;
  onOverrun?(): void;
  /** Receive buffer (default 4 MiB). */
  rcvbuf?: number;
}

export class NetlinkListener {
  private readonly rl = new RateLimitedLog(log);
  private closed = false;

  private constructor(
    private readonly sock: NativeSocket,
    private readonly opts: ListenerOptions,
  ) {}

  static open(opts: ListenerOptions): NetlinkListener {
    const sock = openSocket(AF.AF_NETLINK, SOCK.SOCK_RAW, opts.protocol, {
      netns: opts.netns,
      freshNetns: opts.freshNetns,
      datagramSize: 64 * 1024,
      batch: 64,
      withSource: true,
    });
    try {
      setRcvbuf(sock, opts.rcvbuf ?? 4 * 1024 * 1024);
      sock.bind(sockaddrNl(0, 0));
      for (const g of opts.groups) sock.setsockopt(SOL.SOL_NETLINK, NETLINK_OPT.NETLINK_ADD_MEMBERSHIP, g);
    } catch (err) {
      sock.close();
      throw err;
    }
    const l = new NetlinkListener(sock, opts);
    sock.start((errno, datagrams, sources) => l.onData(errno, datagrams, sources ?? []));
    sock.setRef(false);
    return l;
  }

  private onData(errno: number, datagrams: Buffer[], sources: Buffer[]): void {
    datagrams.forEach((d, i) => {
      const src = sources[i];
      if (src && parseSockaddrNl(src).pid !== 0) return; // only the kernel multicasts to us
      const { messages, malformed } = splitMessages(d);
      if (malformed) this.rl.warn('malformed', { malformed }, 'malformed netlink notification');
      for (const m of messages) {
        try {
          this.opts.onMessage(m);
        } catch (err) {
          log.error({ err }, 'netlink notification handler failed');
        }
      }
    });
    if (errno) {
      log.warn({ errno }, 'netlink notifications lost (receive buffer overrun): state must be re-read');
      this.opts.onOverrun?.();
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sock.close();
  }
}

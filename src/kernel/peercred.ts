/**
 * SO_PEERCRED (unix(7)): who is at the other end of a connected UNIX stream socket, as the
 * kernel recorded it at connect time. Node does not expose it; the addon's `peerCredentials`
 * is one getsockopt (native/src/peercred.cc).
 */
import type { Socket } from 'node:net';
import { loadAddon } from '../native/addon.js';

export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

interface PeerCredAddon {
  peerCredentials(fd: number): PeerCredentials;
}

/** The descriptor behind an accepted node:net socket (a libuv pipe handle), if it has one. */
function fdOf(s: Socket): number | undefined {
  const fd = (s as unknown as { _handle?: { fd?: number } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

/** The peer's credentials; throws (with the errno text) when they cannot be read. */
export function peerCredentials(s: Socket): PeerCredentials {
  const fd = fdOf(s);
  if (fd === undefined) throw new Error('the connection has no file descriptor');
  return (loadAddon() as unknown as PeerCredAddon).peerCredentials(fd);
}

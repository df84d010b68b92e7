/**
 * A kernel request that failed: the errno name (`EEXIST`), the operation (`RTM_NEWROUTE`), what
 * segw was doing (`add route 192.0.2.0/25 table 254`) and the kernel's own extended-ack text
 * when it gave one. `code` is stable ('SEGW_NETLINK') so scripts can match the class; `errno`
 * is what code branches on (`err.errno === 'EEXIST'`).
 */
import { getSystemErrorMap } from 'node:util';
import { SegwError } from '../errors.js';

const errnoMap = getSystemErrorMap();

/** 'EEXIST' for 17 (or -17). */
export function errnoName(errno: number): string {
  return errnoMap.get(-Math.abs(errno))?.[0] ?? `E${Math.abs(errno)}`;
}

function errnoText(errno: number): string {
  return errnoMap.get(-Math.abs(errno))?.[1] ?? 'unknown error';
}

const HINTS: Record<string, string> = {
  EPERM: 'segw needs CAP_NET_ADMIN (run as root or grant the capability)',
  ENOBUFS: 'the netlink receive buffer overflowed; the state of the requests in flight is unknown: reconcile',
  ETIMEDOUT: 'the kernel did not answer; the request may or may not have taken effect',
};

export class NetlinkError extends SegwError {
  /** errno name, e.g. 'EEXIST', 'ENOENT', 'ESRCH', 'EPROTONOSUPPORT'. */
  readonly errno: string;
  readonly errnoNumber: number;
  /** Netlink message type name, e.g. 'RTM_NEWROUTE', 'XFRM_MSG_NEWSA'. */
  readonly operation: string;
  /** What was asked, in words ('add route 192.0.2.0/25 table 254'). */
  readonly detail?: string;
  /** The kernel's extended-ack message (NLMSGERR_ATTR_MSG). */
  readonly extAck?: string;

  constructor(opts: { errno: number; operation: string; detail?: string; extAck?: string; cause?: unknown }) {
    const name = errnoName(opts.errno);
    const what = opts.detail ? `${opts.operation} (${opts.detail})` : opts.operation;
    const kernel = opts.extAck ? `; kernel says: "${opts.extAck}"` : '';
    const hint = HINTS[name] ? `; ${HINTS[name]}` : '';
    super('SEGW_NETLINK', `${what} failed: ${name} (${errnoText(opts.errno)})${kernel}${hint}`, { cause: opts.cause });
    this.errno = name;
    this.errnoNumber = Math.abs(opts.errno);
    this.operation = opts.operation;
    if (opts.detail) this.detail = opts.detail;
    if (opts.extAck) this.extAck = opts.extAck;
  }
}

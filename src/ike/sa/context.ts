/**
 * What an IKE SA and its tasks need from the daemon around them: the kernel, the one scheduler,
 * the SA tables, counters, the redirect provider, credentials, events. The SA manager
 * implements it; one instance is shared by every SA (nothing here is per SA).
 */
import type { Logger, RateLimitedLog } from '../../log/index.js';
import type { KernelIpsec } from '../../kernel/types.js';
import type { IkeDaemonSettings, ResolvedConnection } from '../config.js';
import type { RedirectProvider } from '../redirect/provider.js';
import type { GatewayId } from '../redirect/notify.js';
import type { Scheduler } from '../scheduler.js';
import type { Endpoint } from '../../net/endpoint.js';
import type { Counters } from './counters.js';
import type { IkeMessage } from '../codec/types.js';
import type { Task } from '../tasks/task.js';
import type { IkeSa } from './ike-sa.js';
import type { ChildSa } from './child-sa.js';

/** Events for the daemon's users (CLI, control API, cluster load reports, tests). */
export interface IkeEventSink {
  ikeUp?(sa: IkeSa): void;
  ikeDown?(sa: IkeSa, reason: string): void;
  /**
   * Initiator: an IKE SA we started ended before it was established (no answer, refused with
   * `sa.refusedWith`, redirected elsewhere). ikeDown is only for SAs that were up.
   */
  ikeFailed?(sa: IkeSa, reason: string): void;
  /**
   * Responder: an IKE SA the peer started ended before it was established (refused with
   * `sa.answeredWith`, half-open timeout, peer gone). Metrics count these; nothing else needs them.
   */
  halfOpenFailed?(sa: IkeSa, reason: string): void;
  ikeRekeyed?(oldSa: IkeSa, newSa: IkeSa): void;
  childUp?(child: ChildSa): void;
  childDown?(child: ChildSa, reason: string): void;
  childRekeyed?(oldChild: ChildSa, newChild: ChildSa): void;
  /** Initiator: the gateway redirected us (RFC 5685); a new IKE SA follows unless the bound is hit. */
  redirected?(sa: IkeSa, to: GatewayId): void;
}

/**
 * The exchanges, handed in (strongSwan's task factory): the SA layer runs tasks through the task
 * manager but never names one, so src/ike/sa imports nothing of src/ike/tasks except the task
 * contract (tasks/task.ts). The daemon passes `ikeTasks` (tasks/index.ts).
 */
export interface SaTasks {
  /** The responder tasks for a request, chosen by exchange type and payloads. */
  forRequest(sa: IkeSa, msg: IkeMessage): Task[];
  /** After the responder tasks processed a request, before they build the response (§2.8.1, §2.25). */
  handleCollisions(tasks: readonly Task[], active: readonly Task[]): void;
  /** Timer-driven actions (RFC 7296 §2.4 liveness, §2.8 and §2.18 rekeying, hard expiry). */
  dpd(sa: IkeSa): Promise<void>;
  /** The peer's address or port changed (RFC 7296 §2.23): the children's SAs and policies follow. */
  peerMoved(sa: IkeSa, addressChanged: boolean): Promise<void>;
  rekeyIke(sa: IkeSa): Promise<void>;
  expireIke(sa: IkeSa): Promise<void>;
  /** The rekeyed (old) SA's wait for the peer's delete is over. */
  deleteRekeyed(sa: IkeSa): Promise<void>;
  rekeyChild(child: ChildSa): Promise<void>;
  expireChild(child: ChildSa): Promise<void>;
}

export interface SaContext {
  /** The exchanges (responder tasks, timer-driven actions). */
  readonly tasks: SaTasks;
  readonly kernel: KernelIpsec;
  readonly scheduler: Scheduler;
  readonly counters: Counters;
  /**
   * Exchanges completed, by `EXCHANGE role result` (result: ok, failed, or timeout when the
   * initiator gave up retransmitting): metrics. Counted per message, never per ESP packet.
   */
  readonly exchanges?: Counters;
  readonly settings: IkeDaemonSettings;
  readonly redirect: RedirectProvider;
  readonly log: Logger;
  /**
   * For what a peer can make us log before it has authenticated (refused IKE_SA_INIT requests):
   * rate limited per kind, so a flood of such requests cannot flood the log.
   */
  readonly unauthenticatedLog: RateLimitedLog;
  readonly events: IkeEventSink;
  /** Sends the datagrams of one message from `local` to `remote`. */
  send(packets: readonly Buffer[], local: Endpoint, remote: Endpoint): void;
  /** RFC 3948 NAT-keepalive from `local` to `remote`. */
  sendKeepalive(local: Endpoint, remote: Endpoint): void;
  /** Whether we have a socket for `local` (floating to 4500 needs one). */
  hasSocket(local: Endpoint): boolean;
  /** A fresh IKE SPI no SA of ours uses. */
  newIkeSpi(): Buffer;
  /** Table updates. */
  ikeEstablished(sa: IkeSa): void;
  /**
   * The peer authenticated but the SA will not be established (redirected at IKE_AUTH, RFC 5685
   * §6): it is no longer half-open, and the peer's address counts as one that authenticated.
   */
  ikeAuthenticated(sa: IkeSa): void;
  ikeDestroyed(sa: IkeSa): void;
  /** Adds an SA (a rekeyed IKE SA) to the tables under its own SPI. */
  ikeAdopt(sa: IkeSa): void;
  registerChild(child: ChildSa): void;
  /**
   * A child of another IKE SA of the same peer (same peer identity; where we initiate, the same
   * connection) that holds the kernel policies `child`'s selectors need: `child` takes them over
   * (child-sa.ts). Never a child of another peer.
   */
  policyHolder(child: ChildSa): ChildSa | undefined;
  unregisterChild(child: ChildSa): void;
  allocReqid(): number;
  releaseReqid(reqid: number): void;
  /** Connections a responder may match an authenticated peer against. */
  connections(): readonly ResolvedConnection[];
  /** Other established IKE SAs of the same peer identity (INITIAL_CONTACT, §2.4). */
  sasOfPeer(peerId: string, except: IkeSa): IkeSa[];
  /** Whether sasOfPeer would return any (without building the list). */
  hasSaOfPeer(peerId: string, except: IkeSa): boolean;
  /** Whether connection `conn` (with ownIdentity) has an established IKE SA other than `except`. */
  hasSaOfConnection(conn: ResolvedConnection, except: IkeSa): boolean;
  /** Initiator side of RFC 5685: start over towards `to`, bounded by the settings. */
  followRedirect(sa: IkeSa, to: GatewayId): void;
}

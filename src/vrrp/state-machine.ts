/**
 * The VRRPv3 protocol as a pure state machine (RFC 9568 §6.4): `step(config, state, event)`
 * returns the next state and the actions to perform, in order. Timers are inputs (an expiry is
 * an event) and outputs (start / cancel actions); sending, the VIPs and the gratuitous ARP /
 * neighbour advertisements are actions the instance adapter (./instance.ts) carries out. Nothing
 * here reads a clock or touches a socket, so the tests walk the RFC's transitions as a table.
 *
 *                 Startup (prio 255)
 *   Initialize ──────────────────────────────► Master
 *      │  Startup                              ▲  │ higher-priority advert
 *      ▼                   Master_Down_Timer   │  ▼
 *    Backup ───────────────────────────────────┘  Backup
 *   (Shutdown from either returns to Initialize; the master sends priority 0 first.)
 */
import { PRIORITY_OWNER, PRIORITY_RESIGN, type VrrpState } from './constants.js';
import { masterDownIntervalMs, skewTimeMs } from './timers.js';
import { addrToBigInt } from '../net/ip.js';

export interface MachineConfig {
  /** Local Priority (§6.1), 1..255; 255 = the address owner. */
  priority: number;
  /** Advertisement_Interval (§6.1), centiseconds. */
  advertIntervalCs: number;
  /** Preempt_Mode (§6.1). */
  preempt: boolean;
  /**
   * After Startup, preemption of a lower-priority master waits this long (keepalived's
   * preempt_delay; not in RFC 9568): a rebooted node does not take the VIP back at once.
   */
  preemptDelayMs: number;
  /** The local primary address (§6.1 tie-break in §6.4.3). */
  primaryAddress: string;
}

export interface MachineState {
  state: VrrpState;
  /** Master_Adver_Interval (§6.1), centiseconds: the master's advertised interval, adopted by a backup. */
  masterAdverIntervalCs: number;
  /** The master's address as last seen (the local one when master). */
  masterAddress?: string;
  /** When Startup happened (ms, the caller's clock), for the preempt delay. */
  startedAt: number;
}

export type TimerName = 'Adver_Timer' | 'Master_Down_Timer';

export type VrrpEvent =
  | { type: 'Startup'; now: number }
  | { type: 'Shutdown' }
  | { type: 'Master_Down_Timer' }
  | { type: 'Adver_Timer' }
  /** A received advertisement that passed the §7.1 checks. */
  | { type: 'Advertisement'; src: string; priority: number; maxAdvertIntervalCs: number; now: number };

export type VrrpAction =
  | { type: 'Transition'; from: VrrpState; to: VrrpState; reason: string }
  | { type: 'SendAdvertisement'; priority: number }
  | { type: 'StartTimer'; timer: TimerName; ms: number }
  | { type: 'CancelTimer'; timer: TimerName }
  /** Install the virtual addresses (master). */
  | { type: 'AddVips' }
  /** Remove the virtual addresses (no longer master; `cleanup`: at startup, where absent is normal). */
  | { type: 'RemoveVips'; cleanup?: true }
  /** Gratuitous ARP (IPv4) / unsolicited Neighbor Advertisements (IPv6) for every VIP. */
  | { type: 'Announce'; reason: 'became-master' | 'split-brain' };

export interface StepResult {
  state: MachineState;
  actions: VrrpAction[];
}

export function initialState(config: MachineConfig): MachineState {
  return { state: 'Initialize', masterAdverIntervalCs: config.advertIntervalCs, startedAt: 0 };
}

/** Master_Down_Interval for the current Master_Adver_Interval and the local priority. */
export function currentMasterDownMs(c: MachineConfig, s: MachineState): number {
  return masterDownIntervalMs(c.priority, s.masterAdverIntervalCs);
}

export function step(c: MachineConfig, s: MachineState, e: VrrpEvent): StepResult {
  switch (s.state) {
    case 'Initialize':
      return e.type === 'Startup' ? startup(c, s, e.now) : { state: s, actions: [] };
    case 'Backup':
      return backup(c, s, e);
    case 'Master':
      return master(c, s, e);
  }
}

/** Becoming master (§6.4.1 Startup with priority 255, §6.4.2 Master_Down_Timer). */
function becomeMaster(c: MachineConfig, s: MachineState, reason: string): StepResult {
  return {
    state: { ...s, state: 'Master', masterAdverIntervalCs: c.advertIntervalCs, masterAddress: c.primaryAddress },
    actions: [
      { type: 'Transition', from: s.state, to: 'Master', reason },
      { type: 'SendAdvertisement', priority: c.priority },
      { type: 'StartTimer', timer: 'Adver_Timer', ms: c.advertIntervalCs * 10 },
      { type: 'AddVips' },
      { type: 'Announce', reason: 'became-master' },
    ],
  };
}

/** §6.4.1 Initialize: Startup. */
function startup(c: MachineConfig, s: MachineState, now: number): StepResult {
  const started = { ...s, startedAt: now };
  if (c.priority === PRIORITY_OWNER) return becomeMaster(c, started, 'startup as address owner (priority 255)');
  const next: MachineState = { ...started, state: 'Backup', masterAdverIntervalCs: c.advertIntervalCs, masterAddress: undefined };
  return {
    state: next,
    actions: [
      { type: 'Transition', from: 'Initialize', to: 'Backup', reason: 'startup' },
      { type: 'StartTimer', timer: 'Master_Down_Timer', ms: currentMasterDownMs(c, next) },
      // A backup holds no VIP (§6.4.2): remove any an earlier run left behind when it was killed.
      { type: 'RemoveVips', cleanup: true },
    ],
  };
}

/** §6.4.2 Backup. */
function backup(c: MachineConfig, s: MachineState, e: VrrpEvent): StepResult {
  switch (e.type) {
    case 'Shutdown':
      return {
        state: { ...s, state: 'Initialize' },
        actions: [
          { type: 'CancelTimer', timer: 'Master_Down_Timer' },
          { type: 'Transition', from: 'Backup', to: 'Initialize', reason: 'shutdown' },
        ],
      };
    case 'Master_Down_Timer':
      return becomeMaster(c, s, 'Master_Down_Timer expired');
    case 'Advertisement': {
      if (e.priority === PRIORITY_RESIGN) {
        // The master resigned: take over after Skew_Time only.
        return {
          state: s,
          actions: [{ type: 'StartTimer', timer: 'Master_Down_Timer', ms: skewTimeMs(c.priority, s.masterAdverIntervalCs) }],
        };
      }
      const holdingPreempt = e.now < s.startedAt + c.preemptDelayMs;
      if (!c.preempt || holdingPreempt || e.priority >= c.priority) {
        const next = { ...s, masterAdverIntervalCs: e.maxAdvertIntervalCs, masterAddress: e.src };
        return { state: next, actions: [{ type: 'StartTimer', timer: 'Master_Down_Timer', ms: currentMasterDownMs(c, next) }] };
      }
      // Preempt: a lower-priority master's adverts are discarded; Master_Down_Timer will fire.
      return { state: s, actions: [] };
    }
    default:
      return { state: s, actions: [] };
  }
}

/** §6.4.3: does the sender win over us (higher priority, or equal and a greater primary address)? */
export function senderWins(c: MachineConfig, src: string, priority: number): boolean {
  if (priority !== c.priority) return priority > c.priority;
  return addrToBigInt(src) > addrToBigInt(c.primaryAddress);
}

/** §6.4.3 Master. */
function master(c: MachineConfig, s: MachineState, e: VrrpEvent): StepResult {
  switch (e.type) {
    case 'Shutdown':
      return {
        state: { ...s, state: 'Initialize', masterAddress: undefined },
        actions: [
          { type: 'CancelTimer', timer: 'Adver_Timer' },
          { type: 'SendAdvertisement', priority: PRIORITY_RESIGN },
          { type: 'RemoveVips' },
          { type: 'Transition', from: 'Master', to: 'Initialize', reason: 'shutdown' },
        ],
      };
    case 'Adver_Timer':
      return {
        state: s,
        actions: [
          { type: 'SendAdvertisement', priority: c.priority },
          { type: 'StartTimer', timer: 'Adver_Timer', ms: c.advertIntervalCs * 10 },
        ],
      };
    case 'Advertisement': {
      if (e.priority === PRIORITY_RESIGN) {
        // Another router resigned: advertise at once so backups do not take over after Skew_Time.
        return {
          state: s,
          actions: [
            { type: 'SendAdvertisement', priority: c.priority },
            { type: 'StartTimer', timer: 'Adver_Timer', ms: c.advertIntervalCs * 10 },
          ],
        };
      }
      if (senderWins(c, e.src, e.priority)) {
        const next: MachineState = { ...s, state: 'Backup', masterAdverIntervalCs: e.maxAdvertIntervalCs, masterAddress: e.src };
        return {
          state: next,
          actions: [
            // Two masters: a split brain is healing. The winner re-announces the VIPs when it
            // hears a lower-priority master (below), but adverts race: if its advert reached us
            // before ours reached it, it never hears us as master, and the LAN's ARP caches keep
            // our MAC (we announced the VIPs while cut off). One parting advert, with our
            // priority, tells it; RFC 9568 §6.4.3 routers discard it, backups only reset
            // Master_Down_Timer (beyond §6.4.3, which only has us go Backup).
            { type: 'SendAdvertisement', priority: c.priority },
            { type: 'CancelTimer', timer: 'Adver_Timer' },
            { type: 'Transition', from: 'Master', to: 'Backup', reason: `advertisement from ${e.src} with priority ${e.priority}` },
            { type: 'RemoveVips' },
            { type: 'StartTimer', timer: 'Master_Down_Timer', ms: currentMasterDownMs(c, next) },
          ],
        };
      }
      // §6.4.3 discards it. A lower-priority master means a split brain has just healed: segw
      // advertises at once (the other yields sooner) and re-announces the VIPs so every ARP /
      // neighbour cache on the LAN points here again, as keepalived does.
      return {
        state: s,
        actions: [
          { type: 'SendAdvertisement', priority: c.priority },
          { type: 'StartTimer', timer: 'Adver_Timer', ms: c.advertIntervalCs * 10 },
          { type: 'Announce', reason: 'split-brain' },
        ],
      };
    }
    default:
      return { state: s, actions: [] };
  }
}

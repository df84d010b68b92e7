/**
 * The RFC 9568 §6.4 state machine as a transition table: (state, event) -> (next state, actions).
 * Timers are inputs and outputs, so every row is exact. Local router: 203.0.113.2.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initialState, step, type MachineConfig, type MachineState, type VrrpAction, type VrrpEvent } from '../../src/vrrp/state-machine.js';
import { masterDownIntervalMs, skewTimeMs } from '../../src/vrrp/timers.js';

const CFG: MachineConfig = { priority: 100, advertIntervalCs: 100, preempt: true, preemptDelayMs: 0, primaryAddress: '203.0.113.2' };
const adv = (src: string, priority: number, maxAdvertIntervalCs = 100, now = 1000): VrrpEvent => ({ type: 'Advertisement', src, priority, maxAdvertIntervalCs, now });
const backupS: MachineState = { state: 'Backup', masterAdverIntervalCs: 100, startedAt: 0 };
const masterS: MachineState = { state: 'Master', masterAdverIntervalCs: 100, masterAddress: '203.0.113.2', startedAt: 0 };
const toMaster = (from: string, reason: string): VrrpAction[] => [
  { type: 'Transition', from: from as 'Backup', to: 'Master', reason },
  { type: 'SendAdvertisement', priority: 100 },
  { type: 'StartTimer', timer: 'Adver_Timer', ms: 1000 },
  { type: 'AddVips' },
  { type: 'Announce', reason: 'became-master' },
];

test('§6.1 timer formulas: Skew_Time and Master_Down_Interval', () => {
  // priority 100, 1 s: Skew = (156 * 100) / 256 = 60.9375 cs; MDI = 300 cs + Skew.
  assert.equal(skewTimeMs(100, 100), 609.375);
  assert.equal(masterDownIntervalMs(100, 100), 3609.375);
  // priority 254, 0.1 s: Skew = 2 * 10 / 256 cs = 0.78125 ms.
  assert.equal(masterDownIntervalMs(254, 10), 300.78125);
});

const rows: { name: string; cfg?: Partial<MachineConfig>; from: MachineState; event: VrrpEvent; to: string; actions: VrrpAction[]; interval?: number }[] = [
  {
    name: 'Initialize + Startup -> Backup, Master_Down_Timer = Master_Down_Interval',
    from: initialState(CFG), event: { type: 'Startup', now: 0 }, to: 'Backup',
    actions: [
      { type: 'Transition', from: 'Initialize', to: 'Backup', reason: 'startup' },
      { type: 'StartTimer', timer: 'Master_Down_Timer', ms: 3609.375 },
      { type: 'RemoveVips', cleanup: true },
    ],
  },
  {
    name: 'Initialize + Startup, priority 255 -> Master at once',
    cfg: { priority: 255 }, from: initialState(CFG), event: { type: 'Startup', now: 0 }, to: 'Master',
    actions: toMaster('Initialize', 'startup as address owner (priority 255)').map((a) => (a.type === 'SendAdvertisement' ? { ...a, priority: 255 } : a)),
  },
  { name: 'Initialize ignores adverts', from: initialState(CFG), event: adv('203.0.113.9', 200), to: 'Initialize', actions: [] },
  { name: 'Backup + Master_Down_Timer -> Master', from: backupS, event: { type: 'Master_Down_Timer' }, to: 'Master', actions: toMaster('Backup', 'Master_Down_Timer expired') },
  {
    name: 'Backup + Shutdown -> Initialize',
    from: backupS, event: { type: 'Shutdown' }, to: 'Initialize',
    actions: [{ type: 'CancelTimer', timer: 'Master_Down_Timer' }, { type: 'Transition', from: 'Backup', to: 'Initialize', reason: 'shutdown' }],
  },
  {
    name: 'Backup + priority 0 -> Master_Down_Timer = Skew_Time',
    from: backupS, event: adv('203.0.113.9', 0), to: 'Backup', actions: [{ type: 'StartTimer', timer: 'Master_Down_Timer', ms: 609.375 }],
  },
  {
    name: 'Backup + higher priority -> adopt its interval (0.5 s), reset Master_Down_Timer',
    from: backupS, event: adv('203.0.113.9', 200, 50), to: 'Backup', interval: 50,
    actions: [{ type: 'StartTimer', timer: 'Master_Down_Timer', ms: 1500 + (156 * 50 * 10) / 256 }],
  },
  {
    name: 'Backup + equal priority -> stays Backup (reset)',
    from: backupS, event: adv('203.0.113.9', 100), to: 'Backup', actions: [{ type: 'StartTimer', timer: 'Master_Down_Timer', ms: 3609.375 }],
  },
  { name: 'Backup + lower priority, preempt -> discarded (timer runs out)', from: backupS, event: adv('203.0.113.9', 50), to: 'Backup', actions: [] },
  {
    name: 'Backup + lower priority, no preempt -> reset Master_Down_Timer',
    cfg: { preempt: false }, from: backupS, event: adv('203.0.113.9', 50), to: 'Backup',
    actions: [{ type: 'StartTimer', timer: 'Master_Down_Timer', ms: 3609.375 }],
  },
  {
    name: 'Backup + lower priority within the preempt delay -> reset (no preemption yet)',
    cfg: { preemptDelayMs: 5000 }, from: backupS, event: adv('203.0.113.9', 50, 100, 4999), to: 'Backup',
    actions: [{ type: 'StartTimer', timer: 'Master_Down_Timer', ms: 3609.375 }],
  },
  { name: 'Backup + lower priority after the preempt delay -> discarded', cfg: { preemptDelayMs: 5000 }, from: backupS, event: adv('203.0.113.9', 50, 100, 5000), to: 'Backup', actions: [] },
  {
    name: 'Master + Adver_Timer -> advertise, restart Adver_Timer',
    from: masterS, event: { type: 'Adver_Timer' }, to: 'Master',
    actions: [{ type: 'SendAdvertisement', priority: 100 }, { type: 'StartTimer', timer: 'Adver_Timer', ms: 1000 }],
  },
  {
    name: 'Master + Shutdown -> priority 0 advert, VIPs removed, Initialize',
    from: masterS, event: { type: 'Shutdown' }, to: 'Initialize',
    actions: [
      { type: 'CancelTimer', timer: 'Adver_Timer' },
      { type: 'SendAdvertisement', priority: 0 },
      { type: 'RemoveVips' },
      { type: 'Transition', from: 'Master', to: 'Initialize', reason: 'shutdown' },
    ],
  },
  {
    name: 'Master + higher priority -> one parting advert, Backup, VIPs removed, adopt interval',
    from: masterS, event: adv('203.0.113.9', 150, 10), to: 'Backup', interval: 10,
    actions: [
      { type: 'SendAdvertisement', priority: 100 }, // parting advert: the winner re-announces
      { type: 'CancelTimer', timer: 'Adver_Timer' },
      { type: 'Transition', from: 'Master', to: 'Backup', reason: 'advertisement from 203.0.113.9 with priority 150' },
      { type: 'RemoveVips' },
      { type: 'StartTimer', timer: 'Master_Down_Timer', ms: 300 + (156 * 10 * 10) / 256 },
    ],
  },
  {
    name: 'Master + equal priority from a greater address -> Backup',
    from: masterS, event: adv('203.0.113.3', 100), to: 'Backup',
    actions: [
      { type: 'SendAdvertisement', priority: 100 }, // parting advert: the winner re-announces
      { type: 'CancelTimer', timer: 'Adver_Timer' },
      { type: 'Transition', from: 'Master', to: 'Backup', reason: 'advertisement from 203.0.113.3 with priority 100' },
      { type: 'RemoveVips' },
      { type: 'StartTimer', timer: 'Master_Down_Timer', ms: 3609.375 },
    ],
  },
  {
    name: 'Master + equal priority from a smaller address -> stays, re-advertises and re-announces (split brain healed)',
    from: masterS, event: adv('203.0.113.1', 100), to: 'Master',
    actions: [{ type: 'SendAdvertisement', priority: 100 }, { type: 'StartTimer', timer: 'Adver_Timer', ms: 1000 }, { type: 'Announce', reason: 'split-brain' }],
  },
  {
    name: 'Master + lower priority -> stays, re-advertises and re-announces',
    from: masterS, event: adv('203.0.113.9', 50), to: 'Master',
    actions: [{ type: 'SendAdvertisement', priority: 100 }, { type: 'StartTimer', timer: 'Adver_Timer', ms: 1000 }, { type: 'Announce', reason: 'split-brain' }],
  },
  {
    name: 'Master + priority 0 -> advertise at once',
    from: masterS, event: adv('203.0.113.9', 0), to: 'Master',
    actions: [{ type: 'SendAdvertisement', priority: 100 }, { type: 'StartTimer', timer: 'Adver_Timer', ms: 1000 }],
  },
  { name: 'Master ignores Master_Down_Timer', from: masterS, event: { type: 'Master_Down_Timer' }, to: 'Master', actions: [] },
  { name: 'Backup ignores Adver_Timer', from: backupS, event: { type: 'Adver_Timer' }, to: 'Backup', actions: [] },
];

for (const r of rows) {
  test(r.name, () => {
    const out = step({ ...CFG, ...r.cfg }, r.from, r.event);
    assert.equal(out.state.state, r.to);
    assert.deepEqual(out.actions, r.actions);
    if (r.interval !== undefined) assert.equal(out.state.masterAdverIntervalCs, r.interval);
  });
}

test('IPv6 tie-break compares addresses as numbers', () => {
  const cfg = { ...CFG, primaryAddress: 'fe80::2' };
  const m = { ...masterS, masterAddress: 'fe80::2' };
  assert.equal(step(cfg, m, adv('fe80::10', 100)).state.state, 'Backup');
  assert.equal(step(cfg, m, adv('fe80::1', 100)).state.state, 'Master');
});

test('a backup records the master it follows; a master records itself', () => {
  const b = step(CFG, backupS, adv('203.0.113.9', 200));
  assert.equal(b.state.masterAddress, '203.0.113.9');
  assert.equal(step(CFG, b.state, { type: 'Master_Down_Timer' }).state.masterAddress, '203.0.113.2');
});

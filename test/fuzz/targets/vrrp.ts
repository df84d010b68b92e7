/**
 * The VRRP receive path (src/vrrp): RFC 9568 §7.1 checks on a packet as the raw socket delivers
 * it, then the §6.4 state machine on what passes. checkAdvert never throws and drops under a
 * declared reason; an accepted advertisement re-encodes (in the form it was accepted in) to a
 * packet accepted as the same advertisement; the state machine, in Backup and in Master, answers
 * it without throwing, with timers that are finite and positive, and a state it can be in.
 *
 * Input: byte 0: bit 0 family (0 IPv4, 1 IPv6); bits 1-2 the checksum: 0 as received, 1-3 set by
 * the target in the form rfc9568 / pseudo-header / pseudo-header-group, so the fuzzer explores
 * past the checksum; bit 3: TTL 255 (else byte 1 is the TTL). Then byte 1, then the VRRP message.
 */
import { isDeepStrictEqual } from 'node:util';
import { checkAdvert, computeChecksum, DROP_REASONS, encodeAdvert, type IpEnds } from '../../../src/vrrp/packet.js';
import { initialState, step, type MachineConfig, type MachineState } from '../../../src/vrrp/state-machine.js';
import type { ChecksumForm } from '../../../src/vrrp/constants.js';
import { invariant, type FuzzTarget } from '../registry.js';

export const FUZZ_VRID = 51;
const ENDS: Record<4 | 6, IpEnds> = {
  4: { family: 4, src: '192.0.2.2', dst: '224.0.0.18' },
  6: { family: 6, src: 'fe80::2', dst: 'ff02::12' },
};
const FORMS: ChecksumForm[] = ['rfc9568', 'pseudo-header', 'pseudo-header-group'];
const STATES = new Set(['Initialize', 'Backup', 'Master']);
/** The longest timer the machine may start: 3 x Max Adver Int (40.95 s) plus the skew. */
const MAX_TIMER_MS = 3 * 40950 + 40950;

function config(family: 4 | 6, priority: number): MachineConfig {
  return { priority, advertIntervalCs: 100, preempt: true, preemptDelayMs: 0, primaryAddress: family === 4 ? '192.0.2.1' : 'fe80::1' };
}

function checkStep(c: MachineConfig, s: MachineState, src: string, priority: number, intervalCs: number): void {
  const r = step(c, s, { type: 'Advertisement', src, priority, maxAdvertIntervalCs: intervalCs, now: 5000 });
  invariant(STATES.has(r.state.state), `state machine reached state ${r.state.state}`);
  for (const a of r.actions) {
    if (a.type !== 'StartTimer') continue;
    invariant(Number.isFinite(a.ms) && a.ms > 0 && a.ms <= MAX_TIMER_MS, `${a.timer} started for ${a.ms} ms`);
  }
}

export const target: FuzzTarget = {
  name: 'vrrp',
  input: 'family/checksum/TTL octet, TTL octet, one VRRP message',
  fuzz(data) {
    if (data.length < 2) return;
    const family: 4 | 6 = data[0]! & 1 ? 6 : 4;
    const fix = (data[0]! >> 1) & 3;
    const ttl = data[0]! & 8 ? 255 : data[1]!;
    const ends = ENDS[family];
    const msg = Buffer.from(data.subarray(2));
    const form = fix > 0 ? FORMS[fix - 1]! : undefined;
    if (form && msg.length >= 8) msg.writeUInt16BE(computeChecksum(msg, ends, form), 6);
    const accept: ChecksumForm[] = family === 6 ? ['rfc9568'] : FORMS;
    const r = checkAdvert({ ...ends, ttl, data: msg }, { vrid: FUZZ_VRID, acceptChecksums: accept });
    if (!r.ok) {
      invariant(DROP_REASONS.includes(r.reason), `dropped under an undeclared reason ${r.reason}`);
      return;
    }
    invariant(ttl === 255 && r.advert.vrid === FUZZ_VRID, 'an advert with TTL != 255 or another VRID passed §7.1');
    const again = checkAdvert({ ...ends, ttl, data: encodeAdvert(r.advert, ends, r.checksumForm) }, { vrid: FUZZ_VRID, acceptChecksums: accept });
    invariant(again.ok && isDeepStrictEqual(again.advert, r.advert), 'an accepted advert does not re-encode to itself');
    for (const priority of [100, 254]) {
      const c = config(family, priority);
      const backup = step(c, initialState(c), { type: 'Startup', now: 0 }).state;
      checkStep(c, backup, ends.src, r.advert.priority, r.advert.maxAdvertInterval);
      const master = step(c, backup, { type: 'Master_Down_Timer' }).state;
      invariant(master.state === 'Master', 'Master_Down_Timer did not make a backup master');
      checkStep(c, master, ends.src, r.advert.priority, r.advert.maxAdvertInterval);
    }
  },
};

/**
 * The data plane's counters as a metrics snapshot. Today: the userspace ESP engine's verdict
 * counters (`NativeEspEngine.stats()`: packets passed and dropped by reason, per direction; no
 * byte or per-lane counts). A backend with a `stats()` of its own (KernelIpsec.stats, XFRM's
 * per-reason drops) plugs in with `addSource(dataPlaneAdapter, ...)` instead.
 */
import type { KernelIpsec } from '../kernel/types.js';
import type { EngineStats, NativeEspEngine } from '../kernel/userspace/native.js';
import type { DataPlaneSnapshot } from './sources.js';

/** Verdicts that are not drops: passed, and RFC 4303 §2.6 dummy packets (discarded by design). */
const NOT_DROPS = new Set(['ok', 'dummy']);

export function engineSnapshot(s: EngineStats): DataPlaneSnapshot {
  const drops = (r: Record<string, number>) => Object.fromEntries(Object.entries(r).filter(([k]) => !NOT_DROPS.has(k)));
  return {
    packets: { in: s.in.ok ?? 0, out: s.out.ok ?? 0 },
    drops: { in: drops(s.in), out: drops(s.out) },
  };
}

/** A snapshot reader for this backend, or undefined when it has no counters to read. */
export function dataPlaneReader(ipsec: KernelIpsec): (() => DataPlaneSnapshot) | undefined {
  const engine = (ipsec as KernelIpsec & { engine?: NativeEspEngine }).engine;
  if (ipsec.name === 'userspace' && engine && typeof engine.stats === 'function') return () => engineSnapshot(engine.stats());
  return undefined;
}

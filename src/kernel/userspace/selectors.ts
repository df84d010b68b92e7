/**
 * Traffic selectors for the engine: address ranges split into the prefixes its policy table
 * indexes (a range is covered by at most 2 x address-bits prefixes). The selectors themselves
 * go to the engine as the kernel interface declares them (TrafficSelector).
 */
import { rangeToPrefixes } from '../../net/ip.js';
import type { TrafficSelector } from '../types.js';

/** The prefixes the engine's policy table indexes for a selector's address range. */
export function selectorPrefixes(ts: TrafficSelector): { address: string; length: number }[] {
  return rangeToPrefixes(ts.startAddr, ts.endAddr).map((p) => ({ address: p.addr, length: p.len }));
}

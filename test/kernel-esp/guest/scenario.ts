/** What a guest scenario is and what it reports (shared by the guest's main.ts and the host's ../guest.ts). */

/** Prefix of the one stdout line per scenario that carries its result. */
export const RESULT_PREFIX = 'SEGW-GUEST-RESULT';

/**
 * One scenario: builds its own lab, asserts (node:assert) what must hold, and records in
 * `evidence` what it observed (kernel listings, counters, log fields), which the host checks
 * again and prints when something fails.
 */
export type Scenario = (evidence: Record<string, unknown>) => Promise<void>;

export interface GuestResult {
  name: string;
  ok: boolean;
  ms: number;
  evidence: Record<string, unknown>;
  /** The failure (stack), when !ok. */
  error?: string;
}

/** Records in evidence.timeline how far into the scenario `label` was reached (ms), for the run time report. */
export function mark(evidence: Record<string, unknown>, label: string): void {
  const tl = (evidence.timeline ??= { start: Date.now() }) as Record<string, number>;
  tl[label] = Date.now() - tl.start!;
}

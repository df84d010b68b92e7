/**
 * Guest side of test/kernel-esp: runs inside the user-mode-linux guest (scripts/uml-run), where
 * the kernel has ESP. Loads one scenario module and runs the named scenarios one after another,
 * each bounded in time, each in its own lab (namespaces torn down between them), and prints one
 * line per scenario for the host:
 *
 *   SEGW-GUEST-RESULT {"name":"psk","ok":true,"ms":5120,"evidence":{...}}
 *
 * The host's test file (test/kernel-esp/*.test.ts, through ../guest.ts) turns each line into the
 * outcome of one node:test test and asserts on the evidence again.
 *
 *   node --import tsx test/kernel-esp/guest/main.ts ./gateway.ts psk certs ...
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { RESULT_PREFIX, type GuestResult, type Scenario } from './scenario.js';

const SCENARIO_TIMEOUT_MS = Number(process.env.SEGW_GUEST_SCENARIO_TIMEOUT_MS ?? 240_000);

async function runOne(name: string, fn: Scenario): Promise<GuestResult> {
  const evidence: Record<string, unknown> = {};
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`scenario did not finish in ${SCENARIO_TIMEOUT_MS} ms`)), SCENARIO_TIMEOUT_MS);
    });
    await Promise.race([fn(evidence), timeout]);
    return { name, ok: true, ms: Date.now() - started, evidence };
  } catch (err) {
    const error = err instanceof Error ? (err.stack ?? err.message) : String(err);
    return { name, ok: false, ms: Date.now() - started, evidence, error };
  } finally {
    clearTimeout(timer);
  }
}

async function main(argv: string[]): Promise<number> {
  const [modulePath, ...names] = argv;
  if (!modulePath || names.length === 0) {
    console.error('usage: main.ts SCENARIO-MODULE NAME...');
    return 2;
  }
  const mod = (await import(pathToFileURL(resolve(import.meta.dirname, modulePath)).href)) as { scenarios: Record<string, Scenario> };
  let failed = 0;
  for (const name of names) {
    const fn = mod.scenarios[name];
    const r: GuestResult = fn ? await runOne(name, fn) : { name, ok: false, ms: 0, evidence: {}, error: `no scenario ${name} in ${modulePath}` };
    if (!r.ok) failed++;
    console.log(`${RESULT_PREFIX} ${JSON.stringify(r, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`);
  }
  return failed === 0 ? 0 : 1;
}

// The lab's exit handler tears down namespaces that a timed-out scenario left open.
process.exitCode = await main(process.argv.slice(2));
process.exit();

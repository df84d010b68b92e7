/**
 * `segw ctl ... --watch SECONDS METHOD`: a live view. Every SECONDS the method is asked of the
 * running daemon again and its table (./ctl-tables.ts; JSON for the methods without one) is
 * redrawn: in place on a terminal (cursor home + clear), as frames separated by a blank line
 * otherwise. Only methods that read state may be watched (an action repeated every second
 * would be a surprise).
 *
 * The daemon may go away while watched (a failover, a restart): the frame then says so and the
 * next interval connects again, so the view follows the node back. A refusal on the first
 * frame (a method this node does not answer) ends the watch with exit 1; `--count N` ends it
 * after N frames (scripts, tests), Ctrl-C at any time (exit 0).
 */
import { ControlClient } from '../control/client.js';
import { ControlError } from '../control/protocol.js';
import { SegwError } from '../errors.js';
import { EXIT_FAILURE, EXIT_OK } from './exit.js';
import { humanTable } from './ctl-tables.js';

/** The methods that only read state, so may be asked every interval. */
export const WATCHABLE_METHODS: readonly string[] = ['members', 'vrrp', 'redirects', 'status', 'list-sas'];

export interface WatchOptions {
  path: string;
  method: string;
  params: Record<string, unknown>;
  intervalMs: number;
  /** Frames to draw before returning (default: until SIGINT/SIGTERM or `signal`). */
  count?: number;
  /** JSON instead of the table. */
  json: boolean;
  out?: NodeJS.WritableStream & { isTTY?: boolean };
  signal?: AbortSignal;
}

const CLEAR = '\x1b[H\x1b[2J';

/** One frame's body: the table, or what went wrong; `refused` when the daemon said no. */
async function frame(o: WatchOptions, conn: { client?: ControlClient }): Promise<{ text: string; refused?: ControlError }> {
  try {
    conn.client ??= await ControlClient.connect(o.path, { timeoutMs: Math.max(1000, o.intervalMs) });
    const result = await conn.client.call(o.method, o.params, { timeoutMs: Math.max(2000, o.intervalMs * 2) });
    return { text: (o.json ? undefined : humanTable(o.method, result)) ?? JSON.stringify(result, null, 2) };
  } catch (err) {
    if (!(err instanceof SegwError)) throw err;
    // Whatever went wrong, the next frame starts on a new connection (the daemon may have closed
    // this one, or be another process by then).
    conn.client?.close();
    conn.client = undefined;
    if (err instanceof ControlError && err.controlCode !== 'TIMEOUT') return { text: `${o.method}: ${err.controlCode}: ${err.message}`, refused: err };
    return { text: `daemon unreachable: ${err.message}\n(retrying every ${o.intervalMs / 1000} s)` };
  }
}

export async function watchMethod(o: WatchOptions): Promise<number> {
  const out = o.out ?? process.stdout;
  const tty = out.isTTY === true;
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  o.signal?.addEventListener('abort', onSignal, { once: true });
  const conn: { client?: ControlClient } = {};
  try {
    for (let n = 1; !stop.signal.aborted; n++) {
      const f = await frame(o, conn);
      if (f.refused && n === 1) {
        console.error(`segw ctl: ${f.text}`);
        return EXIT_FAILURE;
      }
      const head = `segw ctl ${o.method}  every ${o.intervalMs / 1000}s  ${new Date().toISOString().slice(11, 19)} UTC  ${o.path}`;
      out.write(`${tty ? CLEAR : n > 1 ? '\n' : ''}${head}\n\n${f.text}\n`);
      if (o.count !== undefined && n >= o.count) break;
      await sleep(o.intervalMs, stop.signal);
    }
    return EXIT_OK;
  } finally {
    conn.client?.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    o.signal?.removeEventListener('abort', onSignal);
  }
}

/** Waits `ms` or until `signal` aborts, whichever is first. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

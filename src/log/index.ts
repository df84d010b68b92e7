/**
 * One structured logger for the whole process (pino). Every line carries `sub` (the subsystem:
 * ike, kernel, netlink, esp, vrrp, cluster, lab, ...) and pino's level. Key material is never
 * logged: callers pass SPIs and names, never keys; `redact` is a second line of defence.
 * Per-packet faults go through `rateLimited` so a flood cannot flood the log.
 */
import pino from 'pino';
import type { Logger, LevelWithSilent } from 'pino';

export type { Logger };

const REDACT = ['*.key', '*.keys', '*.psk', '*.secret', '*.skeyseed', '*.privateKey', 'key', 'psk', 'secret'];

function defaultLevel(): LevelWithSilent {
  const env = process.env.SEGW_LOG_LEVEL;
  if (env) return env as LevelWithSilent;
  // Tests run quiet unless asked; daemons default to info.
  return process.env.NODE_TEST_CONTEXT ? 'silent' : 'info';
}

const BASE_OPTIONS = {
  base: undefined,
  redact: { paths: REDACT, censor: '[redacted]' },
  timestamp: pino.stdTimeFunctions.isoTime,
  formatters: { level: (label: string) => ({ level: label }) },
};

let root: Logger = pino({ level: defaultLevel(), ...BASE_OPTIONS });

let generation = 0;

/**
 * Replace the process-wide root logger (the CLI does this once, from the config). Loggers made
 * earlier by `logger()` (module-level ones) follow the new root: they re-bind on next use.
 */
export function setRootLogger(logger: Logger): void {
  root = logger;
  generation++;
}

export function createRootLogger(opts: { level?: LevelWithSilent; destination?: string | number }): Logger {
  const dest = opts.destination === undefined ? 1 : opts.destination;
  return pino(
    { level: opts.level ?? defaultLevel(), ...BASE_OPTIONS },
    // A log file segw creates is 0600 whatever the umask (lines name peers, addresses and
    // identities); an existing file keeps the mode the operator gave it.
    pino.destination({ dest, sync: false, mode: 0o600 }),
  );
}

/**
 * A child logger for one subsystem; extra bindings (e.g. `{ node: 'gw1' }`) optional. Safe to
 * create at module load: it binds to the root logger current at each use (see setRootLogger).
 */
export function logger(sub: string, bindings: Record<string, unknown> = {}): Logger {
  let bound = root.child({ sub, ...bindings });
  let gen = generation;
  const current = (): Logger => {
    if (gen !== generation) {
      bound = root.child({ sub, ...bindings });
      gen = generation;
    }
    return bound;
  };
  return new Proxy({} as Logger, {
    get(_t, prop) {
      const l = current();
      const v = (l as unknown as Record<string | symbol, unknown>)[prop];
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(l) : v;
    },
  });
}

/**
 * Rate limiter for per-packet faults and for what unauthenticated peers can make us log: at most
 * `burst` lines per `intervalMs` per key; when the window reopens the first line reports how
 * many were suppressed. Keys are fixed strings (one per kind of event), so the map stays small.
 */
export class RateLimitedLog {
  private readonly windows = new Map<string, { start: number; count: number; suppressed: number }>();
  constructor(
    private readonly log: Logger,
    private readonly burst = 10,
    private readonly intervalMs = 10_000,
  ) {}

  warn(key: string, obj: Record<string, unknown>, msg: string, now = Date.now()): void {
    this.write('warn', key, obj, msg, now);
  }

  info(key: string, obj: Record<string, unknown>, msg: string, now = Date.now()): void {
    this.write('info', key, obj, msg, now);
  }

  private write(level: 'info' | 'warn', key: string, obj: Record<string, unknown>, msg: string, now: number): void {
    let w = this.windows.get(key);
    if (!w || now - w.start >= this.intervalMs) {
      const suppressed = w?.suppressed ?? 0;
      w = { start: now, count: 0, suppressed: 0 };
      this.windows.set(key, w);
      if (suppressed > 0) obj = { ...obj, suppressed };
    }
    if (w.count < this.burst) {
      w.count++;
      this.log[level](obj, msg);
    } else {
      w.suppressed++;
    }
  }
}

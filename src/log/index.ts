/**
 * One structured logger for the whole process (pino). Every line carries `sub` (the subsystem:
 * ike, kernel, netlink, esp, vrrp, cluster, lab, ...) and pino's level. Key material is never
 * logged: callers pass SPIs and names, never keys; `redact` is a second line of defence.
 * Per-packet faults go through `rateLimited` so a flood cannot flood the log.
 */
import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import pino from 'pino';
import type { Logger, LevelWithSilent } from 'pino';
import { SegwError } from '../errors.js';

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

/** The destinations createRootLogger opened, so a replaced logger's file can be closed. */
const destinations = new WeakMap<Logger, ReturnType<typeof pino.destination>>();

/**
 * Replace the process-wide root logger (the CLI does this once, from the config). Loggers made
 * earlier by `logger()` (module-level ones) follow the new root: they re-bind on next use.
 */
export function setRootLogger(logger: Logger): Logger {
  const old = root;
  root = logger;
  generation++;
  return old;
}

/** The current root logger (to tell whether a logger made earlier is still the one in use). */
export function rootLogger(): Logger {
  return root;
}

/** Flushes and closes a root logger's destination (one createRootLogger made) after it was replaced. */
export function closeRootLogger(logger: Logger): void {
  const dest = destinations.get(logger);
  if (!dest) return;
  destinations.delete(logger);
  dest.end();
}

/** The log file cannot be opened (the message names the file and the errno). */
export class LogFileError extends SegwError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SEGW_LOG_FILE', message, options);
  }
}

export interface RootLoggerOptions {
  level?: LevelWithSilent;
  /** A file (opened for append, created 0600: logs name peers and addresses) or a descriptor; default stdout. */
  destination?: string | number;
  /**
   * A write to the destination failed (EIO, ENOSPC, a removed device): the destination is
   * closed (so no flush at exit retries it forever) and this is called once; the caller
   * decides where to log next. Without it the error is written to stderr.
   */
  onWriteError?: (err: NodeJS.ErrnoException) => void;
}

export function createRootLogger(opts: RootLoggerOptions): Logger {
  let fd: number;
  if (typeof opts.destination === 'string') {
    try {
      fd = openSync(opts.destination, 'a', 0o600);
    } catch (err) {
      throw new LogFileError(`cannot open the log file ${opts.destination}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
    }
  } else fd = opts.destination ?? 1;
  const dest = pino.destination({ dest: fd, sync: false });
  let failed = false;
  dest.on('error', (err: NodeJS.ErrnoException) => {
    if (failed) return;
    failed = true;
    try {
      dest.destroy();
    } catch {
      /* already closed */
    }
    if (opts.onWriteError) opts.onWriteError(err);
    else process.stderr.write(`segw: cannot write the log (${err.code ?? err.message}); log lines are lost\n`);
  });
  const l = pino({ level: opts.level ?? defaultLevel(), ...BASE_OPTIONS }, dest);
  destinations.set(l, dest);
  return l;
}

/**
 * Opens `path` for append (created 0600) and writes the line(s) `first` logs into it synchronously,
 * so that a file system still full, or a device still failing, throws here (errno in the error)
 * before any other line is routed to the file. A line cut short by the write that failed
 * earlier is ended first, so the file stays one JSON object per line. Resolves with the
 * descriptor, for createRootLogger's `destination`.
 */
export function reopenLogFile(path: string, level: LevelWithSilent, first: (l: Logger) => void): number {
  const fd = openSync(path, 'a+', 0o600); // read too: the last byte tells if a line was cut short
  try {
    const size = fstatSync(fd).size;
    const last = Buffer.alloc(1);
    if (size > 0 && readSync(fd, last, 0, 1, size - 1) === 1 && last[0] !== 0x0a) writeAllSync(fd, '\n');
    const probe = pino({ level, ...BASE_OPTIONS }, { write: (line: string) => writeAllSync(fd, line) });
    first(probe);
    return fd;
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/** writeSync until every byte is written; a write that makes no progress throws (EIO-like). */
function writeAllSync(fd: number, text: string): void {
  const buf = Buffer.from(text);
  for (let off = 0; off < buf.length; ) {
    const n = writeSync(fd, buf, off);
    if (n <= 0) throw Object.assign(new Error('write made no progress'), { code: 'EIO' });
    off += n;
  }
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

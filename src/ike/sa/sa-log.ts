/**
 * The logger of one IKE or child SA: the SA's bindings (SPIs, peer, child) are computed and
 * merged into a line only when that line's level is enabled. A pino child logger per use
 * serializes its bindings and sets up its level even for lines it then drops; with several
 * lines per SA set up and torn down, that was a measurable share of a responder's CPU
 * (bench/ike-setup). Keeping one child per SA instead would cost memory at 10k+ SAs.
 *
 * A SaLog is one small object pointing at its SA (no closure); `enabled(level)` lets a caller
 * skip building fields that cost something (selectors as text) for lines that are dropped.
 */
import type { Logger } from '../../log/index.js';

type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
type Bindings = Record<string, unknown>;

/** What a SaLog logs about: an IKE or child SA. */
export interface LogSubject {
  logBindings(): Bindings;
}

/** pino's numeric levels (its defaults; segw defines no custom levels). */
const LEVEL_VALUE: Record<Level, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };

export class SaLog {
  constructor(
    private readonly parent: Logger,
    private readonly subject: LogSubject,
  ) {}

  /** Whether lines of this level are written (a number comparison, nothing allocated). */
  enabled(level: Level): boolean {
    const v = this.parent.levelVal as number | undefined;
    return typeof v === 'number' ? LEVEL_VALUE[level] >= v : this.parent.isLevelEnabled(level);
  }

  trace(obj: unknown, msg?: string): void {
    this.write('trace', obj, msg);
  }

  debug(obj: unknown, msg?: string): void {
    this.write('debug', obj, msg);
  }

  info(obj: unknown, msg?: string): void {
    this.write('info', obj, msg);
  }

  warn(obj: unknown, msg?: string): void {
    this.write('warn', obj, msg);
  }

  error(obj: unknown, msg?: string): void {
    this.write('error', obj, msg);
  }

  fatal(obj: unknown, msg?: string): void {
    this.write('fatal', obj, msg);
  }

  private write(level: Level, obj: unknown, msg: string | undefined): void {
    if (!this.enabled(level)) return;
    const p = this.parent;
    const bindings = this.subject.logBindings();
    if (typeof obj === 'string') p[level](bindings, obj);
    else if (obj instanceof Error) p[level]({ ...bindings, err: obj }, msg);
    else p[level]({ ...bindings, ...(obj as Bindings) }, msg);
  }
}

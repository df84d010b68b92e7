/**
 * The logger of one IKE or child SA: the SA's bindings (SPIs, peer, child) are computed and
 * merged into a line only when that line's level is enabled. A pino child logger per use
 * serializes its bindings and sets up its level even for lines it then drops; with several
 * lines per SA set up and torn down, that was a measurable share of a responder's CPU
 * (bench/ike-setup). Keeping one child per SA instead would cost memory at 10k+ SAs.
 */
import type { Logger } from '../../log/index.js';

type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
type Bindings = Record<string, unknown>;

export class SaLog {
  constructor(
    private readonly parent: Logger,
    private readonly bindings: () => Bindings,
  ) {}

  /** A logger with more bindings (a child SA's, under its IKE SA's). */
  child(more: Bindings): SaLog {
    return new SaLog(this.parent, () => ({ ...this.bindings(), ...more }));
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
    const p = this.parent;
    if (!p.isLevelEnabled(level)) return;
    if (typeof obj === 'string') p[level](this.bindings(), obj);
    else if (obj instanceof Error) p[level]({ ...this.bindings(), err: obj }, msg);
    else p[level]({ ...this.bindings(), ...(obj as Bindings) }, msg);
  }
}

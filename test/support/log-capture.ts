/** A pino logger whose JSON lines land in an array, for tests that assert what was logged. */
import { Writable } from 'node:stream';
import pino, { type Logger, type LoggerOptions } from 'pino';

export function captureLog(level = 'info', options: LoggerOptions = {}): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const dest = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      cb();
    },
  });
  const log = pino({ level, formatters: { level: (label: string) => ({ level: label }) }, ...options }, dest);
  return { log, lines };
}

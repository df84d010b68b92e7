/**
 * `segw gateway` in the foreground: starts the gateway, logs where it listens, and stops it
 * gracefully on SIGTERM/SIGINT (peers told, routes withdrawn). A second signal stops at once.
 * SIGUSR1 logs the status. SIGHUP reloads the config file (./reload.ts): what can change
 * without dropping an established SA is applied, anything else is refused with the key's name,
 * and a bad file leaves the running config as it was.
 */
import { loadGatewayConfig, type GatewayConfig } from '../config/gateway.js';
import { ConfigError, SegwError } from '../errors.js';
import { closeRootLogger, createRootLogger, logger, LogFileError, reopenLogFile, rootLogger, setRootLogger, type Logger } from '../log/index.js';
import { Gateway } from './gateway.js';
import { applyReload, planReload } from './reload.js';

/** How often a log.file whose writes failed is tried again (implementation constant). */
export const LOG_FILE_RETRY_MS = 5000;

/**
 * Points the process's logging at the config's `log` (file created 0600, or stdout). A write
 * failure later (EIO, a full disk) is reported in one line on stderr and logging moves there;
 * the file is tried again every `retryMs` and logging returns to it once a line can be written
 * (the first line there says since when the log went to stderr).
 */
export function startLogging(cfg: Pick<GatewayConfig, 'log'>, opts: { retryMs?: number } = {}): void {
  let root: Logger;
  try {
    root = createRootLogger({ level: cfg.log.level, destination: cfg.log.file, onWriteError: (err) => onLogWriteError(root, cfg, err, opts.retryMs ?? LOG_FILE_RETRY_MS) });
  } catch (err) {
    if (err instanceof LogFileError) throw new ConfigError(`log.file: ${err.message}`, { cause: err });
    throw err;
  }
  const old = setRootLogger(root);
  if (old) closeRootLogger(old);
}

/** The file logger `failed` could not write: stderr from now, and the file again once it takes a line. */
function onLogWriteError(failed: Logger, cfg: Pick<GatewayConfig, 'log'>, err: NodeJS.ErrnoException, retryMs: number): void {
  if (rootLogger() !== failed) return; // a log replaced by a reload failed while closing
  const { level, file } = cfg.log;
  const error = err.code ?? err.message;
  if (file === undefined) {
    // Standard output failed (a closed pipe): there is nothing to go back to.
    process.stderr.write(`segw: standard output: write failed (${error}); logging to standard error from now on\n`);
    setRootLogger(createRootLogger({ level, destination: 2 }));
    return;
  }
  process.stderr.write(`segw: log.file ${file}: write failed (${error}); logging to standard error until it can be written again (tried every ${retryMs / 1000} s)\n`);
  const fallback = createRootLogger({ level, destination: 2 });
  setRootLogger(fallback);
  const since = new Date();
  const timer = setInterval(() => {
    // A reload (SIGHUP) that reopened the log meanwhile has taken over.
    if (rootLogger() !== fallback) return clearInterval(timer);
    let fd: number;
    try {
      fd = reopenLogFile(file, level, (l) =>
        l.child({ sub: 'log' }).warn({ file, error, since: since.toISOString() }, 'log.file writable again; the lines since the failure went to standard error'),
      );
    } catch {
      return; // still failing: stay on stderr, try again at the next tick
    }
    clearInterval(timer);
    let again: Logger;
    again = createRootLogger({ level, destination: fd, onWriteError: (e) => onLogWriteError(again, cfg, e, retryMs) });
    setRootLogger(again);
    closeRootLogger(fallback);
    process.stderr.write(`segw: log.file ${file}: writable again; logging there\n`);
  }, retryMs);
  timer.unref();
}

export async function runGatewayDaemon(cfg: GatewayConfig): Promise<number> {
  startLogging(cfg);
  const log = logger('gateway', { node: cfg.node.name });
  // A SIGHUP while starting must not kill the process (its default action).
  const early = () => log.warn('SIGHUP while starting: ignored (send it again once the gateway started)');
  process.on('SIGHUP', early);
  for (const w of cfg.warnings) log.warn({ config: cfg.file }, w);
  let gw: Gateway;
  try {
    gw = await Gateway.start(cfg, { log });
  } finally {
    process.off('SIGHUP', early);
  }
  let current = cfg;
  return new Promise<number>((resolve) => {
    let signals = 0;
    const stop = (sig: NodeJS.Signals) => {
      signals++;
      if (signals > 1) {
        log.warn({ signal: sig }, 'second signal: stopping without telling peers');
        void gw.stop({ notifyPeers: false }).finally(() => resolve(1));
        return;
      }
      log.info({ signal: sig }, 'stopping');
      void gw.stop().then(
        () => resolve(0),
        (err) => {
          log.error({ err }, 'stop failed');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    process.on('SIGUSR1', () => log.info({ status: gw.status() }, 'status'));
    process.on('SIGHUP', () => {
      if (signals > 0) return;
      current = reload(gw, current, log);
    });
  });
}

/** Reopens the log file (log rotation) with the running config's settings; a failure is logged. */
function reopenLog(cfg: GatewayConfig, log: Logger): void {
  try {
    startLogging(cfg);
  } catch (err) {
    log.error({ error: (err as Error).message }, 'cannot reopen the log file; logging continues to the open one');
  }
}

/** One SIGHUP: returns the config now in force (the new one, or `current` when refused). */
export function reload(gw: Gateway, current: GatewayConfig, log: Logger): GatewayConfig {
  let next: GatewayConfig;
  try {
    next = loadGatewayConfig(current.file);
  } catch (err) {
    reopenLog(current, log);
    if (err instanceof SegwError) log.error({ config: current.file, error: err.message }, 'reload refused: the config file is not valid; still running on the previous one');
    else log.error({ err, config: current.file }, 'reload failed (a bug; please report it); still running on the previous config');
    return current;
  }
  const plan = planReload(current.document, next.document);
  if (!plan.ok) {
    reopenLog(current, log);
    log.error(
      { config: current.file, restartOnly: plan.restartOnly },
      `reload refused: ${plan.restartOnly.join(', ')} cannot change while running (restart the gateway, or restore the old value); still running on the previous config`,
    );
    return current;
  }
  try {
    startLogging(next); // reopens log.file (rotation) with the new log.level
  } catch (err) {
    log.error({ config: current.file, error: (err as Error).message }, 'reload: cannot reopen the log; still running on the previous config');
    return current;
  }
  const applied = applyReload(gw, current, next);
  for (const w of next.warnings) log.warn({ config: next.file }, w);
  if (applied.clusterKeyRotated) {
    log.warn({ config: next.file, keyFile: next.cluster?.keyFile }, 'cluster key changed: load reports are signed and checked with the new key; members still on the old one look forged until they reload too');
  }
  log.info(
    {
      config: next.file,
      added: plan.added,
      removed: plan.removed,
      reloaded: plan.kept,
      ...(plan.logLevel && { logLevel: plan.logLevel }),
      ...(plan.cluster.length > 0 && { cluster: plan.cluster }),
    },
    'config reloaded (established SAs keep the settings they were made with until they end)',
  );
  return next;
}

/**
 * `segw ctl [--socket PATH | --node NAME] METHOD [JSON]`: one request to a running daemon's
 * control socket; the result is printed as JSON on stdout.
 *
 *   segw ctl --socket /run/segw/gw1.sock list-sas
 *   segw ctl --node gw1 terminate-ike '{"ike":"6f2c..._91ab..."}'
 *   segw ctl --node gw1 methods
 *   segw ctl --node gw2 drain            (a table; --json for JSON)
 *   segw ctl --node gw1 --watch 1 members   (the table redrawn every second, ./ctl-watch.ts)
 *
 * Exit codes: 0 answered, 1 the daemon refused (its error code and message on stderr) or could
 * not be reached, 2 usage.
 */
import { parseArgs } from 'node:util';
import { ControlClient } from '../control/client.js';
import { defaultSocketPath } from '../config/control-socket.js';
import { ControlError } from '../control/protocol.js';
import { SegwError } from '../errors.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './exit.js';
import { commandUsage } from './help.js';
import { humanTable } from './ctl-tables.js';
import { WATCHABLE_METHODS, watchMethod } from './ctl-watch.js';

export async function runCtl(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        socket: { type: 'string', short: 's' },
        node: { type: 'string', short: 'n' },
        timeout: { type: 'string', short: 't' },
        compact: { type: 'boolean' },
        json: { type: 'boolean' },
        watch: { type: 'string', short: 'w' },
        count: { type: 'string' },
      },
    });
  } catch (err) {
    if (!String((err as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS')) throw err;
    return usage((err as Error).message.split('\n')[0]!);
  }
  const { values, positionals } = parsed;
  const [method, json, ...extra] = positionals;
  if (!method || extra.length > 0) return usage('give one METHOD and at most one JSON object of params');
  if (values.socket && values.node) return usage('--socket and --node are alternatives');
  const path = values.socket ?? (values.node ? defaultSocketPath(values.node) : undefined);
  if (!path) return usage('name the daemon: --socket PATH or --node NAME (socket /run/segw/NAME.sock)');
  let params: Record<string, unknown> = {};
  if (json !== undefined) {
    try {
      params = JSON.parse(json) as Record<string, unknown>;
    } catch (err) {
      return usage(`params are not JSON: ${(err as Error).message}`);
    }
    if (typeof params !== 'object' || params === null || Array.isArray(params)) return usage('params must be a JSON object');
  }
  if (values.timeout !== undefined) {
    const s = Number(values.timeout);
    if (!(s >= 0 && s <= 300)) return usage('--timeout is 0..300 seconds');
    params = { ...params, timeoutMs: Math.round(s * 1000) };
  }
  if (values.watch !== undefined) {
    const s = Number(values.watch);
    if (!(s >= 0.1 && s <= 3600)) return usage('--watch is 0.1..3600 seconds between redraws');
    if (!WATCHABLE_METHODS.includes(method)) return usage(`--watch redraws a method that reads state: ${WATCHABLE_METHODS.join(', ')}`);
    const count = values.count === undefined ? undefined : Number(values.count);
    if (count !== undefined && !(Number.isInteger(count) && count >= 1)) return usage('--count is a number of redraws, 1 or more');
    return watchMethod({ path, method, params, intervalMs: Math.round(s * 1000), count, json: values.json === true });
  }
  if (values.count !== undefined) return usage('--count goes with --watch');
  let client: ControlClient;
  try {
    client = await ControlClient.connect(path);
  } catch (err) {
    console.error(`segw ctl: ${(err as Error).message}`);
    return EXIT_FAILURE;
  }
  try {
    const result = await client.call(method, params);
    const human = values.json || values.compact ? undefined : humanTable(method, result);
    console.log(human ?? (values.compact ? JSON.stringify(result) : JSON.stringify(result, null, 2)));
    return EXIT_OK;
  } catch (err) {
    if (err instanceof ControlError) console.error(`segw ctl: ${method}: ${err.controlCode}: ${err.message}`);
    else if (err instanceof SegwError) console.error(`segw ctl: ${err.message}`);
    else throw err;
    return EXIT_FAILURE;
  } finally {
    client.close();
  }
}

function usage(why: string): number {
  console.error(`segw ctl: ${why}\n${commandUsage('ctl')}`);
  return EXIT_USAGE;
}

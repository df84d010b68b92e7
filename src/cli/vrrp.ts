/**
 * `segw vrrp --config FILE.yaml [--check]`: one VRRP instance as its own process (for tests, the
 * bench, and a node that runs only VRRP). The file holds the instance's options (src/vrrp/options.ts)
 * at `cluster.vrrp`, or at the top level. SIGTERM / SIGINT resign (priority 0, VIPs removed) and
 * exit; SIGUSR1 logs the status.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { ConfigError } from '../errors.js';
import { createRootLogger, logger, setRootLogger } from '../log/index.js';
import { NetlinkKernelNet } from '../kernel/net/netlink-net.js';
import { NftVipFilter } from '../kernel/nft/vip-filter.js';
import { openVrrpLink } from '../kernel/raw/vrrp-link.js';
import { VRRP_GROUP_V4, VRRP_GROUP_V6 } from '../vrrp/constants.js';
import { VrrpInstance } from '../vrrp/instance.js';
import { DEFAULT_VRRP_OPTIONS, validateVrrpOptions, type VrrpOptions } from '../vrrp/options.js';
import { EXIT_OK } from './exit.js';

export function loadVrrpOptions(path: string): VrrpOptions {
  let doc: unknown;
  try {
    doc = parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(`${path}: cannot read the VRRP configuration: ${(err as Error).message}`, { cause: err });
  }
  const root = (doc ?? {}) as Record<string, unknown>;
  const cluster = root.cluster as Record<string, unknown> | undefined;
  const raw = (cluster?.vrrp ?? root) as Record<string, unknown>;
  if (typeof raw !== 'object' || raw === null) throw new ConfigError(`${path}: expected a mapping of VRRP options (cluster.vrrp)`);
  const known = new Set(['interface', 'vrid', 'vips', 'unicastPeers', 'unicastSource', ...Object.keys(DEFAULT_VRRP_OPTIONS)]);
  for (const k of Object.keys(raw)) {
    if (k !== 'cluster' && !known.has(k)) throw new ConfigError(`${path}: cluster.vrrp.${k}: unknown option (known: ${[...known].join(', ')})`);
  }
  const o = { ...DEFAULT_VRRP_OPTIONS, ...raw } as VrrpOptions;
  validateVrrpOptions(o, `${path}: cluster.vrrp`);
  return o;
}

export async function runVrrp(path: string, opts: { check: boolean }): Promise<number> {
  const o = loadVrrpOptions(path);
  const family = validateVrrpOptions(o);
  if (opts.check) {
    console.log(`vrrp ${o.interface} VRID ${o.vrid} priority ${o.priority}, ${o.vips.join(', ')}\nconfiguration OK`);
    return EXIT_OK;
  }
  setRootLogger(createRootLogger({}));
  const log = logger('vrrp', { vrid: o.vrid, interface: o.interface });
  const net = NetlinkKernelNet.open();
  const unicast = (o.unicastPeers?.length ?? 0) > 0;
  const link = await openVrrpLink({
    interface: o.interface,
    family,
    group: unicast ? undefined : family === 4 ? VRRP_GROUP_V4 : VRRP_GROUP_V6,
    source: o.unicastSource,
  });
  // The filter also clears drop rules a killed run with accept: false left, whatever `accept` is now.
  const inst = new VrrpInstance(o, { link, net, filter: new NftVipFilter() });
  try {
    await inst.start();
  } catch (err) {
    await link.close();
    await net.close();
    throw err;
  }
  log.info({ status: inst.status() }, 'vrrp started');
  process.on('SIGUSR1', () => log.info({ status: inst.status() }, 'vrrp status'));
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, 'vrrp stopping: resigning mastership');
      void inst
        .stop()
        .then(() => link.close())
        .then(() => net.close())
        .finally(resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  log.info({ status: inst.status() }, 'vrrp stopped');
  return EXIT_OK;
}

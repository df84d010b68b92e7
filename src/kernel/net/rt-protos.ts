/**
 * The name of segw's route protocol number for iproute2 (`ip route show proto segw`):
 * /etc/iproute2/rt_protos.d/segw.conf holds "200 segw". scripts/install-test-deps.sh writes it;
 * segw writes it at start when no file there names the number already.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { logger } from '../../log/index.js';
import { ROUTE_PROTO_SEGW } from '../types.js';

const log = logger('kernel');
export const RT_PROTOS_DIR = '/etc/iproute2/rt_protos.d';

/** Returns the file that names the protocol (written now, or found). Never throws. */
export function ensureRouteProtoName(dir = RT_PROTOS_DIR, proto = ROUTE_PROTO_SEGW, name = 'segw'): string | undefined {
  try {
    if (existsSync(dir)) {
      for (const f of readdirSync(dir).filter((x) => x.endsWith('.conf'))) {
        const text = readFileSync(join(dir, f), 'utf8');
        if (text.split('\n').some((l) => new RegExp(`^\\s*${proto}\\s+${name}\\s*(#.*)?$`).test(l))) return join(dir, f);
      }
    }
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${name}.conf`);
    writeFileSync(file, `# written by segw: route protocol number of routes segw injects\n${proto} ${name}\n`);
    log.info({ file }, 'route protocol name written');
    return file;
  } catch (err) {
    log.warn({ err, dir }, `could not name route protocol ${proto}: \`ip route show proto ${proto}\` still works`);
    return undefined;
  }
}

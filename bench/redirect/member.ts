/**
 * Cluster members for bench/redirect, run inside the responder's namespace: each argument is
 * `CONFIG.yaml=ROLE`, a segw gateway started in this process from that config, with its role
 * given (master or backup) as bench/balance does, instead of VRRP electing it: the role is the
 * run's premise, and VRRP is not on the path of an IKE_SA_INIT. Prints "ready" once every
 * gateway listens; stops them on SIGTERM.
 *
 *   node --import tsx bench/redirect/member.ts gw1.yaml=master
 *   node --import tsx bench/redirect/member.ts gw2.yaml=backup gw3.yaml=backup
 */
import { loadGatewayConfig } from '../../src/config/gateway.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { startLogging } from '../../src/gateway/run.js';
import type { MemberRoleName } from '../../src/cluster/report.js';

const specs = process.argv.slice(2).map((a) => {
  const [file, role] = a.split('=') as [string, MemberRoleName | undefined];
  if (!file || (role !== 'master' && role !== 'backup')) throw new Error(`member.ts: CONFIG.yaml=master|backup, not "${a}"`);
  return { cfg: loadGatewayConfig(file), role };
});
if (specs.length === 0) throw new Error('member.ts: at least one CONFIG.yaml=ROLE');
startLogging(specs[0]!.cfg);
const gws: Gateway[] = [];
for (const s of specs) gws.push(await Gateway.start(s.cfg, { role: { role: () => s.role } }));
process.stdout.write('ready\n');
let stopping = false;
process.on('SIGTERM', () => {
  if (stopping) process.exit(1);
  stopping = true;
  void Promise.all(gws.map((g) => g.stop({ notifyPeers: false }))).finally(() => process.exit(0));
});

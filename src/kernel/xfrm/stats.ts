/**
 * The kernel's XFRM drop counters (/proc/net/xfrm_stat, present with CONFIG_XFRM_STATISTICS;
 * field meanings in the kernel's Documentation/networking/xfrm_proc.rst), as IpsecStats: one
 * "Name value" line per counter, XfrmIn..., XfrmFwd... and XfrmAcquireError (ESP received on an
 * SPI whose SA is still larval: the sender used a new SA before this end installed it; listed
 * under the inbound errors there, counted in xfrm_input) for received packets, XfrmOut... for
 * packets to protect. The reasons the userspace engine also counts get its names, so
 * `status` reads the same on both data planes; the rest keep the kernel's name in kebab case.
 */
import { readFile } from 'node:fs/promises';
import type { IpsecDropStats, IpsecStats } from '../types.js';

export const XFRM_STAT_PATH = '/proc/net/xfrm_stat';

/** Kernel counter -> the engine's verdict name (native/src/esp Verdict) where they mean the same. */
const SHARED_NAMES: Readonly<Record<string, string>> = {
  XfrmInStateSeqError: 'replay', // sequence number outside the window or already seen
  XfrmInStateProtoError: 'integrity', // transform error: ICV check failed (or wrong key)
  XfrmInNoStates: 'no-sa',
  XfrmInStateExpired: 'sa-dead',
  XfrmInTmplMismatch: 'policy-mismatch',
  XfrmOutNoStates: 'no-sa',
  XfrmOutStateSeqError: 'seq-overflow',
  XfrmOutStateExpired: 'sa-dead',
};

const kebab = (s: string) => s.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();

/** Parses the text of /proc/net/xfrm_stat; unknown lines are skipped. */
export function parseXfrmStat(text: string): IpsecDropStats {
  const drops: IpsecDropStats = { in: {}, out: {} };
  for (const line of text.split('\n')) {
    const m = /^(Xfrm\w+)\s+(\d+)\s*$/.exec(line);
    if (!m) continue;
    const [, field, value] = m as unknown as [string, string, string];
    const inbound = field.startsWith('XfrmIn') || field.startsWith('XfrmFwd') || field === 'XfrmAcquireError';
    const name = SHARED_NAMES[field] ?? kebab(field.replace(/^Xfrm(In|Out)?/, ''));
    const side = inbound ? drops.in : drops.out;
    side[name] = (side[name] ?? 0) + Number(value);
  }
  return drops;
}

/**
 * The drop counters of the namespace this process runs in. `netns`: the backend programs
 * another namespace, whose /proc/net this process cannot read without entering it.
 */
export async function readXfrmStats(netns: string | undefined, path = XFRM_STAT_PATH): Promise<IpsecStats> {
  if (netns) return { available: false, reason: `drops of namespace ${netns} are not read (per-SA counters: list-sas {counters: true})` };
  try {
    return { available: true, drops: parseXfrmStat(await readFile(path, 'utf8')) };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { available: false, reason: `${path} is missing: the kernel is built without CONFIG_XFRM_STATISTICS` };
    return { available: false, reason: `cannot read ${path}: ${(err as Error).message}` };
  }
}

/**
 * A CPU quota for the responders (--responder-cpu): a cgroup with `quota` of one core, on the
 * cgroup v1 cpu controller (/sys/fs/cgroup/cpu, as on this machine) or cgroup v2 (cpu.max).
 * Moving a pid moves all its threads; threads made later stay in the group.
 */
import { existsSync, mkdirSync, rmdirSync, writeFileSync } from 'node:fs';

const PERIOD_US = 100_000;

export interface CpuQuotaGroup {
  add(pid: number): void;
  /** Removes the group (its processes must have exited). */
  remove(): void;
}

export function cpuQuotaGroup(name: string, quota: number): CpuQuotaGroup {
  const quotaUs = Math.round(quota * PERIOD_US);
  let dir: string;
  if (existsSync('/sys/fs/cgroup/cpu/cpu.cfs_quota_us')) {
    dir = `/sys/fs/cgroup/cpu/${name}`;
    mkdirSync(dir);
    writeFileSync(`${dir}/cpu.cfs_period_us`, String(PERIOD_US));
    writeFileSync(`${dir}/cpu.cfs_quota_us`, String(quotaUs));
  } else if (existsSync('/sys/fs/cgroup/cgroup.controllers')) {
    dir = `/sys/fs/cgroup/${name}`;
    mkdirSync(dir);
    writeFileSync(`${dir}/cpu.max`, `${quotaUs} ${PERIOD_US}`);
  } else {
    throw new Error('--responder-cpu: no cgroup cpu controller (neither /sys/fs/cgroup/cpu nor cgroup v2)');
  }
  const group: CpuQuotaGroup = {
    add(pid) {
      writeFileSync(`${dir}/cgroup.procs`, String(pid));
    },
    remove() {
      try {
        rmdirSync(dir);
      } catch {
        // already gone, or still busy (a responder did not exit): named after this bench's pid
      }
    },
  };
  process.once('exit', () => group.remove());
  return group;
}

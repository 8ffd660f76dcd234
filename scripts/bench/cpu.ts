// CPU time, the currency of throughput on 2 cores: what a render costs, and how busy the
// machine was. Process times come from /proc/<pid>/stat in clock ticks (USER_HZ = 100 on
// Linux); a process's own time plus that of its reaped children, so a renderer that exits
// still counts once its zygote has reaped it.
import fs from 'node:fs';

const TICK_MS = 10;

/** CPU time (ms) used by these processes and the children they have reaped. */
export function processCpuMs(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      // Fields 14-17 (utime, stime, cutime, cstime), counted from field 3 after the ')'.
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    } catch {
      /* gone meanwhile */
    }
  }
  return ticks * TICK_MS;
}

/** Jiffies of the whole machine from /proc/stat: how busy the cores were between two reads. */
export function cpuTimes(): { busy: number; total: number } {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  const idle = (f[3] ?? 0) + (f[4] ?? 0); // idle + iowait
  return { busy: total - idle, total };
}

/** Share (0..1) of all cores' time spent busy since `since`. */
export function cpuBusySince(since: { busy: number; total: number }): number {
  const now = cpuTimes();
  return (now.busy - since.busy) / Math.max(1, now.total - since.total);
}

// The process table, for leak checks. Every chromedriver panelshot starts carries
// PANELSHOT_OWNER_PID=<its pid> in its environment (Linux /proc) and leads a process group
// that its Chrome joins. Chrome's zygotes start with a clean environment, so the marker
// finds chromedriver and the browser process, and the groups find all the rest.
import fs from 'node:fs';

export function ownedProcesses(ownerPid: number): { pid: number; comm: string }[] {
  const marker = `PANELSHOT_OWNER_PID=${ownerPid}\0`;
  const found: { pid: number; comm: string }[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (state === 'Z' || state === 'X') continue; // dead, only waiting to be reaped
      if (!fs.readFileSync(`/proc/${entry}/environ`, 'latin1').includes(marker)) continue;
      found.push({ pid: Number(entry), comm: fs.readFileSync(`/proc/${entry}/comm`, 'utf8').trim() });
    } catch {
      /* gone meanwhile */
    }
  }
  return found;
}

export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  return cond();
}

/** Process groups of the chromedrivers that `ownerPid` started (each one's pid is its pgid). */
export function ownedGroups(ownerPid: number): number[] {
  return ownedProcesses(ownerPid)
    .filter((p) => p.comm === 'chromedriver')
    .map((p) => p.pid);
}

/** Processes still alive (not zombies) in any of these process groups. */
export function liveInGroups(pgids: number[]): { pid: number; comm: string }[] {
  const wanted = new Set(pgids);
  const found: { pid: number; comm: string }[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z' || fields[0] === 'X' || !wanted.has(Number(fields[2]))) continue;
      found.push({ pid: Number(entry), comm: fs.readFileSync(`/proc/${entry}/comm`, 'utf8').trim() });
    } catch {
      /* gone meanwhile */
    }
  }
  return found;
}

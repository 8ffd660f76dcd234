// The process table, for leak checks: every chromedriver and Chrome that panelshot starts
// carries PANELSHOT_OWNER_PID=<its pid> in its environment (Linux /proc).
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

export async function waitFor(cond: () => boolean, timeoutMs: number, intervalMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  return cond();
}

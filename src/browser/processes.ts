// Reading the process table (Linux /proc): which processes belong to a process group, and
// how much memory they really use (PSS, so shared pages are not counted twice).
import fs from 'node:fs';

export function groupMembers(pgid: number): number[] {
  const pids: number[] = [];
  for (const entry of safeReaddir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = safeRead(`/proc/${entry}/stat`);
    if (!stat) continue;
    // Field 5 is the process group; the command name (field 2) may contain spaces, so
    // count from the closing parenthesis.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(rest[2]) === pgid) pids.push(Number(entry));
  }
  return pids;
}

/** Proportional set size of one process in KiB, 0 if it is gone. */
export function pssKiB(pid: number): number {
  const text = safeRead(`/proc/${pid}/smaps_rollup`);
  const m = text && /^Pss:\s+(\d+) kB/m.exec(text);
  return m ? Number(m[1]) : 0;
}

export function groupPssMiB(pgid: number): number {
  return groupMembers(pgid).reduce((sum, pid) => sum + pssKiB(pid), 0) / 1024;
}

export function killGroup(pgid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    /* already gone */
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

function safeRead(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

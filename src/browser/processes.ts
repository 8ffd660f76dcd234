// Reading the process table (Linux /proc): which processes belong to a process group, and
// how much memory they really use (PSS, so shared pages are not counted twice).
import fs from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';

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

/** Whether process `pid` exists (EPERM: it does, under another user). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the entries of `dir` named `<prefix><pid>-…` whose process is gone: what a
 * panelshot killed with SIGKILL (or a machine that lost power) left behind. An orderly
 * stop removes its own. Called once at start-up.
 */
export function removeLeftovers(dir: string, prefix: string): void {
  for (const name of safeReaddir(dir)) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(/^(\d+)-/.exec(name.slice(prefix.length))?.[1]);
    if (pid && pid !== process.pid && !pidAlive(pid)) fs.rmSync(`${dir}/${name}`, { recursive: true, force: true });
  }
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

/** Children of `pid` (every thread's), from /proc/<pid>/task/<tid>/children. */
async function childrenOf(pid: number): Promise<number[]> {
  const out: number[] = [];
  for (const t of await readdir(`/proc/${pid}/task`).catch(() => [] as string[])) {
    const list = await readFile(`/proc/${pid}/task/${t}/children`, 'utf8').catch(() => '');
    for (const c of list.split(' ')) if (c.trim()) out.push(Number(c));
  }
  return out;
}

export interface TreeReading {
  kib: number;
  processes: number;
  /** Processes whose smaps_rollup was read for this reading (the others: last PSS + RSS change). */
  fresh: number;
  /** KiB per pid, with the kind given by the `kindOf` callback. */
  byPid: Map<number, { kib: number; kind: string }>;
}

/**
 * PSS of a process tree, reading after reading, at a cost two cores can bear. Reading
 * smaps_rollup costs 4-15 ms per Chrome process (the kernel walks its page tables under the
 * process's mmap lock): the whole tree of ~16 processes every 200 ms took ~120 ms per
 * reading and slowed the renders it measured. So each process's smaps_rollup is read when
 * it is first seen and then once every `maxAgeMs` (staggered); in between, its PSS is the
 * last one read plus the change of its RSS since (statm: microseconds). What a process
 * allocates for itself counts fully in both, so a renderer swelling while it draws shows
 * at once; pages it newly shares count fully in RSS but only in part in PSS, so the
 * estimate errs high, never low. `maxAgeMs` 0 reads every process every time.
 */
export class TreePss {
  private readonly known = new Map<number, { rss: number; kib: number; at: number; kind: string }>();
  private tree = { at: 0, pids: [] as number[] };

  constructor(
    private readonly roots: () => number[],
    private readonly kindOf: (pid: number) => string | undefined = () => 'process',
    private readonly maxAgeMs = 1000,
  ) {}

  /**
   * The tree is walked again (every thread's children list: hundreds of small reads) at
   * most every `maxAgeMs`; in between a new process is missed, which starts small.
   */
  private async pids(): Promise<number[]> {
    if (Date.now() - this.tree.at < this.maxAgeMs) return this.tree.pids;
    this.tree = { at: Date.now(), pids: await this.walk() };
    return this.tree.pids;
  }

  private async walk(): Promise<number[]> {
    const found = new Set<number>();
    const todo = this.roots();
    for (let pid = todo.pop(); pid !== undefined; pid = todo.pop()) {
      if (found.has(pid)) continue;
      found.add(pid);
      todo.push(...(await childrenOf(pid)));
    }
    return [...found];
  }

  async read(): Promise<TreeReading> {
    const at = Date.now();
    const byPid = new Map<number, { kib: number; kind: string }>();
    let kib = 0;
    let fresh = 0;
    for (const pid of await this.pids()) {
      const statm = await readFile(`/proc/${pid}/statm`, 'utf8').catch(() => undefined);
      if (statm === undefined) continue;
      const rss = Number(statm.split(' ')[1]) * 4;
      let k = this.known.get(pid);
      let now: number;
      if (!k || at - k.at >= this.maxAgeMs) {
        const kind = k?.kind ?? this.kindOf(pid);
        const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8').catch(() => undefined);
        const m = rollup && /^Pss:\s+(\d+) kB/m.exec(rollup);
        if (!kind || !m) continue;
        // Staggered: processes first seen together are not all read again together.
        k = { rss, kib: Number(m[1]), at: k ? at : at - Math.random() * this.maxAgeMs, kind };
        this.known.set(pid, k);
        fresh++;
        now = k.kib;
      } else {
        now = Math.max(0, k.kib + rss - k.rss);
      }
      byPid.set(pid, { kib: now, kind: k.kind });
      kib += now;
    }
    for (const pid of this.known.keys()) if (!byPid.has(pid)) this.known.delete(pid);
    return { kib, processes: byPid.size, fresh, byPid };
  }
}

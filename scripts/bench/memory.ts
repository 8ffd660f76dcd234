// Memory of panelshot as the machine sees it: PSS (shared pages split fairly between the
// processes sharing them) summed over the node process and every process of its Chromes.
//
// Which processes: everything descended from panelshot (chromedriver → Chrome → zygotes →
// renderers, GPU, utilities), plus the crashpad handlers, which double-fork away to init but
// carry PANELSHOT_OWNER_PID. The marker alone is not enough: Chrome starts its zygotes with a
// cleaned environment, so the zygotes, renderers, GPU and utility processes — about two
// thirds of a Chrome's PSS — do not carry it.
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pssKiB } from '../../src/browser/processes';

interface ProcInfo {
  pid: number;
  ppid: number;
  marked: boolean;
}

function processTable(marker: string): ProcInfo[] {
  const table: ProcInfo[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (rest[0] === 'Z' || rest[0] === 'X') continue; // dead, only waiting to be reaped
      const marked = fs.readFileSync(`/proc/${entry}/environ`, 'latin1').includes(marker);
      table.push({ pid: Number(entry), ppid: Number(rest[1]), marked });
    } catch {
      /* gone meanwhile, or not ours to read */
    }
  }
  return table;
}

/** panelshot's pid, its descendants, and marked processes (with their descendants). */
export function panelshotProcesses(ownerPid: number): number[] {
  const table = processTable(`PANELSHOT_OWNER_PID=${ownerPid}\0`);
  const children = new Map<number, number[]>();
  for (const p of table) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p.pid]);
  const found = new Set<number>();
  const todo = [ownerPid, ...table.filter((p) => p.marked).map((p) => p.pid)];
  for (let pid = todo.pop(); pid !== undefined; pid = todo.pop()) {
    if (found.has(pid)) continue;
    found.add(pid);
    todo.push(...(children.get(pid) ?? []));
  }
  return [...found];
}

export interface PssSample {
  at: number;
  mib: number;
  processes: number;
}

export function samplePss(ownerPid: number): PssSample {
  const pids = panelshotProcesses(ownerPid);
  const kib = pids.reduce((sum, pid) => sum + pssKiB(pid), 0);
  return { at: Date.now(), mib: kib / 1024, processes: pids.length };
}

export interface PeakPss {
  peakMiB: number;
  meanMiB: number;
  samples: number;
  maxProcesses: number;
  /** What one sample costs: smaps_rollup of ~50 Chrome processes is ~70-100 ms of kernel time. */
  meanSampleMs: number;
}

/**
 * Samples every `intervalMs` until stopped; the peak is what a memory limit must allow.
 * The sampling runs in a child process: in the bench process each ~100 ms sample would
 * stall the Grafana stand-in and the HTTP clients that share its event loop.
 */
export class PssSampler {
  private readonly samples: (PssSample & { ms: number })[] = [];
  private readonly child: ChildProcess;
  private readonly ready: Promise<void>;

  constructor(ownerPid: number, intervalMs: number) {
    this.child = fork(path.join(__dirname, 'pssChild.ts'), [String(ownerPid), String(intervalMs)], { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
    this.child.on('message', (m) => this.samples.push(m as PssSample & { ms: number }));
    // The first sample arrives once the child is up: the measured window starts there.
    this.ready = new Promise((resolve, reject) => {
      this.child.once('message', () => resolve());
      this.child.once('exit', (code) => reject(new Error(`the PSS sampler exited with status ${code}`)));
    });
  }

  started(): Promise<void> {
    return this.ready;
  }

  async stop(): Promise<PeakPss> {
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.send('stop'); // answered with one last sample, then the child exits
    await exited;
    const mibs = this.samples.map((s) => s.mib);
    return {
      peakMiB: Math.max(...mibs),
      meanMiB: mibs.reduce((a, b) => a + b, 0) / mibs.length,
      samples: mibs.length,
      maxProcesses: Math.max(...this.samples.map((s) => s.processes)),
      meanSampleMs: this.samples.reduce((a, s) => a + s.ms, 0) / this.samples.length,
    };
  }
}

/**
 * PSS by kind of process (node, chromedriver, browser, renderer, gpu-process, zygote,
 * utility:<service>, crashpad): where the memory sits, for deciding which Chrome flag to try.
 */
export function pssByKind(ownerPid: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const pid of panelshotProcesses(ownerPid)) {
    let kind: string;
    try {
      const comm = fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      // Zygote-forked processes rewrite their command line: split on NUL and spaces.
      const args = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split(/[\0 ]/);
      const type = args.find((a) => a.startsWith('--type='))?.slice(7);
      const sub = args.find((a) => a.startsWith('--utility-sub-type='))?.slice(19);
      kind = pid === ownerPid ? 'node' : type ? (sub ? `utility:${sub.replace(/\.mojom\./, '.')}` : type) : comm === 'chromium' ? 'browser' : comm;
    } catch {
      continue;
    }
    out[kind] = (out[kind] ?? 0) + pssKiB(pid) / 1024;
  }
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, Math.round(v)]));
}

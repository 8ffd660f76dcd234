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
import { pssKiB, TreePss } from '../../src/browser/processes';
import { percentile } from './stats';

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

/** What kind of process this is (node, chromedriver, browser, renderer, gpu-process, zygote,
 * utility:<service>, crashpad), undefined when it is gone. */
function kindOf(pid: number, ownerPid: number): string | undefined {
  try {
    const comm = fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    // Zygote-forked processes rewrite their command line: split on NUL and spaces.
    const args = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split(/[\0 ]/);
    const type = args.find((a) => a.startsWith('--type='))?.slice(7);
    const sub = args.find((a) => a.startsWith('--utility-sub-type='))?.slice(19);
    return pid === ownerPid ? 'node' : type ? (sub ? `utility:${sub.replace(/\.mojom\./, '.')}` : type) : /^(chromium|chrome)/.test(comm) ? 'browser' : comm;
  } catch {
    return undefined;
  }
}

export interface PssSample {
  /** Epoch ms when the sample started. */
  at: number;
  mib: number;
  processes: number;
  /** MiB by kind of process (see kindOf). */
  byKind: Record<string, number>;
  /** What taking this sample cost (wall ms). */
  ms: number;
  /** Processes whose smaps_rollup was read for this sample (the rest kept their last PSS). */
  fresh?: number;
}

export function samplePss(ownerPid: number): PssSample {
  const t = performance.now();
  const at = Date.now();
  const byKind: Record<string, number> = {};
  let kib = 0;
  let processes = 0;
  for (const pid of panelshotProcesses(ownerPid)) {
    const kind = kindOf(pid, ownerPid);
    if (!kind) continue;
    const k = pssKiB(pid);
    kib += k;
    processes++;
    byKind[kind] = (byKind[kind] ?? 0) + k / 1024;
  }
  return { at, mib: kib / 1024, processes, byKind, ms: performance.now() - t };
}

/**
 * The incremental sampler of the bench's child process (see TreePss): panelshot and its
 * descendants, plus the marked processes (crashpad) found by a full /proc scan every `scanMs`.
 */
export function treeSampler(ownerPid: number, scanMs = 2000): () => Promise<PssSample> {
  let roots: number[] = [ownerPid];
  let lastScan = 0;
  const tree = new TreePss(
    () => {
      if (Date.now() - lastScan >= scanMs) {
        lastScan = Date.now();
        roots = panelshotProcesses(ownerPid);
      }
      return [...roots];
    },
    (pid) => kindOf(pid, ownerPid),
  );
  return async () => {
    const t = performance.now();
    const at = Date.now();
    const r = await tree.read();
    const byKind: Record<string, number> = {};
    for (const { kib, kind } of r.byPid.values()) byKind[kind] = (byKind[kind] ?? 0) + kib / 1024;
    return { at, mib: r.kib / 1024, processes: r.processes, byKind, ms: performance.now() - t, fresh: r.fresh };
  };
}

/** A named stretch of the bench (startup, latency, idle, throughput, …), epoch ms. */
export interface Phase {
  name: string;
  from: number;
  to: number;
}

export interface PssSeries {
  intervalMs: number;
  samples: PssSample[];
  phases: Phase[];
}

export interface PeakPss {
  peakMiB: number;
  p95MiB: number;
  meanMiB: number;
  samples: number;
  maxProcesses: number;
  /** What one sample costs: smaps_rollup is 4-12 ms of kernel time per Chrome process. */
  meanSampleMs: number;
  /** Mean processes read fresh (smaps_rollup) per sample. */
  meanFresh: number;
  /** Longest time between two sample starts: no peak shorter than this can hide... mostly. */
  maxGapMs: number;
  /** The peak sample by kind of process: where the peak sits. */
  peakByKind: Record<string, number>;
}

/** Peak, p95 and mean over the samples that started within `phase` (all of them without). */
export function summarize(series: PssSeries, phase?: string): PeakPss {
  const p = phase === undefined ? undefined : series.phases.find((x) => x.name === phase);
  const s = p ? series.samples.filter((x) => x.at >= p.from && x.at <= p.to) : series.samples;
  if (!s.length) return { peakMiB: NaN, p95MiB: NaN, meanMiB: NaN, samples: 0, maxProcesses: 0, meanSampleMs: NaN, meanFresh: NaN, maxGapMs: NaN, peakByKind: {} };
  const mibs = s.map((x) => x.mib);
  const peak = s.reduce((a, b) => (b.mib > a.mib ? b : a));
  let maxGapMs = 0;
  for (let i = 1; i < s.length; i++) maxGapMs = Math.max(maxGapMs, s[i]!.at - s[i - 1]!.at);
  return {
    peakMiB: peak.mib,
    p95MiB: percentile(mibs, 95),
    meanMiB: mibs.reduce((a, b) => a + b, 0) / mibs.length,
    samples: s.length,
    maxProcesses: Math.max(...s.map((x) => x.processes)),
    meanSampleMs: s.reduce((a, x) => a + x.ms, 0) / s.length,
    meanFresh: s.reduce((a, x) => a + (x.fresh ?? x.processes), 0) / s.length,
    maxGapMs,
    peakByKind: roundedKinds(peak.byKind),
  };
}

/** Kinds rounded to whole MiB, utility services folded into their short name. */
export function roundedKinds(byKind: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(byKind)) {
    const short = k.replace(/^utility:(\w+)\..*/, '$1');
    out[short] = (out[short] ?? 0) + v;
  }
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, Math.round(v)]));
}

/**
 * Samples every `intervalMs` from construction until stopped, across every phase of the
 * bench; the peak is what a memory limit must allow. The sampling runs in a child process:
 * in the bench process each sample (tens of ms of /proc reads) would stall the Grafana
 * stand-in and the HTTP clients that share its event loop.
 */
export class PssSampler {
  private readonly samples: PssSample[] = [];
  private readonly phases: Phase[] = [];
  private readonly child: ChildProcess;
  private readonly ready: Promise<void>;

  /** `exact`: read every process's smaps_rollup in every sample (slow: perturbs the renders). */
  constructor(ownerPid: number, private readonly intervalMs: number, exact = false) {
    this.child = fork(path.join(__dirname, 'pssChild.ts'), [String(ownerPid), String(intervalMs), exact ? 'exact' : 'incremental'], { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
    this.child.on('message', (m) => this.samples.push(m as PssSample));
    // The first sample arrives once the child is up: the measured window starts there.
    this.ready = new Promise((resolve, reject) => {
      this.child.once('message', () => resolve());
      this.child.once('exit', (code) => reject(new Error(`the PSS sampler exited with status ${code}`)));
    });
  }

  started(): Promise<void> {
    return this.ready;
  }

  /** Starts a named phase (and ends the one before). */
  phase(name: string): void {
    this.endPhase();
    this.phases.push({ name, from: Date.now(), to: Infinity });
  }

  endPhase(): void {
    const last = this.phases.at(-1);
    if (last && last.to === Infinity) last.to = Date.now();
  }

  /** The series so far (the child keeps sampling). */
  series(): PssSeries {
    return { intervalMs: this.intervalMs, samples: [...this.samples], phases: this.phases.map((p) => ({ ...p, to: p.to === Infinity ? Date.now() : p.to })) };
  }

  async stop(): Promise<PssSeries> {
    this.endPhase();
    if (this.child.exitCode === null && this.child.connected) {
      const exited = new Promise((r) => this.child.once('exit', r));
      this.child.send('stop'); // answered with one last sample, then the child exits
      await exited;
    }
    return this.series();
  }
}

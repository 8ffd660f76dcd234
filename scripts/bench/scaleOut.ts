// `npm run bench -- --scale-out`: the same load against three ways of getting Chrome, side
// by side in one run on this machine: local Chrome (panelshot's own chromedrivers), a
// Selenium Grid 4 standalone, and a hub with two nodes (POOL_SIZE/2 slots each). For each:
// renders/min at the given concurrency, CPU per render (whole machine), and PSS of the
// browsers per session, of the Grid's Java and of panelshot's own process.
// The numbers behind README "Scaling".
import fs from 'node:fs';
import os from 'node:os';
import { groupMembers, pssKiB } from '../../src/browser/processes';
import { startHub, startNode, startStandaloneGrid, waitForGrid, type GridProcess } from '../../test/support/grid';
import type { Standin } from '../../test/standin/grafana';
import type { BenchArgs } from './args';
import { cpuBusySince, cpuTimes } from './cpu';
import { samplePss } from './memory';
import { render, startPanelshot } from './panelshot';
import { mib, ms, type Row } from './report';
import { median, round } from './stats';

export type Mode = 'local' | 'grid-standalone' | 'hub+2-nodes';

export interface ScaleOutResult {
  mode: Mode;
  renders: number;
  failed: number;
  rendersPerMinute: number;
  medianMs: number;
  cpuMsPerRender: number;
  /** Peak PSS of every browser process (Chrome and chromedriver), divided by POOL_SIZE. */
  browserMiBPerSession: number;
  /** Peak PSS of the Grid's Java processes (0 for local). */
  gridJavaMiB: number;
  /** PSS of panelshot's own Node process. */
  panelshotMiB: number;
  startupMs: number;
}

/** PSS in MiB of a Grid's process groups, split into Java and the browsers it started. */
function gridPss(procs: GridProcess[]): { java: number; browsers: number } {
  let java = 0;
  let browsers = 0;
  for (const p of procs) {
    for (const pid of groupMembers(p.proc.pid!)) {
      let comm = '';
      try {
        comm = fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      } catch {
        continue;
      }
      if (comm === 'java') java += pssKiB(pid);
      else browsers += pssKiB(pid);
    }
  }
  return { java: java / 1024, browsers: browsers / 1024 };
}

async function startGrid(mode: Mode, pool: number): Promise<{ url?: string; procs: GridProcess[] }> {
  if (mode === 'local') return { procs: [] };
  if (mode === 'grid-standalone') {
    const g = await startStandaloneGrid(pool);
    return { url: g.url, procs: [g] };
  }
  const hub = await startHub();
  const nodes = await Promise.all([0, 1].map(() => startNode(hub, { maxSessions: Math.ceil(pool / 2) })));
  await waitForGrid(hub.url, 2, [hub, ...nodes]);
  return { url: hub.url, procs: [hub, ...nodes] };
}

export async function measureScaleOut(g: Standin, args: BenchArgs, log: (m: string) => void): Promise<ScaleOutResult[]> {
  const out: ScaleOutResult[] = [];
  for (const mode of ['local', 'grid-standalone', 'hub+2-nodes'] as Mode[]) {
    const grid = await startGrid(mode, args.pool);
    try {
      const ps = await startPanelshot(g.url, args.pool, { ...args.env, ...(grid.url ? { SELENIUM_REMOTE_URL: grid.url } : {}) });
      try {
        log(`${mode}: warm after ${ps.startupMs} ms`);
        const page = (i: number) => `${g.url}/d-solo/scale/panel-${i}?orgId=1&panelId=${i}&from=now-6h&to=now`;
        for (let i = 0; i < args.pool; i++) await render(ps.url, page(900 + i), 900 + i, args.width, args.height); // warm-up
        let peakBrowsers = 0;
        let peakJava = 0;
        let panelshotMiB = 0;
        const sample = () => {
          if (grid.procs.length) {
            const p = gridPss(grid.procs);
            peakBrowsers = Math.max(peakBrowsers, p.browsers);
            peakJava = Math.max(peakJava, p.java);
            panelshotMiB = Math.max(panelshotMiB, pssKiB(ps.pid) / 1024);
          } else {
            const k = samplePss(ps.pid).byKind;
            const node = k.node ?? 0;
            peakBrowsers = Math.max(peakBrowsers, Object.values(k).reduce((a, b) => a + b, 0) - node);
            panelshotMiB = Math.max(panelshotMiB, node);
          }
        };
        const sampler = setInterval(sample, args.pssIntervalMs);
        const cpu = cpuTimes();
        const t0 = performance.now();
        let next = 0;
        const times: number[] = [];
        let failed = 0;
        await Promise.all(
          Array.from({ length: args.concurrency }, async () => {
            while (next < args.renders) {
              const i = next++;
              const a = await render(ps.url, page(1000 + i), 1000 + i, args.width, args.height);
              if (a.status === 200) times.push(a.clientMs);
              else failed++;
            }
          }),
        );
        const elapsed = performance.now() - t0;
        // cpuBusySince is the busy share of all cores: as CPU time, over the whole run.
        const busyMs = cpuBusySince(cpu) * os.cpus().length * elapsed;
        clearInterval(sampler);
        sample();
        out.push({
          mode,
          renders: args.renders,
          failed,
          rendersPerMinute: round((args.renders / elapsed) * 60_000, 1),
          medianMs: round(median(times)),
          cpuMsPerRender: round(busyMs / args.renders),
          browserMiBPerSession: round(peakBrowsers / args.pool),
          gridJavaMiB: round(peakJava),
          panelshotMiB: round(panelshotMiB),
          startupMs: ps.startupMs,
        });
        log(`${mode}: ${out.at(-1)!.rendersPerMinute} renders/min, ${out.at(-1)!.browserMiBPerSession} MiB/session`);
      } finally {
        await ps.stop();
      }
    } finally {
      for (const p of grid.procs.reverse()) await p.stop();
    }
  }
  return out;
}

export function scaleOutRows(r: ScaleOutResult[]): Row[] {
  const by = (f: (x: ScaleOutResult) => string) => r.map(f).join(' · ');
  return [
    { metric: `mode (${r.map((x) => x.mode).join(' · ')})`, value: '' },
    { metric: 'renders/min', value: by((x) => String(x.rendersPerMinute)) },
    { metric: 'median render', value: by((x) => ms(x.medianMs)) },
    { metric: 'CPU per render (machine)', value: by((x) => ms(x.cpuMsPerRender)) },
    { metric: 'browser PSS per session', value: by((x) => mib(x.browserMiBPerSession)) },
    { metric: 'Grid Java PSS', value: by((x) => mib(x.gridJavaMiB)) },
    { metric: 'panelshot process PSS', value: by((x) => mib(x.panelshotMiB)) },
    { metric: 'start-up (warm)', value: by((x) => ms(x.startupMs)) },
    { metric: 'failed renders', value: by((x) => String(x.failed)) },
  ];
}

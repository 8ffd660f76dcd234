// `npm run bench -- --curves`: how panelshot's cost grows with the work, in one run.
//   size:        median latency and CPU per render at 1000×500, 2000×1000, 4000×2000 and
//                1000×500 at scale 2 (sequential renders, POOL_SIZE=4), each with its floor;
//   concurrency: throughput, p95 latency and peak PSS at 1, 2, 4, 8 (POOL_SIZE = concurrency);
//   panels:      a whole-page PNG (height=-1) of 1 panel (d-solo), the stand-in's 10-panel grid
//                board and its 31-panel big board, lazy panels loaded as they come into view;
//   sustained:   --sustained-min minutes at concurrency 4 (POOL_SIZE=4): PSS every
//                --pss-interval ms and its slope in MiB/hour (least squares).
// Every point says how many renders and PSS samples it rests on. Charts go next to the JSON.
import fs from 'node:fs';
import path from 'node:path';
import type { Standin } from '../../test/standin/grafana';
import { ReferenceCamera } from '../../test/support/reference';
import type { BenchArgs } from './args';
import { writeChart, type Chart } from './chart';
import { processCpuMs } from './cpu';
import { measureFloor } from './floor';
import { panelshotProcesses, PssSampler, summarize, type PssSeries } from './memory';
import { render, startPanelshot, type Panelshot, type RenderAnswer } from './panelshot';
import { mib, ms, ratio, table, type Row } from './report';
import { median, percentile, round } from './stats';

const log = (msg: string) => process.stderr.write(`bench: ${msg}\n`);

const SIZES = [
  { label: '1000×500', width: 1000, height: 500, scale: 1 },
  { label: '2000×1000', width: 2000, height: 1000, scale: 1 },
  { label: '4000×2000', width: 4000, height: 2000, scale: 1 },
  { label: '1000×500 @2x', width: 1000, height: 500, scale: 2 },
];
const CONCURRENCY = [1, 2, 4, 8];
/** Renders per size or panel-count point, and per client at a concurrency point (at least 16 in all). */
const SEQUENTIAL_RENDERS = 5;
const FLOOR_PANELS = 3;
const RENDERS_PER_CLIENT = 6;

let nextPanel = 1000;
const panelPath = (id: number) => `/d-solo/bench/panel-${id}?orgId=1&panelId=${id}&from=now-6h&to=now`;

interface Point {
  x: string;
  renders: number;
  failed: number;
  medianMs: number;
  p95Ms: number;
  cpuMsPerRender: number;
  perMinute?: number;
  floorMs?: number;
  peakMiB: number;
  p95MiB: number;
  pssSamples: number;
}

/** One panelshot, a sampler from its spawn, `work` run against it, everything stopped after. */
async function withPanelshot<T>(g: Standin, args: BenchArgs, pool: number, work: (ps: Panelshot, s: PssSampler) => Promise<T>): Promise<{ result: T; series: PssSeries; leftover: number }> {
  let sampler: PssSampler | undefined;
  const ps = await startPanelshot(g.url, pool, args.env, args.main, (pid) => {
    sampler = new PssSampler(pid, args.pssIntervalMs, args.pssExact);
    sampler.phase('startup');
  });
  try {
    await sampler!.started();
    const result = await work(ps, sampler!);
    const series = await sampler!.stop();
    return { result, series, leftover: (await ps.stop()).leftover };
  } catch (e) {
    await sampler!.stop().catch(() => undefined);
    await ps.stop();
    throw e;
  }
}

async function timed(ps: Panelshot, jobs: (() => Promise<RenderAnswer>)[], concurrency: number) {
  const answers: RenderAnswer[] = [];
  const cpu0 = processCpuMs(panelshotProcesses(ps.pid));
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let job = jobs.shift(); job; job = jobs.shift()) answers.push(await job());
    }),
  );
  const wallMs = performance.now() - t0;
  const cpuMsPerRender = (processCpuMs(panelshotProcesses(ps.pid)) - cpu0) / answers.length;
  return { answers, wallMs, cpuMsPerRender };
}

function point(x: string, run: { answers: RenderAnswer[]; wallMs: number; cpuMsPerRender: number }, series: PssSeries, phase: string, extra: Partial<Point> = {}): Point {
  const lat = run.answers.map((a) => a.clientMs);
  const pss = summarize(series, phase);
  return {
    x,
    renders: run.answers.length,
    failed: run.answers.filter((a) => a.status !== 200).length,
    medianMs: median(lat),
    p95Ms: percentile(lat, 95),
    cpuMsPerRender: run.cpuMsPerRender,
    peakMiB: pss.peakMiB,
    p95MiB: pss.p95MiB,
    pssSamples: pss.samples,
    ...extra,
  };
}

/** Floors per size, measured before panelshot starts (one plain Chrome, FLOOR_PANELS panels each). */
async function floors(g: Standin): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const cam = await ReferenceCamera.open();
  try {
    for (const s of SIZES) {
      const paths = new Map(Array.from({ length: FLOOR_PANELS }, () => nextPanel++).map((id) => [id, panelPath(id)] as [number, string]));
      const f = await measureFloor(g, cam, paths, s.width, s.height, new Map(), s.scale);
      out.set(s.label, f.medianMs);
      log(`curves: floor ${s.label} ${Math.round(f.medianMs)} ms (${FLOOR_PANELS} panels)`);
    }
  } finally {
    await cam.close();
  }
  return out;
}

async function sizeCurve(g: Standin, args: BenchArgs, floorMs: Map<string, number>): Promise<{ points: Point[]; series: PssSeries; leftover: number }> {
  const { result, series, leftover } = await withPanelshot(g, args, 4, async (ps, sampler) => {
    const points: Point[] = [];
    for (const s of SIZES) {
      sampler.phase(s.label);
      const jobs = Array.from({ length: SEQUENTIAL_RENDERS }, () => {
        const id = nextPanel++;
        return async () => {
          await new Promise((r) => setTimeout(r, args.latencyGapMs));
          return render(ps.url, g.url + panelPath(id), id, s.width, s.height, s.scale);
        };
      });
      const run = await timed(ps, jobs, 1);
      // The gaps are idle time, not render time: CPU per render is what the renders cost.
      points.push(point(s.label, run, sampler.series(), s.label, { floorMs: floorMs.get(s.label) }));
      log(`curves: size ${s.label}: median ${Math.round(points.at(-1)!.medianMs)} ms`);
    }
    return points;
  });
  // The phases' PSS needs the whole series (the last samples arrive at stop).
  return { points: result.map((p) => ({ ...p, ...pss(series, p.x) })), series, leftover };
}

function pss(series: PssSeries, phase: string): Pick<Point, 'peakMiB' | 'p95MiB' | 'pssSamples'> {
  const s = summarize(series, phase);
  return { peakMiB: s.peakMiB, p95MiB: s.p95MiB, pssSamples: s.samples };
}

async function concurrencyCurve(g: Standin, args: BenchArgs): Promise<{ points: Point[]; leftover: number }> {
  const points: Point[] = [];
  let leftover = 0;
  for (const c of CONCURRENCY) {
    const n = Math.max(16, c * RENDERS_PER_CLIENT);
    const r = await withPanelshot(g, args, c, async (ps, sampler) => {
      sampler.phase('load');
      const jobs = Array.from({ length: n }, () => {
        const id = nextPanel++;
        return () => render(ps.url, g.url + panelPath(id), id, args.width, args.height);
      });
      return timed(ps, jobs, c);
    });
    leftover += r.leftover;
    points.push(point(String(c), r.result, r.series, 'load', { perMinute: (r.result.answers.length / r.result.wallMs) * 60_000 }));
    log(`curves: concurrency ${c}: ${points.at(-1)!.perMinute!.toFixed(1)}/min, peak ${Math.round(points.at(-1)!.peakMiB)} MiB`);
  }
  return { points, leftover };
}

async function panelCurve(g: Standin, args: BenchArgs): Promise<{ points: Point[]; leftover: number }> {
  // The stand-in's grid boards (test/standin/dashboards.ts), loaded lazily like Grafana's:
  // 10 panels in one row, and the big board's 31 (12 + 3 repeats + 16; the collapsed row
  // stays collapsed). A fresh query string each time, so no render reuses another's page.
  const pages = [
    { x: '1', url: () => panelPath(nextPanel++) },
    { x: '10', url: () => `/d/ten/ten-panels?orgId=1&from=now-6h&to=now&n=${nextPanel++}` },
    { x: '31', url: () => `/d/big/big-board?orgId=1&from=now-6h&to=now&n=${nextPanel++}` },
  ];
  const r = await withPanelshot(g, args, 4, async (ps, sampler) => {
    const runs = [];
    for (const p of pages) {
      sampler.phase(p.x);
      const jobs = Array.from({ length: SEQUENTIAL_RENDERS }, () => async () => {
        await new Promise((res) => setTimeout(res, args.latencyGapMs));
        return render(ps.url, g.url + p.url(), 0, args.width, -1);
      });
      runs.push({ x: p.x, run: await timed(ps, jobs, 1) });
    }
    return runs;
  });
  return { points: r.result.map(({ x, run }) => point(x, run, r.series, x)), leftover: r.leftover };
}

export interface Sustained {
  minutes: number;
  renders: number;
  failed: number;
  perMinute: number;
  samples: number;
  peakMiB: number;
  p95MiB: number;
  /** Least-squares slope of all samples, and of the per-minute medians (peaks smoothed out). */
  slopeMiBPerHour: number;
  medianSlopeMiBPerHour: number;
  firstMinuteMedianMiB: number;
  lastMinuteMedianMiB: number;
  series: PssSeries;
}

export function slopePerHour(points: [number, number][]): number {
  const n = points.length;
  if (n < 2) return NaN;
  const mx = points.reduce((a, p) => a + p[0], 0) / n;
  const my = points.reduce((a, p) => a + p[1], 0) / n;
  const sxy = points.reduce((a, p) => a + (p[0] - mx) * (p[1] - my), 0);
  const sxx = points.reduce((a, p) => a + (p[0] - mx) ** 2, 0);
  return (sxy / sxx) * 3_600_000;
}

/** The run at concurrency 4 for `minutes`; `env` lets a test of the memory ceiling reuse it. */
export async function sustained(g: Standin, args: BenchArgs, minutes: number): Promise<Sustained & { leftover: number }> {
  const r = await withPanelshot(g, args, 4, async (ps, sampler) => {
    sampler.phase('sustained');
    const until = performance.now() + minutes * 60_000;
    const answers: RenderAnswer[] = [];
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (performance.now() < until) {
          const id = nextPanel++;
          answers.push(await render(ps.url, g.url + panelPath(id), id, args.width, args.height));
        }
      }),
    );
    return { answers, wallMs: performance.now() - t0 };
  });
  const phase = r.series.phases.find((p) => p.name === 'sustained')!;
  const inRun = r.series.samples.filter((s) => s.at >= phase.from && s.at <= phase.to);
  const byMinute = new Map<number, number[]>();
  for (const s of inRun) {
    const m = Math.floor((s.at - phase.from) / 60_000);
    byMinute.set(m, [...(byMinute.get(m) ?? []), s.mib]);
  }
  const minuteMedians = [...byMinute].filter(([, v]) => v.length >= 10).map(([m, v]) => [m * 60_000 + 30_000, median(v)] as [number, number]);
  const s = summarize(r.series, 'sustained');
  return {
    minutes,
    renders: r.result.answers.length,
    failed: r.result.answers.filter((a) => a.status !== 200).length,
    perMinute: (r.result.answers.length / r.result.wallMs) * 60_000,
    samples: s.samples,
    peakMiB: s.peakMiB,
    p95MiB: s.p95MiB,
    slopeMiBPerHour: slopePerHour(inRun.map((x) => [x.at - phase.from, x.mib])),
    medianSlopeMiBPerHour: slopePerHour(minuteMedians),
    firstMinuteMedianMiB: minuteMedians[0]?.[1] ?? NaN,
    lastMinuteMedianMiB: minuteMedians.at(-1)?.[1] ?? NaN,
    series: r.series,
    leftover: r.leftover,
  };
}

export async function runCurves(g: Standin, args: BenchArgs): Promise<number> {
  const floorMs = await floors(g);
  const size = await sizeCurve(g, args, floorMs);
  const conc = await concurrencyCurve(g, args);
  const panels = await panelCurve(g, args);
  log(`curves: sustained run, ${args.sustainedMinutes} min at concurrency 4`);
  const sus = await sustained(g, args, args.sustainedMinutes);
  const leftover = size.leftover + conc.leftover + panels.leftover + sus.leftover;

  const f1 = floorMs.get(SIZES[0]!.label)!;
  const rows: Row[] = [
    ...size.points.map((p) => ({
      metric: `size ${p.x}: median / CPU per render (${p.renders} renders; floor of ${FLOOR_PANELS})`,
      value: `${ms(p.medianMs)} / ${ms(p.cpuMsPerRender)}`,
      vsFloor: p.floorMs ? `${ratio(p.medianMs / p.floorMs)} of ${ms(p.floorMs)}` : '',
    })),
    ...conc.points.map((p) => ({
      metric: `concurrency ${p.x} (POOL_SIZE=${p.x}, ${p.renders} renders, ${p.pssSamples} PSS samples): throughput / p95 / peak PSS`,
      value: `${p.perMinute!.toFixed(1)}/min / ${ms(p.p95Ms)} / ${mib(p.peakMiB)}`,
      vsFloor: `${ratio(p.p95Ms / f1)} (p95)`,
    })),
    ...panels.points.map((p) => ({
      metric: `${p.x} panel(s), whole page (${p.renders} renders, ${p.pssSamples} PSS samples): median / CPU / peak PSS`,
      value: `${ms(p.medianMs)} / ${ms(p.cpuMsPerRender)} / ${mib(p.peakMiB)}`,
      vsFloor: `${ratio(p.medianMs / f1)} of the 1000×500 panel floor`,
    })),
    {
      metric: `sustained ${sus.minutes} min at concurrency 4 (${sus.renders} renders, ${sus.samples} PSS samples): slope, all samples / per-minute medians`,
      value: `${round(sus.slopeMiBPerHour, 1)} / ${round(sus.medianSlopeMiBPerHour, 1)} MiB/h`,
    },
    { metric: '  throughput / peak / p95 PSS / first → last minute median', value: `${sus.perMinute.toFixed(1)}/min / ${mib(sus.peakMiB)} / ${mib(sus.p95MiB)} / ${mib(sus.firstMinuteMedianMiB)} → ${mib(sus.lastMinuteMedianMiB)}` },
    { metric: 'renders not 200 / Chrome processes left behind', value: `${[...size.points, ...conc.points, ...panels.points].reduce((a, p) => a + p.failed, 0) + sus.failed} / ${leftover}` },
  ];
  console.log(table(rows));

  const base = args.out.replace(/(\.json)?$/, '');
  const dir = path.dirname(path.resolve(base));
  fs.mkdirSync(dir, { recursive: true });
  const charts: [string, Chart][] = [
    [
      `${base}.curve-size.png`,
      {
        title: 'Latency and CPU per render against image size (median, sequential)',
        xLabel: 'megapixels (device pixels)',
        yLabel: 'ms',
        dots: true,
        lines: [
          { name: 'panelshot median latency', bold: true, points: size.points.map((p, i) => [mp(SIZES[i]!), p.medianMs]) },
          { name: 'floor', points: size.points.map((p, i) => [mp(SIZES[i]!), p.floorMs ?? NaN]) },
          { name: 'CPU per render', points: size.points.map((p, i) => [mp(SIZES[i]!), p.cpuMsPerRender]) },
        ],
      },
    ],
    [
      `${base}.curve-concurrency.png`,
      {
        title: 'Against concurrency (POOL_SIZE = concurrency, 2 cores)',
        xLabel: 'concurrent renders',
        yLabel: 'renders/min · p95 ms ÷ 10 · peak PSS MiB ÷ 10',
        dots: true,
        lines: [
          { name: 'throughput /min', bold: true, points: conc.points.map((p) => [Number(p.x), p.perMinute!]) },
          { name: 'p95 latency (ms ÷ 10)', points: conc.points.map((p) => [Number(p.x), p.p95Ms / 10]) },
          { name: 'peak PSS (MiB ÷ 10)', points: conc.points.map((p) => [Number(p.x), p.peakMiB / 10]) },
        ],
      },
    ],
    [
      `${base}.curve-panels.png`,
      {
        title: 'Whole-page render against panels on the page',
        xLabel: 'panels',
        yLabel: 'ms · MiB',
        dots: true,
        lines: [
          { name: 'median latency ms', bold: true, points: panels.points.map((p) => [Number(p.x), p.medianMs]) },
          { name: 'CPU per render ms', points: panels.points.map((p) => [Number(p.x), p.cpuMsPerRender]) },
          { name: 'peak PSS MiB', points: panels.points.map((p) => [Number(p.x), p.peakMiB]) },
        ],
      },
    ],
    [
      `${base}.curve-sustained.png`,
      {
        title: `PSS over ${sus.minutes} min at concurrency 4: ${round(sus.medianSlopeMiBPerHour, 1)} MiB/h (per-minute medians)`,
        xLabel: `minutes (${sus.samples} samples every ${args.pssIntervalMs} ms)`,
        yLabel: 'PSS, MiB',
        lines: [{ name: 'total PSS', bold: true, points: sus.series.samples.map((s) => [round((s.at - sus.series.samples[0]!.at) / 60_000, 3), s.mib]) }],
      },
    ],
  ];
  for (const [file, c] of charts) await writeChart(file, { ...c, lines: c.lines.map((l) => ({ ...l, points: l.points.filter((p) => Number.isFinite(p[1])) })) });
  const json = {
    at: new Date().toISOString(),
    args,
    floorsMs: Object.fromEntries(floorMs),
    size: size.points,
    concurrency: conc.points,
    panels: { note: '1 panel (d-solo), the stand-in\'s 10-panel grid board and its 31-panel big board, whole page (height=-1)', points: panels.points },
    sustained: { ...sus, series: undefined, seriesMiB: sus.series.samples.map((s) => [s.at - sus.series.samples[0]!.at, round(s.mib, 1)]) },
    leftover,
  };
  fs.writeFileSync(`${base}.curves.json`, JSON.stringify(json, null, 2) + '\n');
  log(`wrote ${base}.curves.json and ${charts.map(([f]) => path.basename(f)).join(', ')}`);
  const failed = json.size.concat(json.concurrency, json.panels.points).reduce((a, p) => a + p.failed, 0) + sus.failed;
  return failed || leftover ? 1 : 0;
}

const mp = (s: (typeof SIZES)[number]) => round((s.width * s.height * s.scale * s.scale) / 1e6, 2);

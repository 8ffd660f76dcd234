// `npm run bench`: the numbers behind issue 5. In one run it starts the Grafana stand-in,
// shoots the settled reference frame of every panel, measures the floor (one warm Chrome
// driven directly), then starts panelshot as its own process and measures single-render
// latency, throughput at concurrency, memory (PSS) under load and at idle, correctness
// against the references, Grafana logins and start-up time. One table on stdout, the
// details in a JSON file. Exit 0 when it measured (targets missed or not), 1 when
// something broke (a render that was not 200, a Chrome left behind, a crash).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startStandin, type Standin } from '../test/standin/grafana';
import { ReferenceCamera } from '../test/support/reference';
import { equalShare } from '../test/support/stack';
import { parseArgs, USAGE, UsageError, type BenchArgs } from './bench/args';
import { measureFloor, shootReferences, type FloorResult } from './bench/floor';
import { cpuBusySince, cpuTimes, processCpuMs } from './bench/cpu';
import { panelshotProcesses, PssSampler, roundedKinds, summarize as summarizePss, type PeakPss, type PssSeries } from './bench/memory';
import { writeChart } from './bench/chart';
import { ensureBuilt, render, startPanelshot, type Panelshot, type RenderAnswer } from './bench/panelshot';
import { buildBaseline, type Baseline } from './bench/baseline';
import { runCurves } from './bench/curves';
import { mib, ms, ratio, table, type Row } from './bench/report';
import { median, percentile, round } from './bench/stats';
import { measureScaleOut, scaleOutRows } from './bench/scaleOut';
import { documentMedian, measureDocuments, type DocumentTimes } from './bench/documents';
import { layoutRows, measureLayouts, type LayoutTimes } from './bench/layouts';
import { measureTracing, tracingRows } from './bench/tracing';
import { componentRows, measureComponents } from './bench/components';

/** Chromes shooting references in parallel: the stand-in's pages mostly wait, so 3 fit 2 cores. */
const REFERENCE_CAMERAS = 3;
/** Pixel share at which a render counts as the settled frame (the render tests use the same). */
const EQUAL_SHARE = 0.999;
const PHASES = ['queue', 'auth', 'navigate', 'data', 'stable', 'encode', 'total'] as const;

const TARGETS = {
  overFloorMs: 100,
  rendersPerMinute: 180,
  peakPssMiB: 700,
  idlePssMiB: 600,
  logins: 1,
  benchSeconds: 300,
};

const log = (msg: string) => process.stderr.write(`bench: ${msg}\n`);

function panelPath(id: number): string {
  return `/d-solo/bench/panel-${id}?orgId=1&panelId=${id}&from=now-6h&to=now`;
}

function panels(from: number, count: number): Map<number, string> {
  return new Map(Array.from({ length: count }, (_, i) => [from + i, panelPath(from + i)]));
}

async function main(): Promise<number> {
  const startedAt = Date.now();
  const args = parseArgs(process.argv.slice(2));
  const buildMs = ensureBuilt();
  if (buildMs !== undefined) log(`built dist/ in ${buildMs} ms`);

  if (args.layoutsOnly) return layoutsOnly(args);
  const g = await startStandin({ dataDelayMs: args.dataDelayMs, animationMs: args.animationMs });
  if (args.scaleOut) return scaleOutOnly(g, args).finally(() => g.close());
  if (args.tracing) return tracingOnly(g, args).finally(() => g.close());
  if (args.componentsOnly) return componentsOnly(g, args).finally(() => g.close());
  try {
    if (args.curves) return await runCurves(g, args);
    const latencyPanels = panels(1, args.latencyRenders);
    const loadPanels = panels(args.latencyRenders + 1, args.renders);
    // --no-floor (screening Chrome flags for memory): no references, no floor, no comparison.
    const { refs, floor } = args.noFloor ? { refs: new Map<number, Buffer>(), floor: { medianMs: NaN, perPanelMs: [], medianShots: NaN, medianCpuMs: NaN } } : await referencesAndFloor(g, args, latencyPanels, loadPanels);
    if (!args.noFloor) log(`floor: median ${Math.round(floor.medianMs)} ms over ${floor.perPanelMs.length} panels`);

    // Only panelshot's logins count (the cameras use render keys, but be exact).
    g.resetStats();
    // PSS of panelshot's whole tree from its spawn to its stop, every --pss-interval ms.
    let sampler: PssSampler | undefined;
    const ps = await startPanelshot(g.url, args.pool, args.env, args.main, (pid) => {
      sampler = new PssSampler(pid, args.pssIntervalMs, args.pssExact);
      sampler.phase('startup');
    });
    log(`panelshot pid ${ps.pid} warm after ${ps.startupMs} ms`);
    let measured: Measured;
    let leftover = 0;
    let series: PssSeries | undefined;
    let documents: DocumentTimes[] = [];
    let components: Awaited<ReturnType<typeof measureComponents>>;
    try {
      measured = await measurePanelshot(ps, g, args, latencyPanels, loadPanels, sampler!);
      // Documents after the memory series ends: a whole dashboard's tall viewport is not
      // the concurrency-4 load the peak-memory target is about.
      series = await sampler!.stop();
      if (args.documents) {
        documents = await measureDocuments(ps.url, g.url, args.documents);
        log(`documents: ${documents.map((d) => `${d.name.split(' (')[0]} ${Math.round(documentMedian(d))} ms`).join(', ')}`);
      }
      if (args.components) components = await measureComponents(g, ps, args.components, args.pool, log);
    } catch (e) {
      log(`panelshot log tail:\n${ps.logTail()}`);
      throw e;
    } finally {
      series ??= await sampler!.stop();
      leftover = (await ps.stop()).leftover;
    }
    measured.memory = memoryOf(series);
    const logins = g.stats.logins;
    const ab = args.baselines.length ? await compareWithBaselines(g, args, latencyPanels, refs) : undefined;
    // Whole pages on both of Grafana's layouts, each with its own stand-in, panelshot and floor.
    const layouts: LayoutTimes[] = args.layouts ? await measureLayouts(args.layouts, args.env, log) : [];

    const answers = [...measured.latency, ...measured.load];
    const shares = args.noFloor ? answers.map(() => NaN) : await compare(answers, refs);
    const failed = answers.filter((a) => a.status !== 200);
    const result = summarize(args, { floor, measured, shares, logins, startupMs: ps.startupMs, buildMs, leftover, benchMs: Date.now() - startedAt });
    addDocuments(result, documents, floor.medianMs);
    if (components) addComponents(result, components);
    if (ab) addBaselines(result, ab, floor.medianMs);
    if (layouts.length) {
      result.rows.push(...layoutRows(layouts));
      (result.json as Record<string, unknown>).layouts = layouts;
    }
    const chartFile = args.out.replace(/(\.json)?$/, '.memory.png');
    await writeChart(chartFile, memoryChart(series, `panelshot PSS, POOL_SIZE=${args.pool}, concurrency ${args.concurrency}, ${args.width}×${args.height}`, TARGETS.peakPssMiB));
    (result.json as Record<string, unknown>).memorySeries = seriesJson(series);

    console.log(table(result.rows));
    fs.mkdirSync(path.dirname(path.resolve(args.out)), { recursive: true });
    fs.writeFileSync(args.out, JSON.stringify(result.json, null, 2) + '\n');
    const logFile = args.out.replace(/(\.json)?$/, '.panelshot.log');
    fs.writeFileSync(logFile, ps.log.join('\n') + '\n');
    log(`wrote ${args.out}, ${logFile} and ${chartFile}`);

    for (const f of failed) log(`render of panel ${f.panelId} answered ${f.status}: ${f.error}`);
    const documentFailures = [...documents.flatMap((d) => d.failed.map((f) => `${d.name}: ${f}`)), ...layouts.flatMap((l) => l.failed.map((f) => `height=-1 on ${l.layout}: ${f}`))];
    for (const f of documentFailures) log(`document failed: ${f}`);
    if (leftover) log(`${leftover} Chrome/chromedriver processes outlived panelshot (killed now)`);
    return failed.length || leftover || documentFailures.length || (ab && ab.failed) ? 1 : 0;
  } finally {
    await g.close();
  }
}

/**
 * All reference frames first, with panelshot not running yet, and the floor in the first
 * camera's Chrome; every camera is closed before panelshot starts, so none is measured.
 */
async function referencesAndFloor(g: Standin, args: BenchArgs, latencyPanels: Map<number, string>, loadPanels: Map<number, string>): Promise<{ refs: Map<number, Buffer>; floor: FloorResult }> {
  const t = Date.now();
  const cameras = await Promise.all(Array.from({ length: REFERENCE_CAMERAS }, () => ReferenceCamera.open()));
  try {
    const refs = await shootReferences(g, loadPanels, cameras, args.width, args.height);
    log(`references: ${refs.size} panels in ${Date.now() - t} ms`);
    // The floor wants the machine to itself, as panelshot gets it.
    await Promise.all(cameras.slice(1).map((c) => c.close()));
    const floor = await measureFloor(g, cameras[0]!, latencyPanels, args.width, args.height, refs);
    return { refs, floor };
  } finally {
    await Promise.all(cameras.map((c) => c.close()));
  }
}

interface Measured {
  latency: RenderAnswer[];
  load: RenderAnswer[];
  loadWallMs: number;
  /** Screenshot comparisons per panel id (from panelshot's log): what stability costs. */
  framesCompared: Map<number, number>;
  /** CPU time of panelshot and its Chromes per render in the throughput run. */
  cpuMsPerRender: number;
  /** Share of both cores busy during the throughput run (anything on the machine). */
  loadCpuBusy: number;
  idle: { cpuShare: number };
  /** Filled in from the PSS series once panelshot has stopped. */
  memory?: Memory;
}

interface Memory {
  /** Every phase from spawn to stop. */
  all: PeakPss;
  byPhase: Record<string, PeakPss>;
  /** Idle: median of the idle phase's samples, with the kinds of the median sample. */
  idle: { mib: number; processes: number; byKindMiB: Record<string, number>; samples: number };
}

function memoryOf(series: PssSeries): Memory {
  const byPhase = Object.fromEntries(series.phases.map((p) => [p.name, summarizePss(series, p.name)]));
  const idlePhase = series.phases.find((p) => p.name === 'idle')!;
  const idleSamples = series.samples.filter((x) => x.at >= idlePhase.from && x.at <= idlePhase.to).sort((a, b) => a.mib - b.mib);
  const mid = idleSamples[idleSamples.length >> 1];
  return {
    all: summarizePss(series),
    byPhase,
    idle: { mib: mid?.mib ?? NaN, processes: mid?.processes ?? 0, byKindMiB: roundedKinds(mid?.byKind ?? {}), samples: idleSamples.length },
  };
}

/** Total PSS and its biggest kinds over time, the phases shaded. */
export function memoryChart(series: PssSeries, title: string, target?: number) {
  const t0 = series.samples[0]?.at ?? 0;
  const x = (at: number) => Math.round((at - t0) / 100) / 10;
  const kinds = ['renderer', 'browser', 'gpu-process', 'node'];
  const other = (b: Record<string, number>) => Object.entries(b).filter(([k]) => !kinds.includes(k)).reduce((a, [, v]) => a + v, 0);
  return {
    title,
    xLabel: `seconds (${series.samples.length} samples, every ${series.intervalMs} ms)`,
    yLabel: 'PSS, MiB',
    bands: series.phases.map((p) => ({ name: p.name, from: x(p.from), to: x(p.to) })),
    marks: target ? [{ name: `${target} MiB`, y: target }] : [],
    lines: [
      { name: 'total', bold: true, points: series.samples.map((s) => [x(s.at), s.mib] as [number, number]) },
      ...kinds.map((k) => ({ name: k, points: series.samples.map((s) => [x(s.at), s.byKind[k] ?? 0] as [number, number]) })),
      { name: 'other (utilities, zygotes, driver)', points: series.samples.map((s) => [x(s.at), other(s.byKind)] as [number, number]) },
    ],
  };
}

function seriesJson(series: PssSeries) {
  const t0 = series.samples[0]?.at ?? 0;
  return {
    intervalMs: series.intervalMs,
    phases: series.phases.map((p) => ({ name: p.name, fromMs: p.from - t0, toMs: p.to - t0 })),
    samples: series.samples.map((s) => ({ t: s.at - t0, mib: round(s.mib, 1), processes: s.processes, fresh: s.fresh ?? s.processes, ms: round(s.ms, 1), byKind: roundedKinds(s.byKind) })),
  };
}

async function measurePanelshot(ps: Panelshot, g: Standin, args: BenchArgs, latencyPanels: Map<number, string>, loadPanels: Map<number, string>, sampler: PssSampler): Promise<Measured> {
  await sampler.started();
  sampler.phase('latency');
  // Single renders, one after another: nothing queues, every phase is the render's own. The
  // gap lets the previous session's reset (new tab, cleared storage) finish first, as it
  // would between two alerts; without it that reset competes for the 2 cores.
  const latency: RenderAnswer[] = [];
  for (const [id, p] of latencyPanels) {
    await new Promise((r) => setTimeout(r, args.latencyGapMs));
    latency.push(await render(ps.url, g.url + p, id, args.width, args.height));
  }
  log(`latency: ${latency.length} renders, median ${Math.round(median(latency.map((a) => a.clientMs)))} ms`);

  // Idle with the pool warm: after those renders (sessions reset, caches filled) and a pause.
  // The last render's reset still runs for a moment after its answer: let it finish first.
  await new Promise((r) => setTimeout(r, 1000));
  sampler.phase('idle');
  const idleCpu0 = processCpuMs(panelshotProcesses(ps.pid));
  await new Promise((r) => setTimeout(r, 2000));
  // CPU an idle pool burns (share of one core): what every render competes with.
  const idleCpuShare = (processCpuMs(panelshotProcesses(ps.pid)) - idleCpu0) / 2000;
  // More idle samples (the sampler takes them; the idle figure is their median).
  await new Promise((r) => setTimeout(r, 1000));
  const idle = { cpuShare: idleCpuShare };

  // Throughput: `concurrency` clients, each taking the next panel as soon as its last one came back.
  const todo = [...loadPanels];
  const load: RenderAnswer[] = [];
  sampler.phase('throughput');
  const cpu = cpuTimes();
  const ownCpu = processCpuMs(panelshotProcesses(ps.pid));
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: args.concurrency }, async () => {
      for (let next = todo.shift(); next; next = todo.shift()) load.push(await render(ps.url, g.url + next[1], next[0], args.width, args.height));
    }),
  );
  const loadWallMs = performance.now() - t0;
  const loadCpuBusy = cpuBusySince(cpu);
  const cpuMsPerRender = (processCpuMs(panelshotProcesses(ps.pid)) - ownCpu) / load.length;
  log(`throughput: ${load.length} renders in ${Math.round(loadWallMs)} ms, peak PSS ${Math.round(summarizePss(sampler.series(), 'throughput').peakMiB)} MiB`);
  // The resets after the last renders belong to the run too; and let the last log lines arrive.
  sampler.phase('after');
  await new Promise((r) => setTimeout(r, 1000));
  return { latency, load, loadWallMs, loadCpuBusy, cpuMsPerRender, idle, framesCompared: ps.framesCompared };
}

interface AbSide {
  /** 'this' or the git ref. */
  name: string;
  commit?: string;
  ms: number[];
}

interface AbResult {
  sides: AbSide[];
  /** Renders that were not 200, or not equal to the settled frame, on any side. */
  failed: number;
}

/**
 * This build and each baseline ref side by side: all started fresh with POOL_SIZE=1, then
 * the same panels rendered one at a time by each, rotating which one goes first, so drift
 * of the machine hits all alike. Only single-render latency: the question is what a change
 * costs a render.
 */
async function compareWithBaselines(g: Standin, args: BenchArgs, panelsToRender: Map<number, string>, refs: Map<number, Buffer>): Promise<AbResult> {
  const builds: Baseline[] = [];
  const running: Panelshot[] = [];
  try {
    for (const ref of args.baselines) {
      builds.push(buildBaseline(ref));
      log(`baseline ${ref} (${builds.at(-1)!.commit}) built`);
    }
    const sides: AbSide[] = [{ name: 'this', ms: [] }, ...builds.map((b) => ({ name: b.ref, commit: b.commit, ms: [] }))];
    running.push(await startPanelshot(g.url, 1, args.env, args.main));
    for (const b of builds) running.push(await startPanelshot(g.url, 1, args.env, b.main));
    let failed = 0;
    let turn = 0;
    for (const [id, p] of panelsToRender) {
      const order = sides.map((_, i) => (i + turn) % sides.length);
      turn++;
      for (const i of order) {
        await new Promise((r) => setTimeout(r, args.latencyGapMs));
        const a = await render(running[i]!.url, g.url + p, id, args.width, args.height);
        if (a.status !== 200 || (await equalShare(a.png, refs.get(id)!)) < EQUAL_SHARE) failed++;
        sides[i]!.ms.push(a.clientMs);
      }
    }
    log(`baselines: ${sides.map((s) => `${s.name} ${Math.round(median(s.ms))} ms`).join(', ')}`);
    return { sides, failed };
  } finally {
    for (const s of running) await s.stop();
    for (const b of builds) b.remove();
  }
}

function addBaselines(result: { rows: Row[]; json: unknown }, ab: AbResult, floorMs: number): void {
  const [self, ...others] = ab.sides;
  const a = median(self!.ms);
  result.rows.push({ metric: `A/B single render, this build, ${self!.ms.length} renders interleaved with each baseline`, value: ms(a), vsFloor: ratio(a / floorMs) });
  for (const o of others) {
    const b = median(o.ms);
    result.rows.push(
      { metric: `  baseline ${o.name} (${o.commit})`, value: ms(b), vsFloor: ratio(b / floorMs) },
      { metric: `  this − ${o.name} (difference of the medians)`, value: `${a - b >= 0 ? '+' : ''}${ms(a - b)}`, target: '≤ +10 ms', pass: a - b <= 10 },
    );
  }
  result.rows.push({ metric: '  A/B renders not 200 or not the settled frame', value: String(ab.failed), target: '0', pass: ab.failed === 0 });
  (result.json as Record<string, unknown>).baselines = {
    sides: ab.sides.map((s) => ({ name: s.name, commit: s.commit ?? null, medianMs: round(median(s.ms), 1), ms: s.ms.map((n) => round(n, 1)) })),
    failed: ab.failed,
  };
}

/** Share of pixels equal to the panel's settled reference, per answer (0 for a failed render). */
async function compare(answers: RenderAnswer[], refs: Map<number, Buffer>): Promise<number[]> {
  const shares: number[] = [];
  for (const a of answers) shares.push(a.status === 200 ? await equalShare(a.png, refs.get(a.panelId)!) : 0);
  return shares;
}

interface Inputs {
  floor: FloorResult;
  measured: Measured;
  shares: number[];
  logins: number;
  startupMs: number;
  buildMs?: number;
  leftover: number;
  benchMs: number;
}

function phaseMedians(answers: RenderAnswer[]): Record<string, number> {
  return Object.fromEntries(PHASES.map((p) => [p, median(answers.map((a) => a.phases[p] ?? NaN).filter((n) => !Number.isNaN(n)))]));
}

/** "renderer 372 · browser 248 · …": the five biggest kinds, the rest as "other". */
function kindSummary(byKind: Record<string, number>): string {
  const sorted = Object.entries(byKind).sort((a, b) => b[1] - a[1]);
  const rest = sorted.slice(5).reduce((sum, [, v]) => sum + v, 0);
  return [...sorted.slice(0, 5), ...(rest ? [['other', rest] as const] : [])].map(([k, v]) => `${k.replace(/^utility:(\w+)\..*/, '$1')} ${v}`).join(' · ');
}

/** Peak over every phase (the target), p95, per-phase peaks, where the peak sits, idle. */
function memoryRows(args: BenchArgs, mem: Memory): Row[] {
  const a = mem.all;
  const four = args.pool === 4;
  const fmt = (p: PeakPss) => `${mib(p.peakMiB)} / ${mib(p.p95MiB)} / ${mib(p.meanMiB)}`;
  return [
    {
      metric: `peak PSS, all phases (${a.samples} samples every ${args.pssIntervalMs} ms, max gap ${a.maxGapMs} ms, ≤${a.maxProcesses} procs)`,
      value: mib(a.peakMiB),
      target: four ? `≤ ${TARGETS.peakPssMiB} MiB` : 'n/a (POOL_SIZE≠4)',
      pass: four ? a.peakMiB <= TARGETS.peakPssMiB : undefined,
    },
    { metric: '  p95 PSS, all phases', value: mib(a.p95MiB) },
    ...Object.entries(mem.byPhase).map(([name, p]) => ({ metric: `  ${name}: peak / p95 / mean (${p.samples} samples)`, value: fmt(p) })),
    { metric: '  at the peak, by process kind (MiB)', value: kindSummary(a.peakByKind) },
    { metric: `  one sample costs (mean wall time, in the sampler process; ${args.pssExact ? 'every process read' : 'smaps_rollup per process every 1 s, RSS change between'})`, value: `${ms(a.meanSampleMs)}, ${a.meanFresh.toFixed(1)} of ≤${a.maxProcesses} procs read fresh` },
    {
      metric: `idle PSS, pool warm (median of ${mem.idle.samples} samples, ${mem.idle.processes} procs)`,
      value: mib(mem.idle.mib),
      target: four ? `≤ ${TARGETS.idlePssMiB} MiB` : 'n/a (POOL_SIZE≠4)',
      pass: four ? mem.idle.mib <= TARGETS.idlePssMiB : undefined,
    },
    { metric: '  idle PSS by process kind (MiB)', value: kindSummary(mem.idle.byKindMiB) },
  ];
}

function summarize(args: BenchArgs, x: Inputs): { rows: Row[]; json: unknown } {
  const { floor, measured: m } = x;
  const mem = m.memory!;
  const f = floor.medianMs;
  const lat = m.latency.map((a) => a.clientMs);
  const latMedian = median(lat);
  const latP90 = percentile(lat, 90);
  const loadLat = m.load.map((a) => a.clientMs);
  const perMinute = (m.load.length / m.loadWallMs) * 60_000;
  // What `concurrency` floors back to back would do if the cores were not shared.
  const idealPerMinute = (Math.min(args.concurrency, args.pool) * 60_000) / f;
  const phases = phaseMedians(m.latency);
  const loadPhases = phaseMedians(m.load);
  const total = x.shares.length;
  const equal = x.shares.filter((s) => s >= EQUAL_SHARE).length;
  const exact = x.shares.filter((s) => s === 1).length;
  const unsettled = [...m.latency, ...m.load].filter((a) => a.status === 200 && !a.settled).length;
  const shared = [...m.latency, ...m.load].filter((a) => a.shared).length;
  const frames = (list: RenderAnswer[]) => median(list.map((a) => m.framesCompared.get(a.panelId) ?? NaN).filter((n) => !Number.isNaN(n)));

  // The throughput target is for the default page (300 ms data, 500 ms animation, 1000×500)
  // at concurrency 4 on POOL_SIZE=4; a slower page simply allows fewer renders per minute.
  const targeted = args.dataDelayMs === 300 && args.animationMs === 500 && args.width === 1000 && args.height === 500 && args.pool === 4 && args.concurrency === 4;
  const rows: Row[] = [
    { metric: 'floor: navigate → settled frame (median)', value: ms(f), vsFloor: ratio(1) },
    { metric: 'single render, median', value: ms(latMedian), target: `≤ floor+${TARGETS.overFloorMs} = ${ms(f + TARGETS.overFloorMs)}`, vsFloor: ratio(latMedian / f), pass: latMedian <= f + TARGETS.overFloorMs },
    { metric: 'single render, p90', value: ms(latP90), vsFloor: ratio(latP90 / f) },
    ...PHASES.map((p) => ({ metric: `  phase ${p} (median, Server-Timing)`, value: ms(phases[p]!) })),
    { metric: '  screenshots compared per render (median)', value: String(frames(m.latency)) },
    { metric: `throughput, ${m.load.length} renders at concurrency ${args.concurrency}, pool ${args.pool}`, value: `${perMinute.toFixed(1)}/min`, target: targeted ? `≥ ${TARGETS.rendersPerMinute}/min` : 'n/a (not the default page)', vsFloor: `${ratio(perMinute / idealPerMinute)} of ${Math.round(idealPerMinute)}/min`, pass: targeted ? perMinute >= TARGETS.rendersPerMinute : undefined },
    { metric: '  render under load, median / p90', value: `${ms(median(loadLat))} / ${ms(percentile(loadLat, 90))}`, vsFloor: ratio(median(loadLat) / f) },
    { metric: '  phase queue / stable under load (median)', value: `${ms(loadPhases.queue!)} / ${ms(loadPhases.stable!)}` },
    { metric: '  screenshots compared per render under load (median)', value: String(frames(m.load)) },
    { metric: '  CPU per render (panelshot + its Chromes)', value: ms(m.cpuMsPerRender), vsFloor: `${ratio(m.cpuMsPerRender / floor.medianCpuMs)} of ${ms(floor.medianCpuMs)}` },
    { metric: `  CPU-bound ceiling on ${os.cpus().length} cores`, value: `${((os.cpus().length * 60_000) / m.cpuMsPerRender).toFixed(0)}/min` },
    { metric: '  CPU busy during the run (whole machine)', value: `${Math.round(m.loadCpuBusy * 100)} %` },
    ...memoryRows(args, mem),
    { metric: '  idle CPU (panelshot + its Chromes, of one core)', value: `${Math.round(m.idle.cpuShare * 100)} %` },
    { metric: `images equal to settled frame (share ≥ ${EQUAL_SHARE})`, value: `${equal}/${total}`, target: '100 %', pass: equal === total },
    { metric: '  pixel-exact / min share / unsettled', value: `${exact}/${total} / ${Math.min(...x.shares).toFixed(4)} / ${unsettled}` },
    { metric: 'Grafana logins', value: String(x.logins), target: `${TARGETS.logins}`, pass: x.logins === TARGETS.logins },
    { metric: 'start-up: spawn → /healthz warm', value: ms(x.startupMs) },
    { metric: `bench wall time${x.buildMs !== undefined ? ' (incl. build)' : ''}`, value: `${(x.benchMs / 1000).toFixed(1)} s`, target: `≤ ${TARGETS.benchSeconds} s`, pass: x.benchMs <= TARGETS.benchSeconds * 1000 },
  ];

  const perRender = (a: RenderAnswer, i: number, offset: number) => ({
    panelId: a.panelId,
    status: a.status,
    clientMs: round(a.clientMs, 1),
    settled: a.settled,
    shared: a.shared,
    equalShare: round(x.shares[offset + i]!, 6),
    phases: a.phases,
    framesCompared: m.framesCompared.get(a.panelId) ?? null,
    ...(a.error ? { error: a.error } : {}),
  });
  const json = {
    at: new Date().toISOString(),
    machine: { cpus: os.cpus().length, memMiB: Math.round(os.totalmem() / 2 ** 20), node: process.version },
    args,
    targets: TARGETS,
    floor: { medianMs: round(f, 1), perPanelMs: floor.perPanelMs.map((n) => round(n, 1)), medianShots: floor.medianShots, medianCpuMs: floor.medianCpuMs },
    latency: {
      medianMs: round(latMedian, 1),
      p90Ms: round(latP90, 1),
      ratioToFloor: round(latMedian / f, 3),
      overFloorMs: round(latMedian - f, 1),
      phaseMediansMs: phases,
      renders: m.latency.map((a, i) => perRender(a, i, 0)),
    },
    throughput: {
      count: m.load.length,
      concurrency: args.concurrency,
      pool: args.pool,
      wallMs: round(m.loadWallMs, 1),
      cpuBusy: round(m.loadCpuBusy, 3),
      cpuMsPerRender: round(m.cpuMsPerRender, 1),
      cpuBoundCeilingPerMinute: round((os.cpus().length * 60_000) / m.cpuMsPerRender, 1),
      perMinute: round(perMinute, 1),
      idealPerMinuteFromFloor: round(idealPerMinute, 1),
      latencyMedianMs: round(median(loadLat), 1),
      latencyP90Ms: round(percentile(loadLat, 90), 1),
      phaseMediansMs: loadPhases,
      renders: m.load.map((a, i) => perRender(a, i, m.latency.length)),
    },
    memory: {
      peakPssMiB: round(mem.all.peakMiB, 1),
      p95PssMiB: round(mem.all.p95MiB, 1),
      samples: mem.all.samples,
      intervalMs: args.pssIntervalMs,
      maxGapMs: mem.all.maxGapMs,
      meanSampleMs: round(mem.all.meanSampleMs, 1),
      meanFreshReads: round(mem.all.meanFresh, 1),
      exact: args.pssExact,
      peakByKindMiB: mem.all.peakByKind,
      byPhase: Object.fromEntries(Object.entries(mem.byPhase).map(([k, p]) => [k, { peakMiB: round(p.peakMiB, 1), p95MiB: round(p.p95MiB, 1), meanMiB: round(p.meanMiB, 1), samples: p.samples, maxProcesses: p.maxProcesses, maxGapMs: p.maxGapMs, peakByKindMiB: p.peakByKind }])),
      idlePssMiB: round(mem.idle.mib, 1),
      idleSamples: mem.idle.samples,
      idleProcesses: mem.idle.processes,
      idleByKindMiB: mem.idle.byKindMiB,
      idleCpuShareOfOneCore: round(m.idle.cpuShare, 3),
    },
    correctness: { total, equalAtLeast0999: equal, pixelExact: exact, minShare: round(Math.min(...x.shares), 6), unsettled, shared },
    logins: x.logins,
    startupMs: x.startupMs,
    buildMs: x.buildMs ?? null,
    leftoverProcesses: x.leftover,
    benchMs: x.benchMs,
    pass: Object.fromEntries(rows.filter((r) => r.pass !== undefined).map((r) => [r.metric.trim(), r.pass])),
  };
  return { rows, json };
}

/** The document rows (after the throughput rows): median latency, as a ratio to the floor. */
function addDocuments(result: { rows: Row[]; json: unknown }, documents: DocumentTimes[], floorMs: number): void {
  if (!documents.length) return;
  const at = result.rows.findIndex((r) => r.metric.startsWith('images equal'));
  const rows: Row[] = documents.map((d) => {
    const m = documentMedian(d);
    const pages = d.pages.length ? Math.max(...d.pages) : 0;
    const kb = d.bytes.length ? Math.round(median(d.bytes) / 1024) : 0;
    return { metric: `${d.name}, median of ${d.ms.length}${d.failed.length ? ` (${d.failed.length} failed)` : ''}`, value: `${ms(m)} (${pages} p., ${kb} KB)`, vsFloor: ratio(m / floorMs) };
  });
  result.rows.splice(at < 0 ? result.rows.length : at, 0, ...rows);
  (result.json as Record<string, unknown>).documents = documents.map((d) => ({ name: d.name, runs: d.ms.length, medianMs: round(documentMedian(d), 1), ms: d.ms.map((x) => round(x, 1)), bytes: d.bytes, pages: d.pages, settled: d.settled, failed: d.failed }));
}

/** --layouts-only: the whole-page rows on both of Grafana's layouts, one table. */
async function layoutsOnly(args: BenchArgs): Promise<number> {
  const layouts = await measureLayouts(args.layouts, args.env, log);
  const out = args.out === 'bench-results/bench.json' ? 'bench-results/layouts.json' : args.out;
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify({ at: new Date().toISOString(), args, layouts }, null, 2) + '\n');
  process.stdout.write(`${table(layoutRows(layouts))}\n`);
  log(`details in ${out}`);
  return layouts.some((l) => l.failed.length) ? 1 : 0;
}

/** The real-component rows after the documents; their own floor in each row. */
function addComponents(result: { rows: Row[]; json: unknown }, c: NonNullable<Awaited<ReturnType<typeof measureComponents>>>): void {
  const at = result.rows.findIndex((r) => r.metric.startsWith('images equal'));
  result.rows.splice(at < 0 ? result.rows.length : at, 0, ...componentRows(c));
  const samples = (v: number[]) => v.map((n) => round(n, 1));
  const mid = (v: number[]) => round(median(v), 1);
  (result.json as Record<string, unknown>).components = {
    doneSignal: c.doneSignal,
    traced: c.renders,
    pages: c.pages.map((p) => ({
      ...p,
      naiveFloorMedianMs: mid(p.naiveMs),
      floorMedianMs: mid(p.floorMs),
      twoFrameFloorMedianMs: mid(p.twoFrameMs),
      panelshotMedianMs: mid(p.panelshotMs),
      naiveMs: samples(p.naiveMs),
      floorMs: samples(p.floorMs),
      twoFrameMs: samples(p.twoFrameMs),
      panelshotMs: samples(p.panelshotMs),
    })),
  };
}

/** --components-only: panelshot started alone, then the real-component rounds. */
async function componentsOnly(g: Standin, args: BenchArgs): Promise<number> {
  const ps = await startPanelshot(g.url, args.pool, args.env, args.main);
  let c: Awaited<ReturnType<typeof measureComponents>>;
  try {
    c = await measureComponents(g, ps, args.components, args.pool, log);
  } finally {
    await ps.stop();
  }
  if (!c) return 1;
  const result = { rows: [] as Row[], json: { at: new Date().toISOString(), machine: { cpus: os.cpus().length }, args } as Record<string, unknown> };
  addComponents(result, c);
  console.log(table(result.rows));
  const out = args.out === 'bench-results/bench.json' ? 'bench-results/components.json' : args.out;
  fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(result.json, null, 2) + '\n');
  log(`wrote ${out}`);
  return c.pages.some((p) => p.failed.length) ? 1 : 0;
}

/** --scale-out: the three ways of getting Chrome under the same load, one table. */
async function scaleOutOnly(g: Standin, args: BenchArgs): Promise<number> {
  const results = await measureScaleOut(g, args, log);
  const out = args.out === 'bench-results/bench.json' ? 'bench-results/scale-out.json' : args.out;
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify({ at: new Date().toISOString(), machine: { cores: os.cpus().length, memGiB: Math.round(os.totalmem() / 2 ** 30) }, args, results }, null, 2));
  process.stdout.write(`${table(scaleOutRows(results))}\n`);
  log(`details in ${out}`);
  return results.some((r) => r.failed > 0) ? 1 : 0;
}

/** --tracing: the same renders without and with OpenTelemetry, one table. */
async function tracingOnly(g: Standin, args: BenchArgs): Promise<number> {
  const result = await measureTracing(g, args, log);
  const out = args.out === 'bench-results/bench.json' ? 'bench-results/tracing.json' : args.out;
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify({ at: new Date().toISOString(), machine: { cores: os.cpus().length, memGiB: Math.round(os.totalmem() / 2 ** 30) }, args, result }, null, 2));
  const rows = tracingRows(result);
  process.stdout.write(`${table(rows)}\n`);
  log(`details in ${out}`);
  return rows.some((r) => r.pass === false) ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof UsageError) {
      process.stderr.write(e.message ? `bench: ${e.message}\n\n${USAGE}` : USAGE);
      process.exit(e.message ? 2 : 0);
    }
    process.stderr.write(`bench: failed: ${(e as Error)?.stack ?? e}\n`);
    process.exit(1);
  },
);

// The real-component rows of `npm run bench`: pages built from Grafana's own npm packages
// (test/grafana-components: Scenes, uPlot, BigValue, BarGauge, Grafana's timers and
// bookkeeping), each measured side by side with two floors in rounds (floor.ts, one warm
// Chrome that knows the settled frame beforehand):
//   - the naive floor, issue 20's target: a screenshot every 50 ms until the settled frame;
//   - the strict floor: screenshots back to back, the least any renderer could answer in;
//   - the two-frame floor: back to back until two in a row equal the settled frame, the
//     least a renderer that confirms its picture with a second frame (ADR 2) could answer in.
// In each round every page is taken by both floors and by panelshot, in rotating order, so
// drift hits all alike. Runs after the throughput run, with the memory sampler stopped.
import type { Standin } from '../../test/standin/grafana';
import { componentBundleBuilt } from '../../test/standin/components';
import { ReferenceCamera } from '../../test/support/reference';
import { equalShare } from '../../test/support/stack';
import { measureFloor } from './floor';
import { render } from './panelshot';
import { median } from './stats';
import { ms, ratio, type Row } from './report';

export interface ComponentPage {
  name: string;
  path: string;
  width: number;
  height: number;
}

export const COMPONENT_PAGES: ComponentPage[] = [
  { name: 'd-solo time series (uPlot)', path: '/d-solo/gc-board/bench?orgId=1&panelId=1', width: 1000, height: 500 },
  { name: 'd-solo stat (BigValue)', path: '/d-solo/gc-board/bench?orgId=1&panelId=2', width: 1000, height: 500 },
  { name: 'd-solo bar gauge', path: '/d-solo/gc-board/bench?orgId=1&panelId=3', width: 1000, height: 500 },
  { name: '10-panel dashboard (lazy grid, kiosk)', path: '/d/gc-board/bench?orgId=1&panels=10&kiosk', width: 1400, height: 900 },
];

/** Issue 20's naive floor: "takes a screenshot every 50 ms until the frame equals the settled one". */
export const NAIVE_CADENCE_MS = 50;

export interface ComponentTimes {
  name: string;
  /** The naive floor (a screenshot every NAIVE_CADENCE_MS). */
  naiveMs: number[];
  /** The strict floor (screenshots back to back). */
  floorMs: number[];
  /** The two-frame floor (back to back, two in a row equal to the settled frame). */
  twoFrameMs: number[];
  panelshotMs: number[];
  /** Answers equal to the floor's settled frame (share ≥ 0.999), unsettled answers, failures. */
  equal: number;
  unsettled: number;
  failed: string[];
}

/** Rounds of floor and panelshot on every page; also how many renders the Grafana done signal released. */
export async function measureComponents(g: Standin, panelshot: { url: string; log: string[] }, rounds: number, pool: number, log: (m: string) => void): Promise<{ pages: ComponentTimes[]; doneSignal: number; renders: number } | undefined> {
  if (!componentBundleBuilt()) {
    log('components: the Grafana-components bundle is not built (bash scripts/setup.sh --test): rows skipped');
    return undefined;
  }
  const pages = COMPONENT_PAGES.map((p) => ({ name: p.name, naiveMs: [] as number[], floorMs: [] as number[], twoFrameMs: [] as number[], panelshotMs: [] as number[], equal: 0, unsettled: 0, failed: [] as string[] }));
  // Every pooled session loads the bundle once before timing, as the floor's Chrome does.
  await Promise.all(COMPONENT_PAGES.flatMap((p, i) => Array.from({ length: pool }, () => render(panelshot.url, g.url + p.path, i, p.width, p.height))));
  const logFrom = panelshot.log.length;
  const cam = await ReferenceCamera.open();
  try {
    for (let round = 0; round < rounds; round++) {
      for (const [i, p] of COMPONENT_PAGES.entries()) {
        const out = pages[i]!;
        const refs = new Map<number, Buffer>();
        const floor = (cadence: number, frames: number, into: number[]) => async () => {
          into.push((await measureFloor(g, cam, new Map([[i, p.path]]), p.width, p.height, refs, 1, cadence, frames)).perPanelMs[0]!);
        };
        let png: Buffer | undefined;
        const ours = async () => {
          await new Promise((r) => setTimeout(r, 300));
          const a = await render(panelshot.url, g.url + p.path, i, p.width, p.height);
          if (a.status !== 200) return void out.failed.push(`${a.status} ${a.error ?? ''}`);
          out.panelshotMs.push(a.clientMs);
          if (!a.settled) out.unsettled++;
          png = a.png;
        };
        // Rotate who goes first; a floor leaves its settled frame in refs, whichever ran.
        const takers = [floor(NAIVE_CADENCE_MS, 1, out.naiveMs), floor(0, 1, out.floorMs), floor(0, 2, out.twoFrameMs), ours];
        for (let k = 0; k < takers.length; k++) await takers[(round + k) % takers.length]!();
        if (png && (await equalShare(png, refs.get(i)!)) >= 0.999) out.equal++;
      }
      log(`components: round ${round + 1}/${rounds} done`);
    }
  } finally {
    await cam.close();
  }
  const traces = panelshot.log.slice(logFrom).filter((l) => l.includes('"render_trace"'));
  return { pages, doneSignal: traces.filter((l) => l.includes('grafana-done')).length, renders: traces.length };
}

export function componentRows(r: { pages: ComponentTimes[]; doneSignal: number; renders: number }): Row[] {
  const rows: Row[] = [];
  for (const p of r.pages) {
    const n = median(p.naiveMs);
    const f = median(p.floorMs);
    const f2 = median(p.twoFrameMs);
    const m = median(p.panelshotMs);
    rows.push(
      // Ranges: the naive floor's shots start at navigation and every 50 ms after, so on a
      // page that finishes at much the same moment each time its samples fall on one side
      // of a tick or the next (~50 ms apart), and its median can jump between runs.
      { metric: `real components: ${p.name}, naive floor (a shot every ${NAIVE_CADENCE_MS} ms), median of ${p.naiveMs.length} (${range(p.naiveMs)})`, value: ms(n), vsFloor: ratio(1) },
      {
        metric: `  panelshot, median of ${p.panelshotMs.length} (${range(p.panelshotMs)}; equal ${p.equal}, unsettled ${p.unsettled}${p.failed.length ? `, ${p.failed.length} failed` : ''})`,
        value: `${ms(m)} (${m - n >= 0 ? '+' : ''}${ms(m - n)})`,
        target: '≤ naive floor',
        vsFloor: ratio(m / n),
        pass: m <= n && !p.failed.length && p.equal === p.panelshotMs.length,
      },
      { metric: `  strict floor (shots back to back), median of ${p.floorMs.length} (${range(p.floorMs)}); panelshot ${m - f >= 0 ? '+' : ''}${ms(m - f)}`, value: ms(f), vsFloor: ratio(m / f) },
      { metric: `  two-frame floor (back to back, two in a row settled), median of ${p.twoFrameMs.length} (${range(p.twoFrameMs)}); panelshot ${m - f2 >= 0 ? '+' : ''}${ms(m - f2)}`, value: `${ms(f2)} (${ratio(f2 / n)} naive)`, vsFloor: ratio(m / f2) },
    );
  }
  rows.push({ metric: "  renders released by Grafana's done signal (render_trace)", value: r.renders ? `${r.doneSignal}/${r.renders}` : 'n/a (needs --env LOG_LEVEL=debug)' });
  return rows;
}

/** "min–max ms" of the samples. */
function range(values: number[]): string {
  return values.length ? `${Math.round(Math.min(...values))}–${ms(Math.max(...values))}` : 'none';
}

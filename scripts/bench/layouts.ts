// The whole-page rows of `npm run bench`: a 30-panel dashboard as a height=-1 PNG on each of
// Grafana's page layouts (test/standin/grafana.ts `layout`): classic (Grafana ≤ 11.2, the
// dashboard scrolls inside div.scrollbar-view) and scenes (Grafana ≥ 11.3, the body
// scrolls). Each side by side with its floor, round by round in one run.
//
// The floor for a whole page: one warm Chrome whose viewport already has the dashboard's
// final size (the one thing a renderer has to find out), navigating once and taking
// screenshots back to back until one equals the settled frame (scripts/bench/floor.ts).
import { startStandin, GRID, type StandinLayout } from '../../test/standin/grafana';
import { ReferenceCamera } from '../../test/support/reference';
import { equalShare } from '../../test/support/stack';
import { measureFloor } from './floor';
import { render, startPanelshot } from './panelshot';
import { ms, ratio, type Row } from './report';
import { median } from './stats';

const WIDTH = 1000;
const PATH = '/d/thirty/thirty-panels?orgId=1&from=now-6h&to=now&kiosk=1&_dash.hideTimePicker=true&_dash.hideVariables=true&_dash.hideLinks=true';
/** The thirty board: 10 grid rows of 7 cells (test/standin/dashboards.ts). */
const HEIGHT = 70 * (GRID.cellHeight + GRID.margin) - GRID.margin;

export interface LayoutTimes {
  layout: StandinLayout;
  floorMs: number[];
  panelshotMs: number[];
  /** Renders whose picture equals the settled frame (as in the bench's correctness check). */
  matching: number;
  failed: string[];
}

export async function measureLayouts(rounds: number, env: Record<string, string>, log: (m: string) => void): Promise<LayoutTimes[]> {
  const out: LayoutTimes[] = [];
  for (const layout of ['classic', 'scenes'] as StandinLayout[]) {
    const g = await startStandin({ layout });
    const cam = await ReferenceCamera.open();
    const ps = await startPanelshot(g.url, 1, env);
    const t: LayoutTimes = { layout, floorMs: [], panelshotMs: [], matching: 0, failed: [] };
    try {
      for (let round = 0; round < rounds; round++) {
        const refs = new Map<number, Buffer>();
        const floor = await measureFloor(g, cam, new Map([[1, PATH]]), WIDTH, HEIGHT, refs).catch((e: Error) => { throw new Error(`${layout}, round ${round + 1}: ${e.message}`); });
        t.floorMs.push(floor.medianMs);
        await new Promise((r) => setTimeout(r, 500));
        const r = await render(ps.url, g.url + PATH, 1, WIDTH, -1);
        if (r.status !== 200) {
          t.failed.push(`${r.status}: ${r.error}`);
          continue;
        }
        t.panelshotMs.push(r.clientMs);
        if ((await equalShare(r.png, refs.get(1)!)) >= 0.999) t.matching++;
      }
      log(`${layout}: floor ${Math.round(median(t.floorMs))} ms, panelshot ${Math.round(median(t.panelshotMs))} ms over ${rounds} rounds`);
    } finally {
      await ps.stop();
      await cam.close();
      await g.close();
    }
    out.push(t);
  }
  return out;
}

export function layoutRows(times: LayoutTimes[]): Row[] {
  return times.flatMap((t) => {
    const name = t.layout === 'classic' ? 'Grafana 11.1 classic (inner scroller)' : 'Grafana 12.2 scenes (body scrolls)';
    const p = median(t.panelshotMs);
    const f = median(t.floorMs);
    return [
      { metric: `height=-1 PNG, 30 panels, ${name}: floor (median of ${t.floorMs.length})`, value: ms(f) },
      {
        metric: `height=-1 PNG, 30 panels, ${name}: panelshot (median of ${t.panelshotMs.length}, ${t.matching} equal to the settled frame)`,
        value: ms(p),
        vsFloor: ratio(p / f),
        pass: t.failed.length === 0 && t.matching === t.panelshotMs.length,
      },
    ];
  });
}

// Stand-in pages built from Grafana's own components (Scenes, @grafana/ui, the dark theme):
//   /d-solo/gc-board/<slug>?panelId=N   one panel alone, as Grafana's solo panel page
//   /d/gc-board/<slug>?panels=N         a dashboard: a lazy grid of N panels (default 10)
// Panel 1, 4, 7 … are time series, 2, 5, 8 … stats, 3, 6, 9 … bar gauges. Their data comes
// from the stand-in backend's /api/ds/query (its delay: `dataDelay=` in the page URL) through
// DataSourceWithBackend, as in Grafana. As on a Grafana 12 page, window.__grafanaSceneContext
// is set by the scene and window.__grafanaRunningQueryCount is kept by its query controller;
// the dashboard's annotations request runs first, then the panels load their plugin and data.
// `classic=1` makes a d-solo page announce itself as a classic (Grafana <= 11.2) one.
// `gap=<ms>` puts a pause between the two, as Grafana 12.2 has.
// `noise=0` turns off the bookkeeping a Grafana app keeps doing after the panels are drawn.
// `lateCall=<ms>`: this long after every panel has its data, one bookkeeping request that
// takes 3 s (as a busy Grafana's /api/frontend-metrics can): nothing in the picture waits on it.
import './boot';
import '@fontsource/inter/latin-400.css';
import '@fontsource/inter/latin-500.css';
import { createRoot } from 'react-dom/client';
import { ThemeContext } from '@grafana/data';
import { config } from '@grafana/runtime';
import { GlobalStyles } from '@grafana/ui';
import {
  behaviors,
  EmbeddedScene,
  SceneFlexItem,
  SceneFlexLayout,
  SceneGridItem,
  SceneGridLayout,
  SceneQueryRunner,
  SceneTimeRange,
  sceneGraph,
  VizPanel,
  type SceneObject,
} from '@grafana/scenes';
import { DATASOURCE, wireHost } from './host';

/** The stand-in's data spans these six hours (test/standin/grafana.ts, BASE_TS). */
const FROM = 1795219200000;
const TO = FROM + 6 * 3600_000;
const KINDS = ['timeseries', 'stat', 'bargauge'] as const;

const q = new URLSearchParams(location.search);
const solo = location.pathname.startsWith('/d-solo/');
const dataDelay = q.has('dataDelay') ? Number(q.get('dataDelay')) : undefined;

wireHost(() => import('./panels').then((m) => m.panelPlugins));

function panel(id: number): VizPanel {
  const kind = KINDS[(id - 1) % KINDS.length]!;
  return new VizPanel({
    key: `panel-${id}`,
    title: `Panel ${id}`,
    pluginId: kind,
    fieldConfig: {
      defaults: {
        unit: kind === 'timeseries' ? 'short' : 'percent',
        min: kind === 'bargauge' ? 0 : undefined,
        max: kind === 'bargauge' ? 100 : undefined,
        thresholds: { mode: 'absolute' as never, steps: [{ value: -Infinity, color: 'green' }, { value: 70, color: 'red' }] },
        color: kind === 'timeseries' ? { mode: 'palette-classic' as never } : { mode: 'thresholds' as never },
      },
      overrides: [],
    },
    $data: new SceneQueryRunner({
      datasource: DATASOURCE,
      queries: [{ refId: 'A', panelId: String(id), ...(dataDelay !== undefined ? { dataDelay } : {}) }],
      maxDataPoints: 500,
    }),
  });
}

function body(): SceneObject {
  if (solo) {
    const id = Math.max(1, Number(q.get('panelId')) || 1);
    return new SceneFlexLayout({ direction: 'column', children: [new SceneFlexItem({ minHeight: 0, body: panel(id) })] });
  }
  // Four panels a row, 6 of 24 columns wide and 7 cells high: ten fit 1400×900.
  const n = Math.min(64, Math.max(1, Number(q.get('panels')) || 10));
  const items = Array.from({ length: n }, (_, i) =>
    new SceneGridItem({ x: (i % 4) * 6, y: Math.floor(i / 4) * 7, width: 6, height: 7, isDraggable: false, isResizable: false, body: panel(i + 1) }),
  );
  return new SceneGridLayout({ isLazy: true, isDraggable: false, isResizable: false, children: items });
}

/**
 * `classic=1` (d-solo only): the page speaks like Grafana <= 11.2's classic dashboards
 * instead: no __grafanaSceneContext, a `.panel-solo` panel, and window.panelsRendered
 * counting panels drawn with their data (Done or Error), one frame after the draw.
 */
const classic = solo && q.get('classic') === '1';
if (classic) {
  Object.defineProperty(window, '__grafanaSceneContext', { configurable: true, get: () => undefined, set: () => {} });
  const w = window as unknown as { panelsRendered: number };
  w.panelsRendered = 0;
}

function countRendered(): void {
  const w = window as unknown as { panelsRendered: number };
  for (const r of sceneGraph.findAllObjects(scene, (o) => o instanceof SceneQueryRunner) as SceneQueryRunner[]) {
    let counted = false;
    r.subscribeToState((st) => {
      if (counted || (st.data?.state !== 'Done' && st.data?.state !== 'Error')) return;
      counted = true;
      requestAnimationFrame(() => (w.panelsRendered += 1));
    });
  }
}

const controller = new behaviors.SceneQueryController();
const scene = new EmbeddedScene({
  $timeRange: new SceneTimeRange({ from: new Date(FROM).toISOString(), to: new Date(TO).toISOString(), timeZone: 'utc' }),
  $behaviors: [controller],
  body: new SceneFlexLayout({ children: [] }),
});

/** The dashboard's annotations request, counted by the query controller like any query. */
async function annotations(): Promise<void> {
  const entry = { type: 'annotations', origin: scene, cancel: () => {} };
  controller.queryStarted(entry);
  try {
    await fetch(`/api/annotations?from=${FROM}&to=${TO}`, { credentials: 'same-origin' });
  } finally {
    controller.queryCompleted(entry);
  }
}

/** One of Grafana's bookkeeping requests; `query` asks the stand-in for a slow one (`?delay=ms`). */
function frontendMetrics(query = ''): void {
  fetch(`/api/frontend-metrics${query}`, { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' }, body: '{"events":[]}' }).catch(() => {});
}

/** After the panels are drawn, a Grafana app keeps one-shot timers due and sends a few bookkeeping requests. */
function bookkeeping(): void {
  let n = 0;
  const tick = () => {
    if (++n % 4 === 0) frontendMetrics();
    setTimeout(tick, 150 + Math.floor(Math.random() * 750));
  };
  setTimeout(tick, 300);
}

async function start(): Promise<void> {
  // uPlot measures its axis labels once: Inter must be there before the first draw.
  await Promise.all(['400', '500'].map((w) => document.fonts.load(`${w} 12px Inter`)));
  const root = document.getElementById('reactRoot')!;
  createRoot(root).render(
    <ThemeContext.Provider value={config.theme2}>
      <GlobalStyles />
      <scene.Component model={scene} />
    </ThemeContext.Provider>,
  );
  if (q.get('noise') !== '0') bookkeeping();
  await annotations().catch(() => {});
  // `gap=<ms>`: the panels come this much later, with nothing in flight and the query count
  // at 0 meanwhile, as on Grafana 12.2 d-solo pages (~440 ms there).
  const gap = Number(q.get('gap')) || 0;
  if (gap > 0) await new Promise((r) => setTimeout(r, gap));
  scene.setState({ body: body() });
  if (classic) {
    document.getElementById('reactRoot')!.classList.add('panel-solo');
    countRendered();
  }
  reportDone();
}

/**
 * Test-only knowledge for the tests' reference camera (test/support/reference.ts), never for
 * panelshot: window.__standin.state is 'done' once every panel in view has its data and two
 * frames have passed, as on the hand-drawn pages.
 */
function reportDone(): void {
  const s = { state: 'loading' };
  (window as unknown as { __standin: typeof s }).__standin = s;
  const check = () => {
    const runners = sceneGraph.findAllObjects(scene, (o) => o instanceof SceneQueryRunner && o.isActive) as SceneQueryRunner[];
    const done = runners.length > 0 && runners.every((r) => r.state.data?.state === 'Done');
    if (done) {
      const late = Number(q.get('lateCall')) || 0;
      if (late > 0) setTimeout(() => frontendMetrics('?delay=3000'), late);
      requestAnimationFrame(() => requestAnimationFrame(() => (s.state = 'done')));
    }
    else setTimeout(check, 50);
  };
  check();
}

void start();

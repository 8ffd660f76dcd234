// Pages made of Grafana's own components (test/grafana-components: Scenes, the uPlot time
// series, BigValue, BarGauge, the dark theme, Grafana's timers and bookkeeping requests),
// rendered through panelshot: the answer is the finished picture, and it comes from
// Grafana's done signal (window.__grafanaSceneContext and __grafanaRunningQueryCount), not
// from waiting out the timers such a page keeps due. Real Chromium, real service, the
// stand-in; nothing mocked. The reference camera waits for the scene's own data state
// (test-only knowledge, never panelshot's).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { startStack, equalShare, colourCount, type Stack } from './support/stack';
import { ReferenceCamera } from './support/reference';
import { queryResult } from './standin/grafana';
import { componentBundleBuilt } from './standin/components';
import { grafanaDone, type PageState } from '../src/render/pageSignals';

const SOLO = '/d-solo/gc-board/test?orgId=1';
const BOARD = '/d/gc-board/test?orgId=1&panels=10&kiosk';

/** The colour the stand-in gives panel `id`'s series (its field config's fixedColor). */
function seriesColour(id: string): [number, number, number] {
  const r = queryResult(id) as { results: { A: { frames: { schema: { fields: { config?: { color?: { fixedColor?: string } } }[] } }[] } } };
  const hex = r.results.A.frames[0]!.schema.fields[1]!.config!.color!.fixedColor!;
  return [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)) as [number, number, number];
}

/**
 * Pixels close to `colour` (RGB distance ≤ 60): uPlot's 1 px line is anti-aliased on the
 * dark background, so few of its pixels are exactly the series colour; the 10 % fill under
 * it and the dark theme's greys are far from it.
 */
async function pixelsOf(png: Buffer, [r, g, b]: [number, number, number]): Promise<number> {
  const { data } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  let n = 0;
  for (let i = 0; i < data.length; i += 3) if ((data[i]! - r) ** 2 + (data[i + 1]! - g) ** 2 + (data[i + 2]! - b) ** 2 <= 3600) n++;
  return n;
}

/** The debug trace of the render whose log lines start at `from` in the stack's log. */
function renderTrace(st: Stack, from: number): string {
  return st.logs.slice(from).map((l) => JSON.parse(l) as { event?: string; trace?: string }).find((l) => l.event === 'render_trace')?.trace ?? '';
}

describe("pages made of Grafana's own components", () => {
  let st: Stack;
  let camera: ReferenceCamera;
  before(async () => {
    assert.ok(componentBundleBuilt(), 'the Grafana-components bundle is missing: run bash scripts/setup.sh --test');
    st = await startStack({ POOL_SIZE: '1' });
    camera = await ReferenceCamera.open();
  });
  after(async () => {
    await camera?.close();
    await st?.stop();
  });

  /** Renders `path` and returns the answer with the capture's debug trace. */
  async function render(path: string, width: number, height: number) {
    const from = st.logs.length;
    const started = Date.now();
    const r = await st.render({ url: path, width: String(width), height: String(height), timeout: '20' });
    const ms = Date.now() - started;
    assert.equal(r.status, 200, r.body.toString().slice(0, 300));
    return { r, ms, trace: renderTrace(st, from) };
  }

  test('the time series is drawn from its data, released by Grafana\'s done signal', async () => {
    const path = `${SOLO}&panelId=1`;
    const { r, ms, trace } = await render(path, 1000, 500);
    assert.equal(r.headers.get('x-panelshot-settled'), 'true');
    assert.match(trace, /grafana-done/, `the done signal did not release the render: ${trace}`);
    // The uPlot line and its legend swatch in the series' own colour: only data draws them.
    assert.ok((await pixelsOf(r.body, seriesColour('1'))) > 300, 'no series line in the picture');
    assert.ok((await colourCount(r.body)) > 50, 'a blank or loading-only frame');
    const reference = await camera.shoot(st.g, path, 1000, 500, 1);
    const share = await equalShare(r.body, reference);
    assert.ok(share > 0.999, `only ${(share * 100).toFixed(2)} % of the pixels equal the finished page`);
    // The page keeps one-shot timers due all the time (as Grafana does): waiting them out
    // took the 3 s bound. Data 300 ms + a bundle of ~3 MB: well under 2.5 s when the signal is read.
    assert.ok(ms < 2500, `took ${ms} ms: ${trace}`);
  });

  for (const [panelId, what] of [['2', 'stat'], ['3', 'bar gauge']] as const) {
    test(`the ${what} is the finished picture`, async () => {
      const path = `${SOLO}&panelId=${panelId}`;
      const { r, trace } = await render(path, 1000, 500);
      assert.equal(r.headers.get('x-panelshot-settled'), 'true');
      assert.match(trace, /grafana-done/);
      const share = await equalShare(r.body, await camera.shoot(st.g, path, 1000, 500, 1));
      assert.ok(share > 0.999, `only ${(share * 100).toFixed(2)} % of the pixels equal the finished page`);
    });
  }

  test('a pause between the annotations request and the panel query is not taken for the end', async () => {
    // As on Grafana 12.2 d-solo pages: the query count goes 1→0 for the annotations, then
    // nothing runs and no panel is there for 440 ms, then the panel's query.
    const path = `${SOLO}&panelId=1&gap=440`;
    const { r, trace } = await render(path, 1000, 500);
    assert.equal(r.headers.get('x-panelshot-settled'), 'true');
    assert.ok((await pixelsOf(r.body, seriesColour('1'))) > 300, `the answer is the page before its panel: ${trace}`);
    const share = await equalShare(r.body, await camera.shoot(st.g, path, 1000, 500, 1));
    assert.ok(share > 0.999, `only ${(share * 100).toFixed(2)} % of the pixels equal the finished page`);
  });

  test("a classic page's window.panelsRendered releases it too", async () => {
    const path = `${SOLO}&panelId=1&classic=1`;
    const { r, ms, trace } = await render(path, 1000, 500);
    assert.equal(r.headers.get('x-panelshot-settled'), 'true');
    assert.match(trace, /grafana-done/, trace);
    assert.ok(ms < 2500, `took ${ms} ms: ${trace}`);
    const share = await equalShare(r.body, await camera.shoot(st.g, path, 1000, 500, 1));
    assert.ok(share > 0.999, `only ${(share * 100).toFixed(2)} % of the pixels equal the finished page`);
  });

  test('a 10-panel dashboard (lazy grid) is the finished picture', async () => {
    const { r, trace } = await render(BOARD, 1400, 900);
    assert.equal(r.headers.get('x-panelshot-settled'), 'true');
    assert.match(trace, /grafana-done/);
    for (const id of ['1', '4', '7', '10']) assert.ok((await pixelsOf(r.body, seriesColour(id))) > 100, `time series ${id} is not drawn`);
    const share = await equalShare(r.body, await camera.shoot(st.g, BOARD, 1400, 900, 1));
    assert.ok(share > 0.999, `only ${(share * 100).toFixed(2)} % of the pixels equal the finished page`);
  });

  test('a hand-drawn page that re-arms a timer forever is not held by it', async () => {
    // The chain's timers stop counting once it has re-armed itself a few times; the page is
    // then judged by its pixels (and its 500 ms animation), not after the 3 s bound.
    const { r, trace } = await render('/d-solo/abc123/node-exporter?orgId=1&panelId=2&rearm=forever', 1000, 500);
    assert.equal(r.headers.get('x-panelshot-settled'), 'true');
    assert.doesNotMatch(trace, /scheduled/, trace);
  });
});

describe("after Grafana's done signal", () => {
  // Four confirming frames 200 ms apart (operators may ask for that): the looks at the page
  // between them fall while the page's late bookkeeping request is in flight.
  let st: Stack;
  before(async () => {
    assert.ok(componentBundleBuilt(), 'the Grafana-components bundle is missing: run bash scripts/setup.sh --test');
    st = await startStack({ POOL_SIZE: '1', STABLE_FRAMES: '4', STABLE_INTERVAL_MS: '200' });
  });
  after(async () => {
    await st?.stop();
  });

  test('a bookkeeping request sent once the panels are done does not hold the picture', async () => {
    // 400 ms after its data, the page sends a request that takes 3 s. Pixels decide from
    // Grafana's "done" on; that request used to count as the page being busy again.
    st.g.resetStats();
    const from = st.logs.length;
    const started = Date.now();
    const r = await st.render({ url: `${SOLO}&panelId=1&lateCall=400`, width: '1000', height: '500', timeout: '20' });
    const answered = Date.now();
    assert.equal(r.status, 200, r.body.toString().slice(0, 300));
    assert.equal(r.headers.get('x-panelshot-settled'), 'true');
    const trace = renderTrace(st, from);
    const at = (step: string) => Number(new RegExp(`(\\d+):${step}`).exec(trace)?.[1]);
    assert.ok(at('stable') - at('grafana-done') < 1500, `held after Grafana said done: ${trace}`);
    // The request really was in flight while panelshot compared frames, and still is.
    const call = st.g.stats.slowCalls[0];
    assert.ok(call && call.start > started && call.start < answered && (call.end === undefined || call.end > answered), `the late request did not overlap the capture: ${JSON.stringify(st.g.stats.slowCalls)}`);
    assert.ok((await pixelsOf(r.body, seriesColour('1'))) > 300, 'no series line in the picture');
  });
});

describe("Grafana's done signal, read from the page state", () => {
  const base: PageState = {
    href: 'http://grafana/d-solo/x',
    readyState: 'complete',
    inflight: 0,
    loading: false,
    status: 200,
    animating: false,
    scheduled: 2,
    justLoaded: false,
    grafana: { scene: false, runningQueries: null, queriesStarted: 0, vizPanels: 0, panelsRendered: null, panels: 0 },
  };
  const withGrafana = (g: Partial<PageState['grafana']>): PageState => ({ ...base, grafana: { ...base.grafana, ...g } });

  test('a page that announces nothing leaves it to the generic hints', () => {
    assert.equal(grafanaDone(base), undefined);
  });
  test('Scenes: done only once a query was seen, all are back to 0 and panels are there', () => {
    assert.equal(grafanaDone(withGrafana({ scene: true, runningQueries: 0, queriesStarted: 0, vizPanels: 1 })), false);
    assert.equal(grafanaDone(withGrafana({ scene: true, runningQueries: 1, queriesStarted: 2, vizPanels: 1 })), false);
    assert.equal(grafanaDone(withGrafana({ scene: true, runningQueries: 0, queriesStarted: 1, vizPanels: 0 })), false);
    assert.equal(grafanaDone(withGrafana({ scene: true, runningQueries: 0, queriesStarted: 2, vizPanels: 1 })), true);
  });
  test('classic: done when panelsRendered reaches the panels on the page', () => {
    assert.equal(grafanaDone(withGrafana({ panelsRendered: 2, panels: 3 })), false);
    assert.equal(grafanaDone(withGrafana({ panelsRendered: 3, panels: 3 })), true);
    assert.equal(grafanaDone(withGrafana({ panelsRendered: 4, panels: 3 })), true);
  });
});

// Whole dashboards, panels and reports on both of real Grafana's page layouts, as the
// stand-in builds them (test/standin/grafana.ts `layout`, DESIGN.md §8):
// - classic, Grafana ≤ 11.2 (11.1.3): the document never grows, the dashboard scrolls
//   inside div.scrollbar-view, lazy panels draw once they intersect that scroller's view;
// - scenes, Grafana ≥ 11.3 (12.2.0): the body scrolls, kiosk keeps the controls bar, the
//   panel menu (⋮) shows on hover.
// Both paint the dark theme's `color-scheme` into a printed page's margins. Pixels are read
// back with sharp and poppler (pdftoppm, pdftotext), as a reader would see them; expected
// geometry comes from the grid's own numbers (24 columns, 30 px cells, 8 px margins).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { GRID, queryResult, type StandinLayout } from './standin/grafana';
import { dashboardByUid } from './standin/dashboards';
import { pdfInfo, pdfPages, pdfText, pictureBox, similarShare } from './support/pdf';
import { ReferenceCamera } from './support/reference';
import { equalShare, pngSize, startStack, type Stack } from './support/stack';

const WIDTH = 1200;
const THIRTY = '/d/thirty/thirty-panels?orgId=1&from=now-6h&to=now';
const ROWS = '/d/rows/rows?orgId=1&from=now-6h&to=now';
const PANEL = '/d-solo/abc123/node-exporter?orgId=1&panelId=2&from=now-6h&to=now';
/** #111217, the dashboard's background between panels (dark theme). */
const BACKGROUND = [0x11, 0x12, 0x17];

interface Rect {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** Where the grid puts a panel at `width` CSS px (kiosk: the grid starts at the top left). */
function gridRect(gridPos: { x: number; y: number; w: number; h: number }, width: number): Rect {
  const col = (width - GRID.margin * (GRID.columns - 1)) / GRID.columns;
  return {
    left: Math.round(gridPos.x * (col + GRID.margin)),
    top: gridPos.y * (GRID.cellHeight + GRID.margin),
    width: Math.round(gridPos.w * col + (gridPos.w - 1) * GRID.margin),
    height: gridPos.h * GRID.cellHeight + (gridPos.h - 1) * GRID.margin,
  };
}

/** The colour the stand-in draws panel `id`'s series in. */
function seriesColour(id: string): [number, number, number] {
  const hex = (queryResult(id) as { results: { A: { frames: { schema: { fields: { config?: { color: { fixedColor: string } } }[] } }[] } } }).results.A.frames[0]!.schema.fields[1]!.config!.color.fixedColor;
  return [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)) as [number, number, number];
}

/** Pixels within `rect` of `png` whose colour is within 8 per channel of `rgb`. */
async function pixelsOf(png: Buffer, rect: Rect, rgb: number[]): Promise<number> {
  const { data } = await sharp(png).extract(rect).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  let n = 0;
  for (let i = 0; i < data.length; i += 3) if (Math.abs(data[i]! - rgb[0]!) <= 8 && Math.abs(data[i + 1]! - rgb[1]!) <= 8 && Math.abs(data[i + 2]! - rgb[2]!) <= 8) n++;
  return n;
}

/** Share of the pixels in row `y` that are the dashboard's background. */
async function backgroundShare(png: Buffer, y: number): Promise<number> {
  const m = await sharp(png).metadata();
  const { data } = await sharp(png).extract({ left: 0, top: y, width: m.width!, height: 1 }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  let bg = 0;
  for (let i = 0; i < data.length; i += 3) if (BACKGROUND.every((c, k) => Math.abs(data[i + k]! - c) <= 6)) bg++;
  return bg / (data.length / 3);
}

const luminance = (r: number, g: number, b: number) => {
  const lin = (c: number) => (c / 255 <= 0.03928 ? c / 255 / 12.92 : ((c / 255 + 0.055) / 1.055) ** 2.4);
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
};

/**
 * WCAG contrast between the ink and the paper of a band of the page: the paper is the
 * band's most common colour, the ink its pixel that differs from it most.
 */
async function bandContrast(png: Buffer, top: number, height: number): Promise<{ ratio: number; paper: number[]; ink: number[] }> {
  const m = await sharp(png).metadata();
  const { data } = await sharp(png).extract({ left: 0, top, width: m.width!, height }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const counts = new Map<number, number>();
  for (let i = 0; i < data.length; i += 3) {
    const k = (data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  const paperKey = [...counts].sort((a, b) => b[1] - a[1])[0]![0];
  const paper = [(paperKey >> 16) & 255, (paperKey >> 8) & 255, paperKey & 255];
  const lp = luminance(paper[0]!, paper[1]!, paper[2]!);
  let best = 1;
  let ink = paper;
  for (const k of counts.keys()) {
    const c = [(k >> 16) & 255, (k >> 8) & 255, k & 255];
    const l = luminance(c[0]!, c[1]!, c[2]!);
    const ratio = (Math.max(l, lp) + 0.05) / (Math.min(l, lp) + 0.05);
    if (ratio > best) {
      best = ratio;
      ink = c;
    }
  }
  return { ratio: best, paper, ink };
}

const thirtyPanels = dashboardByUid('thirty')!.dashboard.panels;

for (const layout of ['classic', 'scenes'] as StandinLayout[]) {
  const name = layout === 'classic' ? 'Grafana 11.1 layout (classic: the dashboard scrolls in div.scrollbar-view)' : 'Grafana 12.2 layout (scenes: the body scrolls)';
  describe(name, () => {
    let st: Stack;
    let camera: ReferenceCamera;
    const report = async (params: Record<string, string>) => {
      const q = new URLSearchParams({ ...params, url: st.g.url + params.url });
      const res = await fetch(`${st.s.url}/report?${q}`, { headers: { 'X-Auth-Token': '-' } });
      return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
    };
    before(async () => {
      st = await startStack({ POOL_SIZE: '1' }, { layout });
      camera = await ReferenceCamera.open();
    });
    after(async () => {
      await camera?.close();
      await st?.stop();
    });

    test('height=-1 of a 30-panel board: the exact height of the grid, and every panel drew its own data', async () => {
      st.g.resetStats();
      const r = await st.render({ url: THIRTY, width: String(WIDTH), height: '-1' });
      assert.equal(r.status, 200, r.body.toString().slice(0, 300));
      assert.equal(r.headers.get('x-panelshot-settled'), 'true');
      // 10 grid rows of 7 cells: 70 × 38 px less the last margin; kiosk: nothing above.
      assert.deepEqual(await pngSize(r.body), { width: WIDTH, height: 70 * (GRID.cellHeight + GRID.margin) - GRID.margin, format: 'png' });
      assert.equal(new Set(st.g.stats.queries.map((q) => q.panelId)).size, 30, 'every lazy panel ran its query');
      for (const p of thirtyPanels) {
        const rect = gridRect(p.gridPos, WIDTH);
        const n = await pixelsOf(r.body, rect, seriesColour(String(p.id)));
        assert.ok(n > 200, `panel ${p.id} (${p.title}) at y=${rect.top} shows its series (${n} pixels of its colour)`);
      }
    });

    test('the dashboard PDF has every panel whole and once, no dashboard controls, no page ending inside a panel', async () => {
      const r = await st.render({ url: THIRTY, encoding: 'pdf', width: '1000' });
      assert.equal(r.status, 200, r.body.toString().slice(0, 300));
      const info = pdfInfo(r.body);
      // 2210 CSS px of grid at 1000 px wide, on A4 landscape page boxes of 706.8 px.
      assert.ok(info.pages >= 4 && info.pages <= 5, `${info.pages} pages`);
      const all = pdfText(r.body).join('\n');
      for (let i = 1; i <= 30; i++) assert.equal(all.match(new RegExp(`Thirty ${i}(?!\\d)`, 'g'))?.length, 1, `Thirty ${i} appears once`);
      assert.doesNotMatch(all, /Last 6 hours|Refresh|Zoom out|Runbook|host: All/, 'no dashboard controls');
      const pages = pdfPages(r.body, 1000);
      for (let i = 0; i < pages.length - 1; i++) {
        const h = (await sharp(pages[i]!).metadata()).height!;
        const share = await backgroundShare(pages[i]!, h - 1);
        assert.ok(share > 0.98, `page ${i + 1} ends inside a panel (${(share * 100).toFixed(1)} % background in its last row)`);
      }
    });

    test('the report has every panel, and its header and footer read on the dark theme and on the light one', async () => {
      for (const theme of ['dark', 'light']) {
        st.g.resetStats();
        const r = await report({ url: `${THIRTY}${theme === 'light' ? '&theme=light' : ''}`, timezone: 'UTC' });
        assert.equal(r.status, 200, r.body.toString().slice(0, 300));
        const text = pdfText(r.body);
        const all = text.join('\n');
        for (let i = 1; i <= 30; i++) assert.equal(all.match(new RegExp(`Thirty ${i}(?!\\d)`, 'g'))?.length, 1, `${theme}: Thirty ${i} appears once`);
        assert.doesNotMatch(all, /Last 6 hours|Refresh|Zoom out|Runbook/, `${theme}: no dashboard controls`);
        // A4 landscape at 96 px per inch: the header's margin is 56 px, the footer's 36 px.
        const pages = pdfPages(r.body, 1123);
        for (const [i, page] of pages.entries()) {
          const h = (await sharp(page).metadata()).height!;
          const head = await bandContrast(page, 0, 56);
          const foot = await bandContrast(page, h - 36, 36);
          assert.ok(head.ratio >= 7, `${theme}, page ${i + 1}: header contrast ${head.ratio.toFixed(1)}:1 (ink ${head.ink} on ${head.paper})`);
          assert.ok(foot.ratio >= 4.5, `${theme}, page ${i + 1}: footer contrast ${foot.ratio.toFixed(1)}:1 (ink ${foot.ink} on ${foot.paper})`);
        }
        assert.match(text[0]!, /Thirty panels/);
        assert.match(text.at(-1)!, new RegExp(`Page ${pages.length} of ${pages.length}`));
      }
    });

    test('collapsed rows: as Grafana shows them unless expandRows=true, then opened, in the PDF, the height=-1 PNG and the report', async () => {
      // The rows board: a panel (11), an open row with a panel (12), a collapsed row holding 13.
      st.g.resetStats();
      const closed = await st.render({ url: ROWS, encoding: 'pdf', width: '1000' });
      assert.equal(closed.status, 200, closed.body.toString().slice(0, 300));
      const closedText = pdfText(closed.body).join('\n');
      assert.match(closedText, /Collapsed row\s*\(1 panel\)/, 'the collapsed row shows as collapsed');
      assert.doesNotMatch(closedText, /Hidden panel/);
      assert.deepEqual([...new Set(st.g.stats.queries.map((q) => q.panelId))].sort(), ['11', '12']);

      st.g.resetStats();
      const open = await st.render({ url: ROWS, encoding: 'pdf', width: '1000', expandRows: 'true' });
      assert.equal(open.status, 200, open.body.toString().slice(0, 300));
      const openText = pdfText(open.body).join('\n');
      for (const t of ['Loose panel', 'Open panel', 'Hidden panel', 'Open row', 'Collapsed row']) assert.equal(openText.match(new RegExp(t, 'g'))?.length, 1, `${t} once`);
      assert.doesNotMatch(openText, /\(1 panel\)/, 'the row is open');
      assert.deepEqual([...new Set(st.g.stats.queries.map((q) => q.panelId))].sort(), ['11', '12', '13']);

      // PNG: the grid ends below the collapsed row (18 cells), or below its panel (26).
      const png = await st.render({ url: ROWS, width: '1000', height: '-1' });
      assert.deepEqual(await pngSize(png.body), { width: 1000, height: 18 * 38 - 8, format: 'png' });
      const pngOpen = await st.render({ url: ROWS, width: '1000', height: '-1', expandRows: 'true' });
      assert.deepEqual(await pngSize(pngOpen.body), { width: 1000, height: 26 * 38 - 8, format: 'png' });
      const hidden = gridRect({ x: 0, y: 18, w: 24, h: 8 }, 1000);
      assert.ok((await pixelsOf(pngOpen.body, hidden, seriesColour('13'))) > 200, 'the opened row\'s panel drew its data');

      // Reports: as Grafana shows the board by default, opened with expandRows=true.
      const reportClosed = pdfText((await report({ url: ROWS, timezone: 'UTC' })).body).join('\n');
      assert.match(reportClosed, /Collapsed row\s*\(1 panel\)/);
      assert.doesNotMatch(reportClosed, /Hidden panel/);
      const reportOpen = pdfText((await report({ url: ROWS, timezone: 'UTC', expandRows: 'true' })).body).join('\n');
      assert.match(reportOpen, /Hidden panel/);
    });

    test('deviceScaleFactor=2 is a real 2× picture: it matches a browser\'s own 2× capture, where a 1× picture blown up does not', async () => {
      const r = await st.render({ url: PANEL, width: '800', height: '400', deviceScaleFactor: '2' });
      assert.equal(r.status, 200, r.body.toString().slice(0, 300));
      assert.deepEqual(await pngSize(r.body), { width: 1600, height: 800, format: 'png' });
      const real2x = await camera.shoot(st.g, PANEL, 800, 400, 2);
      const upscaled = await sharp(await camera.shoot(st.g, PANEL, 800, 400, 1)).resize(1600, 800, { fit: 'fill' }).png().toBuffer();
      const same = await equalShare(r.body, real2x);
      const blown = await equalShare(upscaled, real2x);
      // The check can tell them apart: a 1× capture blown up differs in many pixels.
      assert.ok(blown < 0.95, `a blown-up 1× picture matches the 2× capture in ${(blown * 100).toFixed(1)} % of its pixels`);
      assert.ok(same > 0.99, `panelshot's 2× picture matches the 2× capture in only ${(same * 100).toFixed(1)} % of its pixels (a blown-up 1× one: ${(blown * 100).toFixed(1)} %)`);
    });

    test('a panel\'s PDF is the panel at width×height, as its PNG, printed onto the paper', async () => {
      const pdf = await st.render({ url: PANEL, encoding: 'pdf', width: '1000', height: '500' });
      assert.equal(pdf.status, 200, pdf.body.toString().slice(0, 300));
      assert.equal(pdfInfo(pdf.body).pages, 1);
      const [page] = pdfPages(pdf.body, 1123);
      const box = await pictureBox(page!);
      assert.ok(Math.abs(box.width / box.height - 2) < 0.03, `the printed panel is ${box.width}×${box.height} (aspect ${(box.width / box.height).toFixed(3)}), the PNG's is 2.000`);
      const png = await st.render({ url: PANEL, width: '1000', height: '500' });
      const printed = await sharp(page!).extract(box).resize(1000, 500, { fit: 'fill' }).png().toBuffer();
      const share = await similarShare(printed, png.body, 24);
      assert.ok(share > 0.9, `only ${(share * 100).toFixed(1)} % of the printed panel looks like its PNG`);
    });

    // Grafana 12's panels have the hover-only menu; classic ones here have none to show.
    if (layout === 'scenes') {
      test('a single panel shows no panel menu (⋮) button, as a browser without a mouse shows it', async () => {
        // The title bar's right end, where Grafana 12 puts the menu button (#3d71d9 here).
        const corner = { left: 760, top: 0, width: 40, height: 32 };
        const menu = [0x3d, 0x71, 0xd9];
        const r = await st.render({ url: PANEL, width: '800', height: '400' });
        assert.equal(r.status, 200);
        const n = await pixelsOf(r.body, corner, menu);
        assert.equal(n, 0, `${n} pixels of the menu button in the picture`);
        // The check can see it: the page does show the menu where it is always shown.
        const shown = await st.render({ url: `${PANEL}&hoverMenu=1`, width: '800', height: '400' });
        assert.ok((await pixelsOf(shown.body, corner, menu)) > 100, 'a shown menu is seen');
      });
    }
  });
}

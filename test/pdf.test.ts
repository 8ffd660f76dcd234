// encoding=pdf on /render, end to end: real Chrome prints, Debian's poppler reads the
// result (pdfinfo, pdftoppm, pdftotext) the way a person's PDF viewer would.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { pdfInfo, pdfPages, pdfText, pictureBox, similarShare } from './support/pdf';
import { colourCount, pngSize, startStack, type Stack } from './support/stack';

const PANEL = '/d-solo/abc123/node-exporter?orgId=1&panelId=2&from=now-6h&to=now';
/** Paper in points (1/72 in), portrait, as Chrome prints it. */
const POINTS: Record<string, [number, number]> = { a4: [595.44, 842.4], letter: [612, 792], legal: [612, 1008], tabloid: [792, 1224], ledger: [1224, 792], a3: [842.4, 1190.88], a6: [297.36, 419.76] };

function assertPaper(pdf: Buffer, format: string, landscape: boolean) {
  const info = pdfInfo(pdf);
  const [w, h] = POINTS[format]!;
  const [ew, eh] = landscape ? [h, w] : [w, h];
  assert.ok(Math.abs(info.width - ew) < 2 && Math.abs(info.height - eh) < 2, `${format} ${landscape ? 'landscape' : 'portrait'}: got ${info.width}×${info.height} pt, expected ${ew}×${eh}`);
}

describe('encoding=pdf on /render', () => {
  let st: Stack;
  before(async () => {
    st = await startStack({ POOL_SIZE: '1' });
  });
  after(() => st?.stop());

  test('a panel PDF is one A4 landscape page showing the panel at width×height, the same picture as its PNG', async () => {
    const r = await st.render({ url: PANEL, encoding: 'pdf', width: '1000', height: '500' });
    assert.equal(r.status, 200, r.body.toString().slice(0, 300));
    assert.equal(r.headers.get('content-type'), 'application/pdf');
    assert.equal(r.headers.get('content-disposition'), 'inline; filename="node-exporter.pdf"');
    assert.equal(r.headers.get('x-panelshot-settled'), 'true');
    assert.equal(r.body.subarray(0, 5).toString(), '%PDF-');
    assert.equal(pdfInfo(r.body).pages, 1);
    assertPaper(r.body, 'a4', true);
    // Scaled to the paper's width (1123 px at 96 dpi) and centred: 1123×561 on white paper.
    const [page] = pdfPages(r.body, 1123);
    const box = await pictureBox(page!);
    assert.ok(Math.abs(box.width / box.height - 2) < 0.02, `the printed panel is ${box.width}×${box.height}, not 2:1 like the PNG`);
    assert.ok(Math.abs(box.top - (794 - box.height) / 2) <= 2, `centred on the page (top ${box.top})`);
    const png = await st.render({ url: PANEL, width: '1000', height: '500' });
    assert.equal(png.status, 200);
    const printed = await sharp(page!).extract(box).resize(1000, 500, { fit: 'fill' }).png().toBuffer();
    const share = await similarShare(printed, png.body, 24);
    assert.ok(share > 0.9, `only ${(share * 100).toFixed(1)} % of the printed panel looks like the PNG`);
    // And not like another panel's picture.
    const other = await st.render({ url: PANEL.replace('panelId=2', 'panelId=3'), width: '1000', height: '500' });
    const otherShare = await similarShare(printed, other.body, 24);
    assert.ok(otherShare < share - 0.02, `the comparison tells panels apart (${otherShare} vs ${share})`);
  });

  test('paper formats and orientation, top-level or inside url (top-level wins), case-insensitive', async () => {
    for (const [params, format, landscape] of [
      [{ 'pdf.format': 'Letter' }, 'letter', true],
      [{ 'pdf.format': 'LEGAL', 'pdf.landscape': 'false' }, 'legal', false],
      [{ 'pdf.format': 'tabloid', 'pdf.landscape': 'false' }, 'tabloid', false],
      [{ 'pdf.format': 'a3' }, 'a3', true],
      [{ 'pdf.format': 'a6', 'pdf.landscape': 'false' }, 'a6', false],
      [{ url: `${PANEL}&pdf.format=letter&pdf.landscape=false` }, 'letter', false],
      [{ url: `${PANEL}&pdf.format=letter&pdf.landscape=false`, 'pdf.format': 'a4' }, 'a4', false],
    ] as [Record<string, string>, string, boolean][]) {
      const r = await st.render({ url: PANEL, encoding: 'pdf', ...params });
      assert.equal(r.status, 200, `${JSON.stringify(params)}: ${r.body.toString().slice(0, 200)}`);
      assertPaper(r.body, format, landscape);
    }
  });

  test('pdf.printBackground=false leaves the paper white', async () => {
    const r = await st.render({ url: PANEL, encoding: 'pdf', 'pdf.printBackground': 'false' });
    assert.equal(r.status, 200);
    const [page] = pdfPages(r.body, 200);
    const { data } = await (await import('sharp')).default(page!).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    // The title bar area (top-left) is the page's dark background when printed, white without it.
    assert.ok(data[0]! > 240 && data[1]! > 240 && data[2]! > 240, `top-left pixel is ${data[0]},${data[1]},${data[2]}`);
  });

  test('empty encoding is still PNG', async () => {
    const r = await st.render({ url: PANEL, encoding: '' });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'image/png');
  });

  test('a page that never settles gets its PDF by the deadline, marked unsettled', async () => {
    const t = Date.now();
    const r = await st.render({ url: `${PANEL}&animation=forever`, encoding: 'pdf', timeout: '3' });
    assert.equal(r.status, 200, r.body.toString().slice(0, 300));
    assert.ok(Date.now() - t < 3000, `answered after ${Date.now() - t} ms`);
    assert.equal(r.headers.get('x-panelshot-settled'), 'false');
    assert.equal(pdfInfo(r.body).pages, 1);
  });

  test('bad PDF parameters get a 400 that names them', async () => {
    for (const [params, message] of [
      [{ 'pdf.format': 'a7' }, /pdf\.format=a7 is unknown/],
      [{ 'pdf.format': 'letter;rm' }, /pdf\.format=.* is unknown/],
      [{ 'pdf.landscape': 'sideways' }, /pdf\.landscape must be true or false/],
      [{ 'pdf.printBackground': 'maybe' }, /pdf\.printBackground must be true or false/],
      [{ 'pdf.pageRanges': 'abc' }, /pdf\.pageRanges=abc is malformed/],
      [{ 'pdf.pageRanges': '0-2' }, /pdf\.pageRanges counts pages from 1/],
      [{ 'pdf.pageRanges': '5-2' }, /runs backwards/],
      [{ url: `${PANEL}&pdf.format=b5` }, /pdf\.format=b5 is unknown/],
    ] as [Record<string, string>, RegExp][]) {
      const r = await st.render({ url: PANEL, encoding: 'pdf', ...params });
      assert.equal(r.status, 400, JSON.stringify(params));
      assert.match(r.json().error, message);
    }
    // A range past the end is only known once printed.
    const r = await st.render({ url: PANEL, encoding: 'pdf', 'pdf.pageRanges': '3-4' });
    assert.equal(r.status, 400, r.body.toString().slice(0, 300));
    assert.match(r.json().error, /pdf\.pageRanges=3-4 does not fit the document's 1 page/);
  });
});

describe('PDF limits and timeouts', () => {
  test('ON_TIMEOUT=error answers 408 for a PDF of a page that never settles; MAX_PDF_BYTES is enforced', async () => {
    const st = await startStack({ POOL_SIZE: '1', ON_TIMEOUT: 'error', MAX_PDF_BYTES: '100000' });
    try {
      const late = await st.render({ url: `${PANEL}&animation=forever`, encoding: 'pdf', timeout: '2' });
      assert.equal(late.status, 408);
      const big = await st.render({ url: PANEL, encoding: 'pdf', width: '1000', deviceScaleFactor: '3' });
      assert.equal(big.status, 413, big.body.toString().slice(0, 300));
      assert.match(big.json().error, /MAX_PDF_BYTES/);
    } finally {
      await st.stop();
    }
  });
});

// The stand-in's big board (test/standin/dashboards.ts): 4 rows (Archive collapsed), 12
// overview panels, 'CPU on $host' repeated for web-1..3, 16 details, 6 archived panels.
const BIG = '/d/big/big-board?orgId=1&from=now-6h&to=now';
const titles = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix} ${i + 1}`);
const SHOWN = [...titles('Overview', 12), 'CPU on web-1', 'CPU on web-2', 'CPU on web-3', ...titles('Detail', 16)];
const ARCHIVE = titles('Archive', 6);
/** Panel ids the stand-in queries for: 2-13 overview, 15 (+ clones), 17-32 details, 34-39 archive. */
const ids = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => String(from + i));
const ALL_IDS = [...ids(2, 13), '15', '15-web-2', '15-web-3', ...ids(17, 32), ...ids(34, 39)];
/** #111217, the dashboard's background between panels. */
const BACKGROUND = [0x11, 0x12, 0x17];

/** Share of the pixels in row `y` that are the dashboard's background (no panel there). */
async function backgroundShare(png: Buffer, y: number): Promise<number> {
  const sharp = (await import('sharp')).default;
  const m = await sharp(png).metadata();
  const { data } = await sharp(png).extract({ left: 0, top: y, width: m.width!, height: 1 }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  let bg = 0;
  for (let i = 0; i < data.length; i += 3) if (BACKGROUND.every((c, k) => Math.abs(data[i + k]! - c) <= 6)) bg++;
  return bg / (data.length / 3);
}

describe('whole dashboards: PDF and height=-1 on a 37-panel board', () => {
  let st: Stack;
  before(async () => {
    st = await startStack({ POOL_SIZE: '1' });
  });
  after(() => st?.stop());

  test('the PDF has every panel (lazy, repeated, expanded rows), no nav bar, and no panel cut by a page break', async () => {
    st.g.resetStats();
    const r = await st.render({ url: BIG, encoding: 'pdf', width: '1000', expandRows: 'true' });
    assert.equal(r.status, 200, r.body.toString().slice(0, 300));
    assert.equal(r.headers.get('x-panelshot-settled'), 'true');
    assert.deepEqual([...new Set(st.g.stats.queries.map((q) => q.panelId))].sort(), [...ALL_IDS].sort(), 'every panel ran its query');

    const info = pdfInfo(r.body);
    // 4096 CSS px of grid on pages of 706.8 CSS px: 6 pages at least, 7 with the moves.
    assert.ok(info.pages >= 6 && info.pages <= 8, `${info.pages} pages`);
    assertPaper(r.body, 'a4', true);
    const text = pdfText(r.body);
    assert.equal(text.length, info.pages);
    const all = text.join('\n');
    for (const t of [...SHOWN, ...ARCHIVE]) {
      assert.equal(all.match(new RegExp(`${t}(?!\\d)`, 'g'))?.length, 1, `${t} appears once`);
    }
    assert.doesNotMatch(all, /Home › Dashboards/, 'kiosk mode hid the nav bar');

    // No page ends inside a panel: the last pixel row of every page but the last is the
    // dashboard's background across the whole width.
    const pages = pdfPages(r.body, 1000);
    for (let i = 0; i < pages.length - 1; i++) {
      const h = (await (await import('sharp')).default(pages[i]!).metadata()).height!;
      const share = await backgroundShare(pages[i]!, h - 1);
      assert.ok(share > 0.98, `page ${i + 1} ends inside a panel (${(share * 100).toFixed(1)} % background in its last row)`);
    }
    // The check can see a cut: slicing the full-page PNG naively at the same page height
    // goes through panels.
    const png = await st.render({ url: BIG, width: '1000', height: '-1', expandRows: 'true' });
    const naive = await Promise.all([1, 2, 3, 4, 5].map((k) => backgroundShare(png.body, Math.round(k * 706.84) - 1)));
    assert.ok(naive.some((s) => s < 0.5), `naive page cuts: ${naive.map((s) => s.toFixed(2))}`);
  });

  test('height=-1 PNG has the whole grid and every panel drew its data', async () => {
    st.g.resetStats();
    const r = await st.render({ url: BIG, width: '1000', height: '-1', expandRows: 'true' });
    assert.equal(r.status, 200, r.body.toString().slice(0, 300));
    // 108 grid units of 30 px + 8 px margins, less the last margin; kiosk: nothing above.
    assert.deepEqual(await pngSize(r.body), { width: 1000, height: 108 * 38 - 8, format: 'png' });
    assert.deepEqual([...new Set(st.g.stats.queries.map((q) => q.panelId))].sort(), [...ALL_IDS].sort());
    assert.ok((await colourCount(r.body)) > 500);
  });

  test('rows stay collapsed unless asked; the repeat follows var-host', async () => {
    st.g.resetStats();
    const r = await st.render({ url: `${BIG}&var-host=web-1&var-host=web-3`, encoding: 'pdf', width: '1000' });
    assert.equal(r.status, 200, r.body.toString().slice(0, 300));
    const all = pdfText(r.body).join('\n');
    for (const t of ['CPU on web-1', 'CPU on web-3', 'Detail 16', 'Overview 12']) assert.match(all, new RegExp(t));
    for (const t of ['CPU on web-2', ...ARCHIVE]) assert.doesNotMatch(all, new RegExp(`${t}(?!\\d)`));
    assert.match(all, /Archive\s*\(6 panels\)/, 'the collapsed row shows as collapsed');
    assert.equal(st.g.stats.queries.length, 12 + 2 + 16);
  });
});

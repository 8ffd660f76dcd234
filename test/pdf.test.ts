// encoding=pdf on /render, end to end: real Chrome prints, Debian's poppler reads the
// result (pdfinfo, pdftoppm, pdftotext) the way a person's PDF viewer would.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { pdfInfo, pdfPages, similarShare } from './support/pdf';
import { startStack, type Stack } from './support/stack';

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

  test('a panel PDF is one A4 landscape page showing the same picture as the PNG of that page box', async () => {
    const r = await st.render({ url: PANEL, encoding: 'pdf', width: '1000' });
    assert.equal(r.status, 200, r.body.toString().slice(0, 300));
    assert.equal(r.headers.get('content-type'), 'application/pdf');
    assert.equal(r.headers.get('content-disposition'), 'inline; filename="node-exporter.pdf"');
    assert.equal(r.headers.get('x-panelshot-settled'), 'true');
    assert.equal(r.body.subarray(0, 5).toString(), '%PDF-');
    assert.equal(pdfInfo(r.body).pages, 1);
    assertPaper(r.body, 'a4', true);
    // A4 landscape at 1000 CSS px wide: the page box is 1000 × 706 CSS px.
    const png = await st.render({ url: PANEL, width: '1000', height: '706' });
    assert.equal(png.status, 200);
    const [page] = pdfPages(r.body, 1000);
    const share = await similarShare(page!, png.body, 12);
    assert.ok(share > 0.95, `only ${(share * 100).toFixed(1)} % of the printed page looks like the PNG`);
    // And not like another panel's picture.
    const other = await st.render({ url: PANEL.replace('panelId=2', 'panelId=3'), width: '1000', height: '706' });
    const otherShare = await similarShare(page!, other.body, 12);
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

// GET /report: a whole dashboard as a PDF someone can hand on — title block with the
// absolute time range in the report's timezone, every panel, page numbers, no panel cut.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { pdfInfo, pdfPages, pdfText } from './support/pdf';
import { startStack, type Stack } from './support/stack';

const FROM = '1795219200000';
const TO = '1795240800000';
const titles = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix} ${i + 1}`);
const PANELS = [...titles('Overview', 12), 'CPU on web-1', 'CPU on web-2', 'CPU on web-3', ...titles('Detail', 16), ...titles('Archive', 6)];

describe('GET /report', () => {
  let st: Stack;
  const report = (params: Record<string, string>, headers: Record<string, string> = { 'X-Auth-Token': '-' }) => {
    const q = new URLSearchParams({ ...params, ...(params.url?.startsWith('/') ? { url: st.g.url + params.url } : {}) });
    return st.get(`/report?${q}`, headers);
  };
  before(async () => {
    st = await startStack({ POOL_SIZE: '1' });
  });
  after(() => st?.stop());

  test('a report of the big board: title block, absolute range in the timezone, every panel once, page numbers, no cut panel', async () => {
    st.g.resetStats();
    const res = await report({ url: `/d/big/big-board?orgId=1&from=${FROM}&to=${TO}&var-host=All`, timezone: 'Europe/Berlin' });
    const body = Buffer.from(await res.arrayBuffer());
    assert.equal(res.status, 200, body.toString().slice(0, 300));
    assert.equal(res.headers.get('content-type'), 'application/pdf');
    assert.equal(res.headers.get('content-disposition'), 'inline; filename="big-board-report.pdf"');
    const info = pdfInfo(body);
    assert.ok(info.pages >= 6 && info.pages <= 9, `${info.pages} pages`);
    const pages = pdfText(body);
    assert.match(pages[0]!, /Big board/);
    assert.match(pages[0]!, /21 Nov 2026, 01:00 CET – 21 Nov 2026, 07:00 CET/);
    assert.match(pages[0]!, /Made by panelshot on .* · timezone Europe\/Berlin/);
    pages.forEach((p, i) => assert.match(p, new RegExp(`Page ${i + 1} of ${info.pages}`), `page ${i + 1} is numbered`));
    const all = pages.join('\n');
    for (const t of PANELS) assert.equal(all.match(new RegExp(`${t}(?!\\d)`, 'g'))?.length, 1, `${t} appears once (rows expanded by default)`);
    // Charts were drawn in the report's timezone.
    assert.ok(st.g.stats.queries.length >= PANELS.length);
    assert.ok(st.g.stats.queries.every((q) => q.timezone === 'Europe/Berlin'));
    // The row just above the footer on every page but the last is dashboard background:
    // no panel runs into the page break.
    const images = pdfPages(body, 1000);
    const footer = Math.ceil((36 * 1000) / 1123.84) + 2;
    for (let i = 0; i < images.length - 1; i++) {
      const m = await sharp(images[i]!).metadata();
      const { data } = await sharp(images[i]!).extract({ left: 0, top: m.height! - footer, width: 1000, height: 1 }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      let bg = 0;
      for (let k = 0; k < data.length; k += 3) if (Math.abs(data[k]! - 0x11) <= 6 && Math.abs(data[k + 1]! - 0x12) <= 6 && Math.abs(data[k + 2]! - 0x17) <= 6) bg++;
      assert.ok(bg / 1000 > 0.98, `page ${i + 1}: only ${bg / 10} % background above the footer`);
    }
  });

  test('relative ranges are printed absolute with the relative form beside; bad requests are 4xx JSON', async () => {
    const res = await report({ url: '/d/big/big-board?orgId=1&from=now-6h&to=now&expandRows=false', timezone: 'UTC', 'pdf.format': 'a4', 'pdf.landscape': 'false' });
    const body = Buffer.from(await res.arrayBuffer());
    assert.equal(res.status, 200, body.toString().slice(0, 300));
    const first = pdfText(body)[0]!;
    assert.match(first, /\d\d \w{3} \d{4}, \d\d:\d\d UTC – \d\d \w{3} \d{4}, \d\d:\d\d UTC \(now-6h to now\)/);
    assert.ok(pdfInfo(body).height > pdfInfo(body).width, 'portrait');
    for (const [params, status, message] of [
      [{}, 400, /url is required/],
      [{ url: '/d-solo/big/x?panelId=2' }, 400, /url must be a dashboard page/],
      [{ url: '/d/big/x', encoding: 'png' }, 400, /a report is always a PDF/],
      [{ url: '/d/big/x', 'pdf.format': 'a11' }, 400, /pdf\.format=a11 is unknown/],
      [{ url: 'http://example.com/d/big/x' }, 403, /not on Grafana's origin/],
    ] as [Record<string, string>, number, RegExp][]) {
      const r = await report(params);
      assert.equal(r.status, status, JSON.stringify(params));
      assert.match((await r.json()).error, message);
    }
    assert.equal((await report({ url: '/d/big/x' }, {})).status, 401);
  });
});

// GET /report end to end: a real Chrome prints the stand-in's dashboards, Debian's poppler
// reads the PDF the way a reader's viewer would (pdfinfo, pdftotext, pdftoppm). The time
// range is checked against the absolute from/to the stand-in saw the browser ask for, and
// formatted here with Intl (not with the code under test).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DateTime } from 'luxon';
import sharp from 'sharp';
import { resolveRange, resolveTime } from '../src/render/timeRange';
import { pdfInfo, pdfPages, pdfText } from './support/pdf';
import { startStack, type Stack } from './support/stack';

const titles = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix} ${i + 1}`);
/** Every panel of the stand-in's big board with the Archive row expanded and all 3 hosts. */
const ALL_PANELS = [...titles('Overview', 12), 'CPU on web-1', 'CPU on web-2', 'CPU on web-3', ...titles('Detail', 16), ...titles('Archive', 6)];
/** A4 landscape at 96 px per inch, and the report's paper margins (src/render/report.ts). */
const PAGE = { width: 1123, height: 794, top: 56, bottom: 36 };
/** #111217, the dashboard's background between panels. */
const BACKGROUND = [0x11, 0x12, 0x17];

/** "2026-11-30 23:47:10" (seconds only when not zero) of epoch ms in `zone`, via Intl. */
function wallClock(ms: number, zone: string): string {
  const p = Object.fromEntries(new Intl.DateTimeFormat('en-GB', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }).formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
  const s = `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`;
  return p.second === '00' && ms % 1000 === 0 ? s : `${s}:${p.second}`;
}

/** The from/to (epoch ms) and timezone of the last dashboard page the browser loaded. */
function loadedRange(st: Stack): { from: number; to: number; timezone: string | null; kiosk: boolean } {
  const load = st.g.stats.pageLoads.filter((p) => p.path.startsWith('/d/')).at(-1);
  assert.ok(load, 'the dashboard page was loaded');
  const q = new URLSearchParams(load.search);
  assert.match(q.get('from') ?? '', /^\d{13}$/, 'the page got an absolute from');
  assert.match(q.get('to') ?? '', /^\d{13}$/, 'the page got an absolute to');
  return { from: Number(q.get('from')), to: Number(q.get('to')), timezone: q.get('timezone'), kiosk: q.has('kiosk') };
}

/** Share of the pixels in row `y` that match `rgb` within 6 per channel. */
async function rowShare(png: Buffer, y: number, test: (r: number, g: number, b: number) => boolean): Promise<number> {
  const m = await sharp(png).metadata();
  const { data } = await sharp(png).extract({ left: 0, top: y, width: m.width!, height: 1 }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  let n = 0;
  for (let i = 0; i < data.length; i += 3) if (test(data[i]!, data[i + 1]!, data[i + 2]!)) n++;
  return n / (data.length / 3);
}
const isBackground = (r: number, g: number, b: number) => [r, g, b].every((c, k) => Math.abs(c - BACKGROUND[k]!) <= 6);
const isPaper = (r: number, g: number, b: number) => r > 200 && g > 200 && b > 200;

describe('GET /report', () => {
  let st: Stack;
  const report = async (params: Record<string, string>, headers: Record<string, string> = { 'X-Auth-Token': '-' }) => {
    const q = new URLSearchParams({ ...params, ...(params.url?.startsWith('/') ? { url: st.g.url + params.url } : {}) });
    const res = await fetch(`${st.s.url}/report?${q}`, { headers });
    const body = Buffer.from(await res.arrayBuffer());
    return { status: res.status, headers: res.headers, body, json: () => JSON.parse(body.toString()) };
  };
  before(async () => {
    st = await startStack({ POOL_SIZE: '1' });
  });
  after(() => st?.stop());

  test('a 37-panel board: header with title, absolute range in the asked timezone, variables and when; page numbers; every panel once; no panel cut', async () => {
    st.g.resetStats();
    const asked = Date.now();
    const r = await report({ url: '/d/big/big-board?orgId=1&from=now-24h&to=now&var-host=web-1&var-host=web-2&var-host=web-3', timezone: 'Europe/Berlin', expandRows: 'true' });
    const answered = Date.now();
    assert.equal(r.status, 200, r.body.toString().slice(0, 300));
    assert.equal(r.headers.get('content-type'), 'application/pdf');
    assert.equal(r.headers.get('x-panelshot-settled'), 'true');

    // The browser was given the absolute range, in kiosk mode, with the reader's timezone.
    const range = loadedRange(st);
    assert.equal(range.to - range.from, 24 * 3600_000, 'now-24h..now');
    assert.ok(range.to >= asked - 1000 && range.to <= answered, 'to is the moment of the request');
    assert.equal(range.timezone, 'Europe/Berlin');
    assert.ok(range.kiosk, 'kiosk mode');
    const day = (ms: number) => wallClock(ms, 'Europe/Berlin').slice(0, 10).replace(/-/g, '');
    assert.match(r.headers.get('content-disposition') ?? '', new RegExp(`^inline; filename="big-board-${day(range.from)}-\\d{4}-${day(range.to)}-\\d{4}\\.pdf"$`));

    const info = pdfInfo(r.body);
    assert.ok(Math.abs(info.width - 842.4) < 2 && Math.abs(info.height - 595.4) < 2, `A4 landscape, got ${info.width}×${info.height}`);
    assert.ok(info.pages >= 6 && info.pages <= 9, `${info.pages} pages`);
    const text = pdfText(r.body);
    assert.equal(text.length, info.pages);
    const rangeText = `${wallClock(range.from, 'Europe/Berlin')} – ${wallClock(range.to, 'Europe/Berlin')} Europe/Berlin (UTC+`;
    text.forEach((page, i) => {
      const lines = page.split('\n').filter((l) => l.trim());
      const head = lines.slice(0, 2).join('\n');
      assert.match(head, /^\s*Big board\s/, `page ${i + 1} starts with the title`);
      assert.ok(head.includes(rangeText), `page ${i + 1} names the range ${rangeText}: ${head}`);
      assert.match(head, /host: web-1, web-2, web-3/, `page ${i + 1} names the variables`);
      assert.match(head, new RegExp(`Made ${wallClock(asked, 'Europe/Berlin').slice(0, 10)} \\d\\d:\\d\\d Europe/Berlin`), `page ${i + 1} says when it was made`);
      assert.match(lines.at(-1)!, new RegExp(`Page ${i + 1} of ${info.pages}\\s*$`), `page ${i + 1} is numbered`);
    });
    const all = text.join('\n');
    for (const t of ALL_PANELS) assert.equal(all.match(new RegExp(`${t}(?![\\d])`, 'g'))?.length, 1, `${t} appears once`);
    assert.doesNotMatch(all, /Home › Dashboards/, 'no nav bar');

    // Pixels: the header and footer stay on white paper (nothing of the dashboard under
    // them), and no page but the last ends inside a panel.
    const pages = pdfPages(r.body, PAGE.width);
    for (let i = 0; i < pages.length; i++) {
      assert.ok((await rowShare(pages[i]!, 4, isPaper)) > 0.99, `page ${i + 1}: paper above the header`);
      assert.ok((await rowShare(pages[i]!, PAGE.height - 4, isPaper)) > 0.99, `page ${i + 1}: paper below the footer`);
      assert.ok((await rowShare(pages[i]!, PAGE.top + 3, (r, g, b) => !isPaper(r, g, b))) > 0.99, `page ${i + 1}: the dashboard starts below the header`);
      if (i < pages.length - 1) {
        const share = await rowShare(pages[i]!, PAGE.height - PAGE.bottom - 2, isBackground);
        assert.ok(share > 0.98, `page ${i + 1} ends inside a panel (${(share * 100).toFixed(1)} % background in its last row)`);
      }
    }
  });

  test('rounding happens in the reader\'s timezone: now-1d/d .. now-1d/d is yesterday, midnight to midnight, in New York', async () => {
    st.g.resetStats();
    const r = await report({ url: '/d/big/big-board?from=now-1d/d&to=now-1d/d', timezone: 'America/New_York', 'pdf.format': 'letter', 'pdf.landscape': 'false' });
    assert.equal(r.status, 200, r.body.toString().slice(0, 300));
    const range = loadedRange(st);
    assert.equal(wallClock(range.from, 'America/New_York').slice(11), '00:00');
    assert.equal(wallClock(range.to, 'America/New_York').slice(11), '23:59:59');
    assert.ok(range.to - range.from > 22 * 3600_000 && range.to - range.from < 26 * 3600_000);
    const info = pdfInfo(r.body);
    assert.ok(Math.abs(info.width - 612) < 2 && Math.abs(info.height - 792) < 2, `letter portrait, got ${info.width}×${info.height}`);
    const head = pdfText(r.body)[0]!;
    assert.ok(head.includes(`${wallClock(range.from, 'America/New_York')} – ${wallClock(range.to, 'America/New_York')} America/New_York (UTC-`), head.slice(0, 400));
  });

  test('without from/to or timezone, the dashboard\'s saved range and timezone apply', async () => {
    st.g.resetStats();
    const r = await report({ url: '/d/utc-board/dashboard-utc-board' });
    assert.equal(r.status, 200, r.body.toString().slice(0, 300));
    const range = loadedRange(st);
    assert.equal(range.to - range.from, 2 * 86400_000, 'the saved now-2d..now');
    assert.equal(range.timezone, 'UTC');
    const head = pdfText(r.body)[0]!.split('\n').slice(0, 3).join('\n');
    assert.match(head, /Dashboard utc-board/);
    assert.ok(head.includes(`${wallClock(range.from, 'UTC')} – ${wallClock(range.to, 'UTC')} UTC`), head);
    for (const t of titles('Panel', 4)) assert.match(pdfText(r.body).join('\n'), new RegExp(t));
    // The status page lists the report as what it is.
    const recent = ((await (await st.get('/status.json')).json()) as { recent: { via: string; format: string }[] }).recent;
    assert.equal(recent.find((e) => e.via === 'report')?.format, 'pdf');
  });

  test('a dashboard that never settles still gets its report by the deadline, marked unsettled', async () => {
    const t = Date.now();
    const r = await report({ url: '/d/ten/ten-panels?animation=forever', timeout: '6' });
    assert.equal(r.status, 200, r.body.toString().slice(0, 300));
    assert.ok(Date.now() - t < 6000, `answered after ${Date.now() - t} ms`);
    assert.equal(r.headers.get('x-panelshot-settled'), 'false');
    const text = pdfText(r.body);
    assert.match(text[0]!, /Ten panels/);
    assert.match(text.at(-1)!, new RegExp(`Page ${text.length} of ${text.length}\\s*$`));
  });

  test('bad requests get a 4xx JSON that says what is wrong, before any render', async () => {
    st.g.resetStats();
    for (const [params, status, message] of [
      [{}, 400, /url is required/],
      [{ url: '/d-solo/big/big-board?panelId=2' }, 400, /url must be a dashboard URL/],
      [{ url: 'http://example.com/d/big/x' }, 403, /not on Grafana's origin/],
      [{ url: '/d/big/big-board?from=yesterday' }, 400, /from=yesterday is not a time Grafana understands/],
      [{ url: '/d/big/big-board?from=now&to=now-1h' }, 400, /ends before it starts/],
      [{ url: '/d/big/big-board?from=now-1y/fy' }, 400, /fiscal unit/],
      [{ url: '/d/big/big-board', timezone: 'Mars/Olympus' }, 400, /timezone Mars\/Olympus is unknown/],
      [{ url: '/d/big/big-board', 'pdf.format': 'b5' }, 400, /pdf\.format=b5 is unknown/],
      [{ url: '/d/big/big-board', height: '500' }, 400, /height is not accepted by \/report/],
      [{ url: '/d/big/big-board', renderKey: 'abc', domain: '127.0.0.1' }, 400, /renderKey is not accepted by \/report/],
      [{ url: '/d/big/big-board', encoding: 'png' }, 400, /encoding=png is not served by \/report/],
      [{ url: '/d/big/big-board', width: '0' }, 400, /width must be between/],
      [{ url: '/d/missing-board/x' }, 404, /does not exist/],
    ] as [Record<string, string>, number, RegExp][]) {
      const r = await report(params);
      assert.equal(r.status, status, `${JSON.stringify(params)}: ${r.body.toString().slice(0, 200)}`);
      assert.match(r.json().error, message, JSON.stringify(params));
    }
    assert.equal(st.g.stats.pageLoads.length, 0, 'no page was loaded for a bad request');
  });
});

describe('GET /report with a service-account token', () => {
  test('the API call and the page both use the token; the token is never logged', async () => {
    const token = 'glsa_standin_0123456789abcdef';
    const st = await startStack({ GRAFANA_USER: '', GRAFANA_PASS: '', GRAFANA_TOKEN: token, AUTH_TOKEN: 'report-secret' });
    try {
      const q = new URLSearchParams({ url: `${st.g.url}/d/big/big-board?from=now-1h&to=now`, timezone: 'UTC' });
      const denied = await fetch(`${st.s.url}/report?${q}`);
      assert.equal(denied.status, 401, 'AUTH_TOKEN guards /report like /render');
      const res = await fetch(`${st.s.url}/report?${q}`, { headers: { 'X-Auth-Token': 'report-secret' } });
      const body = Buffer.from(await res.arrayBuffer());
      assert.equal(res.status, 200, body.toString().slice(0, 300));
      assert.match(pdfText(body)[0]!, /Big board/);
      assert.deepEqual([...new Set(st.g.stats.pageLoads.map((p) => p.auth))], ['token']);
      assert.ok(!st.logs.some((l) => l.includes(token) || l.includes('report-secret')), 'no secret in the log');
    } finally {
      await st.stop();
    }
  });
});

describe('Grafana time syntax (src/render/timeRange.ts)', () => {
  const now = DateTime.fromISO('2026-03-29T01:30:15.250Z') as DateTime<true>;
  const at = (raw: string, zone: string, roundUp = false) => resolveTime(raw, zone, now, roundUp, 'from').toUTC().toISO();
  test('relative times, rounding down and up, in the zone', () => {
    assert.equal(at('now', 'UTC'), '2026-03-29T01:30:15.250Z');
    assert.equal(at('now-6h', 'UTC'), '2026-03-28T19:30:15.250Z');
    assert.equal(at('now-h', 'UTC'), '2026-03-29T00:30:15.250Z');
    assert.equal(at('now/d', 'UTC'), '2026-03-29T00:00:00.000Z');
    assert.equal(at('now/d', 'UTC', true), '2026-03-29T23:59:59.999Z');
    // Berlin switches to summer time at 02:00 local on 2026-03-29: that day has 23 hours.
    assert.equal(at('now/d', 'Europe/Berlin'), '2026-03-28T23:00:00.000Z');
    assert.equal(at('now/d', 'Europe/Berlin', true), '2026-03-29T21:59:59.999Z');
    assert.equal(at('now-1M/M', 'UTC'), '2026-02-01T00:00:00.000Z');
    assert.equal(at('now+2d-3h', 'UTC'), '2026-03-30T22:30:15.250Z');
    assert.equal(at('now/w', 'UTC'), '2026-03-23T00:00:00.000Z');
  });
  test('absolute times', () => {
    assert.equal(at('1774747815250', 'UTC'), '2026-03-29T01:30:15.250Z');
    assert.equal(at('20260101', 'Europe/Berlin'), '2025-12-31T23:00:00.000Z');
    assert.equal(at('2026-01-01T12:00:00Z', 'Europe/Berlin'), '2026-01-01T12:00:00.000Z');
    assert.equal(at('2026-01-01 12:00:00', 'Europe/Berlin'), '2026-01-01T11:00:00.000Z');
  });
  test('junk is a 400 naming the parameter', () => {
    for (const raw of ['now-', 'now-6x', 'tomorrow', 'now/2d', '']) assert.throws(() => resolveTime(raw, 'UTC', now, false, 'from'), /from=.* is not a time Grafana understands/, raw);
    assert.throws(() => resolveRange('now', 'now-1h', 'UTC', now), /ends before it starts/);
  });
});

// The core, end to end: real Chromium and chromedriver from the system, the real service
// over HTTP, and the Grafana stand-in on 127.0.0.1. Nothing is mocked.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { colourCount, equalShare, pngSize, startStack, type Stack } from './support/stack';
import { ReferenceCamera } from './support/reference';

const PANEL = '/d-solo/abc123/node-exporter?orgId=1&panelId=2&from=now-6h&to=now';

describe('GET /render against the Grafana stand-in (session login)', () => {
  let st: Stack;
  let camera: ReferenceCamera;
  before(async () => {
    st = await startStack({ POOL_SIZE: '2' });
    camera = await ReferenceCamera.open();
  });
  after(async () => {
    await camera?.close();
    await st?.stop();
  });

  test('renders the finished chart at the requested size, equal to the settled page', async () => {
    const r = await st.render({ url: PANEL, width: '1000', height: '500' });
    assert.equal(r.status, 200, r.body.toString().slice(0, 300));
    assert.equal(r.headers.get('content-type'), 'image/png');
    assert.equal(r.headers.get('x-panelshot-settled'), 'true');
    assert.match(r.headers.get('server-timing') ?? '', /queue;dur=\d+.*stable;dur=\d+.*total;dur=\d+/);
    assert.deepEqual(await pngSize(r.body), { width: 1000, height: 500, format: 'png' });
    const reference = await camera.shoot(st.g, PANEL, 1000, 500, 1);
    const share = await equalShare(r.body, reference);
    assert.ok(share > 0.999, `only ${(share * 100).toFixed(2)} % of the pixels equal the settled page`);
    // A spinner or empty frame has a handful of colours; the drawn chart has hundreds.
    assert.ok((await colourCount(r.body)) > 100);
  });

  test('honours deviceScaleFactor, including fractions and scaling down', async () => {
    for (const [w, h, scale, ew, eh] of [
      [800, 400, '2', 1600, 800],
      [333, 251, '1.5', 500, 377],
      [1000, 500, '0.5', 500, 250],
      [640, 300, '1.000000', 640, 300],
    ] as const) {
      const r = await st.render({ url: PANEL, width: String(w), height: String(h), deviceScaleFactor: scale });
      assert.equal(r.status, 200, r.body.toString().slice(0, 300));
      assert.deepEqual(await pngSize(r.body), { width: ew, height: eh, format: 'png' }, `scale ${scale}`);
    }
  });

  test('many renders share one Grafana login, also when concurrent', async () => {
    st.g.resetStats();
    const before = st.g.stats.logins;
    const results = await Promise.all([1, 2, 3, 4].map((p) => st.render({ url: `/d-solo/abc123/x?panelId=${p}` })));
    for (const r of results) assert.equal(r.status, 200);
    assert.equal(st.g.stats.logins, before, 'the cached session from earlier renders is reused');
    assert.ok(st.g.stats.queries.every((q) => q.auth === 'session'));
  });

  test('a session Grafana forgot is renewed with one new login, transparently', async () => {
    const logins = st.g.stats.logins;
    st.g.expireSessions();
    const results = await Promise.all([1, 2].map((p) => st.render({ url: `/d-solo/abc123/x?panelId=${p}` })));
    for (const r of results) assert.equal(r.status, 200, r.body.toString().slice(0, 300));
    assert.equal(st.g.stats.logins, logins + 1, 'two failing renders cause exactly one new login');
  });

  test('the renderKey path carries only the renderKey, never our session', async () => {
    st.g.resetStats();
    const key = st.g.issueRenderKey();
    const r = await st.render({ url: PANEL, renderKey: key, domain: '127.0.0.1', width: '600', height: '300' });
    assert.equal(r.status, 200, r.body.toString().slice(0, 300));
    assert.deepEqual(await pngSize(r.body), { width: 600, height: 300, format: 'png' });
    assert.equal(st.g.stats.logins, 0);
    assert.ok(st.g.stats.pageLoads.length > 0);
    assert.deepEqual([...new Set(st.g.stats.pageLoads.map((p) => p.auth))], ['renderKey']);
    assert.deepEqual([...new Set(st.g.stats.queries.map((q) => q.auth))], ['renderKey']);
  });

  test('a renderKey Grafana does not accept is a clear 502, not a picture of the login form', async () => {
    const r = await st.render({ url: PANEL, renderKey: 'notAKeyGrafanaIssued123', domain: '127.0.0.1' });
    assert.equal(r.status, 502);
    assert.equal(r.json().code, 'grafana_auth_rejected');
    assert.match(r.json().error, /renderKey.*callback_url/);
  });

  test('a domain that cannot carry the renderKey to the page is refused up front', async () => {
    const r = await st.render({ url: PANEL, renderKey: st.g.issueRenderKey(), domain: 'grafana.example.com' });
    assert.equal(r.status, 400);
    assert.match(r.json().error, /domain=grafana\.example\.com does not match the page host 127\.0\.0\.1/);
  });

  test('timezone and Accept-Language reach the page', async () => {
    st.g.resetStats();
    const r = await st.render({ url: PANEL, timezone: 'Asia/Tokyo' }, { 'X-Auth-Token': '-', 'Accept-Language': 'de-DE,de;q=0.9' });
    assert.equal(r.status, 200);
    const q = st.g.stats.queries.at(-1)!;
    assert.equal(q.timezone, 'Asia/Tokyo');
    assert.equal(q.language, 'de-DE');
    // The next render without them must not inherit them.
    st.g.resetStats();
    assert.equal((await st.render({ url: PANEL })).status, 200);
    assert.notEqual(st.g.stats.queries.at(-1)!.timezone, 'Asia/Tokyo');
    assert.notEqual(st.g.stats.queries.at(-1)!.language, 'de-DE');
  });

  test('height=-1 renders the whole dashboard', async () => {
    const r = await st.render({ url: '/d/abc123/overview?orgId=1', width: '800', height: '-1' });
    assert.equal(r.status, 200, r.body.toString().slice(0, 300));
    const size = await pngSize(r.body);
    assert.equal(size.width, 800);
    assert.ok(size.height > 1500, `full page should be taller than 1500 px, got ${size.height}`);
  });

  test('X-Auth-Token must match AUTH_TOKEN', async () => {
    for (const headers of [{}, { 'X-Auth-Token': 'wrong' }, { 'X-Auth-Token': '' }] as Record<string, string>[]) {
      const r = await st.render({ url: PANEL }, headers);
      assert.equal(r.status, 401);
      assert.equal(r.json().code, 'unauthorized');
      assert.match(r.json().error, /X-Auth-Token/);
    }
  });

  test('pages off Grafana\'s origin are refused with 403', async () => {
    for (const url of ['http://127.0.0.2:1/d-solo/x', 'https://example.com/', `${st.g.url.replace('http:', 'https:')}/d-solo/x`, 'javascript:alert(1)', 'file:///etc/passwd', 'chrome://version']) {
      const r = await st.render({ url });
      assert.equal(r.status, 403, url);
      assert.equal(r.json().code, 'forbidden_url');
    }
  });

  test('a page that redirects off Grafana\'s origin is refused', async () => {
    const r = await st.render({ url: `/goto?to=${encodeURIComponent('http://127.0.0.2:9/')}` });
    assert.equal(r.status, 403, r.body.toString().slice(0, 300));
    assert.match(r.json().error, /redirected to another origin/);
  });

  test('each bad parameter gets a 400 that names it', async () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{}, /url is required/],
      [{ url: 'not a url' }, /url is not an absolute URL/],
      [{ url: PANEL, width: 'abc' }, /width must be a whole number/],
      [{ url: PANEL, width: '0' }, /width must be between 1 and/],
      [{ url: PANEL, width: '99999' }, /width must be between/],
      [{ url: PANEL, height: '-5' }, /height must be a whole number/],
      [{ url: PANEL, height: '1e3' }, /height must be a whole number/],
      [{ url: PANEL, deviceScaleFactor: 'x' }, /deviceScaleFactor must be a number/],
      [{ url: PANEL, deviceScaleFactor: '0' }, /deviceScaleFactor must be between/],
      [{ url: PANEL, deviceScaleFactor: '50' }, /deviceScaleFactor must be between/],
      [{ url: PANEL, timeout: '-1' }, /timeout must be a number/],
      [{ url: PANEL, timeout: '0' }, /timeout must be between/],
      [{ url: PANEL, timeout: '100000' }, /timeout must be between/],
      [{ url: PANEL, timezone: 'Mars/Olympus' }, /timezone Mars\/Olympus is unknown/],
      [{ url: PANEL, timezone: '../../etc' }, /timezone is malformed/],
      [{ url: PANEL, encoding: 'gif' }, /encoding=gif is not served/],
      [{ url: PANEL, encoding: 'csv' }, /encoding=csv is not served on \/render.*\/render\/csv/],
      [{ url: PANEL, renderKey: 'abc;Path=/' , domain: '127.0.0.1' }, /renderKey is malformed/],
      [{ url: PANEL, renderKey: 'abc' }, /renderKey needs domain/],
      [{ url: PANEL, width: '4000', height: '8000', deviceScaleFactor: '4' }, /MAX_PIXELS/],
    ];
    for (const [params, message] of cases) {
      const r = await st.render(params);
      assert.equal(r.status, 400, JSON.stringify(params));
      assert.equal(r.json().code, 'bad_request');
      assert.match(r.json().error, message, JSON.stringify(params));
    }
    const twice = await st.get(`/render?url=${encodeURIComponent(st.g.url + PANEL)}&width=1&width=2`, { 'X-Auth-Token': '-' });
    assert.equal(twice.status, 400);
    assert.match((await twice.json()).error, /width is given more than once/);
  });

  test('/render/version answers without a token, with the protocol version we serve', async () => {
    const r = await st.get('/render/version');
    assert.equal(r.status, 200);
    const body = await r.json();
    assert.equal(body.version, '3.10.0');
    assert.match(body.panelshot, /^\d+\.\d+\.\d+/);
  });

  test('/healthz is up; unknown routes are a JSON 404', async () => {
    const h = await st.get('/healthz');
    assert.equal(h.status, 200);
    assert.equal((await h.json()).status, 'ok');
    const n = await st.get('/nope');
    assert.equal(n.status, 404);
    assert.match((await n.json()).error, /no route/);
  });
});

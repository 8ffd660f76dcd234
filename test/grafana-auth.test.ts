// How panelshot authenticates to Grafana: a wrong password, token rotation (Grafana >= 10.3)
// and the service-account token, each against the stand-in with a real Chrome.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { otherHost } from './support/listener';
import { startStandin, type Standin } from './standin/grafana';
import { pngSize, startStack, type Stack } from './support/stack';

const PANEL = '/d-solo/abc123/node-exporter?orgId=1&panelId=2';

describe('a wrong Grafana password', () => {
  let st: Stack;
  before(async () => {
    st = await startStack({ GRAFANA_PASS: 'wrong-password', GRAFANA_LOGIN_BACKOFF_MS: '60000' }, {}, { ready: false });
  });
  after(() => st?.stop());

  test('is a clear 502 that names the cause, and is not retried in a loop', async () => {
    const first = await st.render({ url: PANEL });
    assert.equal(first.status, 502);
    assert.equal(first.json().code, 'grafana_login_failed');
    assert.match(first.json().error, /Grafana rejected the credentials.*GRAFANA_USER\/GRAFANA_PASS/);
    assert.ok(!first.json().error.includes('wrong-password'), 'the password never appears in an answer');
    assert.ok(Number(first.headers.get('retry-after')) > 0);

    const started = Date.now();
    const more = await Promise.all(Array.from({ length: 10 }, () => st.render({ url: PANEL })));
    for (const r of more) {
      assert.equal(r.status, 502);
      assert.equal(r.json().code, 'grafana_login_failed');
    }
    assert.ok(Date.now() - started < 5000, 'answers during the back-off come at once');
    assert.equal(st.g.stats.failedLogins, 1, 'one login attempt for eleven renders: the Grafana account is not locked');
    assert.ok(!st.logs.some((l) => l.includes('wrong-password')), 'the password never appears in the log');
  });
});

describe('Grafana >= 10.3 token rotation', () => {
  let st: Stack;
  before(async () => {
    // Grafana asks for rotation after 4 s here; its expiry cookie says so.
    st = await startStack({}, { rotateAfterMs: 4000, sessionExpirySeconds: 4 });
  });
  after(() => st?.stop());

  test('the session is rotated before Grafana demands it, without a new login', async () => {
    assert.equal((await st.render({ url: PANEL })).status, 200);
    assert.equal(st.g.stats.logins, 1);
    await new Promise((r) => setTimeout(r, 3500));
    const r = await st.render({ url: PANEL });
    assert.equal(r.status, 200, r.body.toString().slice(0, 300));
    assert.equal(st.g.stats.rotations, 1);
    assert.equal(st.g.stats.logins, 1);
  });
});

describe('a service-account token (GRAFANA_TOKEN)', () => {
  let st: Stack;
  let foreign: Standin;
  before(async () => {
    foreign = await startStandin();
    st = await startStack({ GRAFANA_USER: '', GRAFANA_PASS: '', GRAFANA_TOKEN: 'glsa_standin_0123456789abcdef' });
  });
  after(async () => {
    await st?.stop();
    await foreign?.close();
  });

  test('authenticates Grafana pages and queries, and never reaches another host', async () => {
    // Another host (localhost, not 127.0.0.1): requests to Grafana's host on another port are
    // stopped before they leave (test/origin-guard.test.ts); this one goes out, bare.
    const page = `${PANEL}&extra=${encodeURIComponent(`${otherHost(foreign.url)}/foreign`)}`;
    const r = await st.render({ url: page, width: '500', height: '250' });
    assert.equal(r.status, 200, r.body.toString().slice(0, 300));
    assert.deepEqual(await pngSize(r.body), { width: 500, height: 250, format: 'png' });
    assert.equal(st.g.stats.logins, 0);
    assert.deepEqual([...new Set(st.g.stats.pageLoads.map((p) => p.auth))], ['token']);
    assert.deepEqual([...new Set(st.g.stats.queries.map((q) => q.auth))], ['token']);
    assert.ok(foreign.stats.foreignAuthHeaders.length > 0, 'the page did call the other host');
    assert.deepEqual([...new Set(foreign.stats.foreignAuthHeaders)], [''], 'no Authorization header reached the other host');
    assert.ok(!st.logs.some((l) => l.includes('glsa_standin_0123456789abcdef')), 'the token never appears in the log');
  });

  test('a renderKey render after it carries no token', async () => {
    st.g.resetStats();
    const r = await st.render({ url: PANEL, renderKey: st.g.issueRenderKey(), domain: '127.0.0.1' });
    assert.equal(r.status, 200);
    assert.deepEqual([...new Set(st.g.stats.pageLoads.map((p) => p.auth))], ['renderKey']);
  });
});

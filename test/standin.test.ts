/**
 * HTTP-only checks of the Grafana stand-in (no Chrome): if these fail, every renderer
 * test built on the stand-in is meaningless.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startStandin, type Standin, type StandinOptions } from './standin/grafana';

async function withStandin(opts: StandinOptions, fn: (s: Standin) => Promise<void>): Promise<void> {
  const s = await startStandin(opts);
  try {
    await fn(s);
  } finally {
    await s.close();
  }
}

function get(s: Standin, path: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(s.url + path, { redirect: 'manual', headers });
}

function post(s: Standin, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(s.url + path, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** name → value of every Set-Cookie in the response. */
function setCookies(res: Response): Record<string, string> {
  const out: Record<string, string> = {};
  for (const c of res.headers.getSetCookie()) {
    const [pair] = c.split(';');
    const i = pair!.indexOf('=');
    out[pair!.slice(0, i)] = pair!.slice(i + 1);
  }
  return out;
}

async function login(s: Standin, user = 'admin', password = 'admin'): Promise<string> {
  const res = await post(s, '/login', { user, password });
  assert.equal(res.status, 200);
  const session = setCookies(res)['grafana_session'];
  assert.ok(session);
  return session;
}

const PANEL = '/d-solo/abc123/node-exporter?orgId=1&panelId=2&render=1';

function cookie(session: string): Record<string, string> {
  return { cookie: `grafana_session=${session}` };
}

test('login sets grafana_session and grafana_session_expiry', async () => {
  await withStandin({ sessionExpirySeconds: 600 }, async (s) => {
    const res = await post(s, '/login', { user: 'admin', password: 'admin' });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { message: string }).message, 'Logged in');
    const raw = res.headers.getSetCookie();
    assert.ok(raw.some((c) => /^grafana_session=[0-9a-f]{32}; Path=\/; Max-Age=2592000; HttpOnly; SameSite=Lax$/.test(c)));
    const expiryCookie = raw.find((c) => c.startsWith('grafana_session_expiry='));
    assert.ok(expiryCookie && !/HttpOnly/i.test(expiryCookie));
    const expiry = Number(setCookies(res)['grafana_session_expiry']);
    assert.ok(Math.abs(expiry - (Date.now() / 1000 + 600)) < 5);
    assert.equal(s.stats.logins, 1);

    const bad = await post(s, '/login', '{not json');
    assert.equal(bad.status, 400);
  });
});

test('wrong password is 401 and counted', async () => {
  await withStandin({}, async (s) => {
    const res = await post(s, '/login', { user: 'admin', password: 'nope' });
    assert.equal(res.status, 401);
    assert.deepEqual(await res.json(), { message: 'Invalid username or password' });
    assert.equal(res.headers.getSetCookie().length, 0);
    assert.equal(s.stats.failedLogins, 1);
    assert.equal(s.stats.logins, 0);

    s.setPassword('s3cret');
    assert.equal((await post(s, '/login', { user: 'admin', password: 'admin' })).status, 401);
    await login(s, 'admin', 's3cret');
  });
});

test('five failures lock the user out, even with the right password', async () => {
  await withStandin({}, async (s) => {
    for (let i = 0; i < 5; i++) {
      assert.equal((await post(s, '/login', { user: 'admin', password: `bad${i}` })).status, 401);
    }
    const res = await post(s, '/login', { user: 'admin', password: 'admin' });
    assert.equal(res.status, 401);
    assert.match(((await res.json()) as { message: string }).message, /too many consecutive incorrect login attempts/);
    assert.equal(s.stats.failedLogins, 6);
    assert.equal(s.stats.logins, 0);
  });
});

test('pages: no auth → 302 /login with redirect_to; session → 200 panel page', async () => {
  await withStandin({}, async (s) => {
    const anon = await get(s, PANEL);
    assert.equal(anon.status, 302);
    assert.equal(anon.headers.get('location'), '/login');
    assert.ok(setCookies(anon)['redirect_to']);

    const loginPage = await get(s, '/login');
    assert.equal(loginPage.status, 200);
    const loginHtml = await loginPage.text();
    assert.match(loginHtml, /<title>Grafana<\/title>/);
    assert.match(loginHtml, /<form class="login-form"/);
    assert.match(loginHtml, /Welcome to Grafana/);

    const session = await login(s);
    const page = await get(s, PANEL, cookie(session));
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /Panel 2/);
    assert.match(html, /<canvas>/);
    assert.match(html, /class="panel-loading"/);
    assert.match(html, /\/api\/ds\/query/);

    const dash = await get(s, '/d/abc123/node-exporter', cookie(session));
    assert.equal(dash.status, 200);
    assert.equal((await dash.text()).match(/<div class="panel" id="panel-/g)?.length, 4);

    assert.deepEqual(s.stats.pageLoads, [
      { path: '/d-solo/abc123/node-exporter', search: '?orgId=1&panelId=2&render=1', auth: 'none' },
      { path: '/login', search: '', auth: 'none' },
      { path: '/d-solo/abc123/node-exporter', search: '?orgId=1&panelId=2&render=1', auth: 'session' },
      { path: '/d/abc123/node-exporter', search: '', auth: 'session' },
    ]);
  });
});

test('renderKey cookie authenticates; an unknown one does not', async () => {
  await withStandin({}, async (s) => {
    const key = s.issueRenderKey();
    assert.ok(key.length >= 16);
    assert.equal((await get(s, PANEL, { cookie: `renderKey=${key}` })).status, 200);
    assert.equal((await get(s, PANEL, { cookie: 'renderKey=forged' })).status, 302);
    assert.deepEqual(
      s.stats.pageLoads.map((p) => p.auth),
      ['renderKey', 'none'],
    );
  });
});

test('service-account bearer token authenticates', async () => {
  await withStandin({ token: 'glsa_test' }, async (s) => {
    assert.equal((await get(s, PANEL, { authorization: 'Bearer glsa_test' })).status, 200);
    assert.equal((await get(s, PANEL, { authorization: 'Bearer wrong' })).status, 302);
    const me = await get(s, '/api/user', { authorization: 'Bearer glsa_test' });
    assert.deepEqual(await me.json(), { id: 1, login: 'admin' });
    const anon = await get(s, '/api/user');
    assert.equal(anon.status, 401);
    assert.deepEqual(await anon.json(), { message: 'Unauthorized' });
  });
});

test('dashboard model API: auth required, rows, a collapsed row, a repeat, 404 for missing', async () => {
  await withStandin({ token: 'glsa_test' }, async (s) => {
    const auth = { authorization: 'Bearer glsa_test' };
    assert.equal((await get(s, '/api/dashboards/uid/big')).status, 401);
    assert.equal((await get(s, '/api/dashboards/uid/missing-one', auth)).status, 404);
    const res = await get(s, '/api/dashboards/uid/big', auth);
    assert.equal(res.status, 200);
    const { dashboard, meta } = (await res.json()) as { dashboard: { title: string; panels: { id: number; type: string; collapsed?: boolean; repeat?: string; panels?: unknown[] }[] }; meta: { url: string } };
    assert.equal(dashboard.title, 'Big board');
    assert.equal(meta.url, '/d/big/big-board');
    const rows = dashboard.panels.filter((p) => p.type === 'row');
    assert.equal(rows.length, 4);
    assert.deepEqual(rows.filter((r) => r.collapsed).map((r) => r.panels?.length), [6]);
    assert.equal(dashboard.panels.filter((p) => p.repeat === 'host').length, 1);
    assert.equal(dashboard.panels.filter((p) => p.type !== 'row').length, 29);
    const ids = [...dashboard.panels, ...rows.flatMap((r) => (r.panels ?? []) as { id: number }[])].map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  });
});

test('rotation keeps token N-1 valid and invalidates N-2', async () => {
  await withStandin({}, async (s) => {
    const t0 = await login(s);
    const r1 = await post(s, '/api/user/auth-tokens/rotate', {}, cookie(t0));
    assert.equal(r1.status, 200);
    const t1 = setCookies(r1)['grafana_session']!;
    assert.ok(setCookies(r1)['grafana_session_expiry']);
    assert.notEqual(t1, t0);
    assert.equal((await get(s, PANEL, cookie(t0))).status, 200, 'N-1 still valid');
    assert.equal((await get(s, PANEL, cookie(t1))).status, 200);

    const r2 = await post(s, '/api/user/auth-tokens/rotate', {}, cookie(t1));
    const t2 = setCookies(r2)['grafana_session']!;
    assert.equal((await get(s, PANEL, cookie(t0))).status, 302, 'N-2 invalid');
    assert.equal((await get(s, PANEL, cookie(t1))).status, 200);
    assert.equal((await get(s, PANEL, cookie(t2))).status, 200);
    assert.equal(s.stats.rotations, 2);

    const anon = await post(s, '/api/user/auth-tokens/rotate', {}, cookie(t0));
    assert.equal(anon.status, 401);
    assert.deepEqual(await anon.json(), { message: 'Unauthorized' });
  });
});

test('rotateAfterMs: old sessions must be rotated before use', async () => {
  await withStandin({ rotateAfterMs: 100 }, async (s) => {
    const t0 = await login(s);
    assert.equal((await get(s, PANEL, cookie(t0))).status, 200);
    await new Promise((r) => setTimeout(r, 150));

    const page = await get(s, PANEL, cookie(t0));
    assert.equal(page.status, 302);
    assert.equal(page.headers.get('location'), '/user/auth-tokens/rotate');
    const api = await get(s, '/api/user', cookie(t0));
    assert.equal(api.status, 401);
    assert.equal(((await api.json()) as { messageId: string }).messageId, 'session.token.rotate');
    assert.equal((await get(s, '/user/auth-tokens/rotate')).status, 200);

    const r = await post(s, '/api/user/auth-tokens/rotate', {}, cookie(t0));
    assert.equal(r.status, 200);
    const t1 = setCookies(r)['grafana_session']!;
    assert.equal((await get(s, PANEL, cookie(t1))).status, 200);
  });
});

test('expireSessions forgets every session', async () => {
  await withStandin({}, async (s) => {
    const t = await login(s);
    assert.equal((await get(s, '/api/user', cookie(t))).status, 200);
    s.expireSessions();
    assert.equal((await get(s, '/api/user', cookie(t))).status, 401);
    assert.equal((await get(s, PANEL, cookie(t))).headers.get('location'), '/login');
  });
});

test('setDown answers every request with the given status until cleared', async () => {
  await withStandin({}, async (s) => {
    s.setDown(503);
    assert.equal((await get(s, '/api/health')).status, 503);
    const l = await post(s, '/login', { user: 'admin', password: 'admin' });
    assert.equal(l.status, 503);
    await l.text();
    assert.equal(s.stats.logins, 0);
    s.setDown(null);
    assert.deepEqual(await (await get(s, '/api/health')).json(), { database: 'ok', version: '11.5.2' });
  });
});

test('/api/ds/query needs auth, waits the delay and is recorded', async () => {
  await withStandin({ dataDelayMs: 50 }, async (s) => {
    const body = { panelId: '7', timezone: 'Europe/Berlin', language: 'de-DE', dataDelay: 250 };
    const anon = await post(s, '/api/ds/query', body);
    assert.equal(anon.status, 401);
    await anon.text();

    const t = await login(s);
    const started = Date.now();
    const res = await post(s, '/api/ds/query', body, { ...cookie(t), 'user-agent': 'standin-test/1' });
    assert.equal(res.status, 200);
    const data = (await res.json()) as { results: { A: { frames: { data: { values: number[][] } }[] } } };
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 240 && elapsed < 1500, `elapsed ${elapsed} ms`);
    const [times, values] = data.results.A.frames[0]!.data.values;
    assert.equal(times!.length, values!.length);
    assert.deepEqual(s.stats.queries, [
      { auth: 'session', timezone: 'Europe/Berlin', language: 'de-DE', panelId: '7', userAgent: 'standin-test/1' },
    ]);

    // Same panel → same data, other panel → other data; the default delay applies without dataDelay.
    const again = await post(s, '/api/ds/query', { panelId: '7' }, cookie(t));
    assert.deepEqual(await again.json(), data);
    const t2 = Date.now();
    const other = await post(s, '/api/ds/query', { panelId: '8' }, cookie(t));
    assert.ok(Date.now() - t2 < 240);
    assert.notDeepEqual(await other.json(), data);
  });
});

test('/foreign records the Authorization header; /goto redirects; /slow waits; 404 otherwise', async () => {
  await withStandin({}, async (s) => {
    const a = await get(s, '/foreign', { authorization: 'Bearer leaked' });
    assert.equal(await a.text(), 'ok');
    assert.equal(a.headers.get('access-control-allow-origin'), '*');
    await (await get(s, '/foreign')).text();
    assert.deepEqual(s.stats.foreignAuthHeaders, ['Bearer leaked', '']);

    const g = await get(s, '/goto?to=' + encodeURIComponent('http://example.invalid/x'));
    assert.equal(g.status, 302);
    assert.equal(g.headers.get('location'), 'http://example.invalid/x');

    const started = Date.now();
    assert.equal((await get(s, '/slow?ms=120')).status, 200);
    assert.ok(Date.now() - started >= 110);

    const nf = await get(s, '/nope');
    assert.equal(nf.status, 404);
    assert.deepEqual(await nf.json(), { message: 'Not found' });

    s.resetStats();
    assert.deepEqual(s.stats.foreignAuthHeaders, []);
  });
});

test('close() ends promptly even with answers still pending', async () => {
  const s = await startStandin({});
  const pending = get(s, '/slow?ms=60000').then(
    () => 'answered',
    () => 'aborted',
  );
  await new Promise((r) => setTimeout(r, 50));
  const started = Date.now();
  await s.close();
  assert.ok(Date.now() - started < 500);
  assert.equal(await pending, 'aborted');
});

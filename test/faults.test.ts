// Faults provoked for real: Chrome and chromedriver killed with SIGKILL or frozen with
// SIGSTOP mid-render, pages that never settle, Grafana down, recycling, overload, and the
// service itself stopped or killed — with the process table checked for leftovers.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { groupMembers } from '../src/browser/processes';
import { startStandin, type Standin } from './standin/grafana';
import { liveInGroups, ownedGroups, ownedProcesses, waitFor } from './support/processes';
import { pngSize, startStack, type Stack } from './support/stack';
import { spawnService } from './support/service';
import { freePort } from '../src/browser/driver';

const PANEL = '/d-solo/abc123/node-exporter?orgId=1&panelId=2';
const SLOW_PANEL = `${PANEL}&dataDelay=1500`;

function chromedriverOf(ownerPid = process.pid): number {
  const drivers = ownedProcesses(ownerPid).filter((p) => p.comm === 'chromedriver');
  assert.equal(drivers.length, 1, `expected one chromedriver, found ${JSON.stringify(drivers)}`);
  return drivers[0]!.pid;
}

/** The Chrome browser process: the chromium in chromedriver's group whose parent is chromedriver. */
function chromeBrowserOf(driverPid: number): number {
  const pid = groupMembers(driverPid).find((p) => {
    try {
      const stat = require('node:fs').readFileSync(`/proc/${p}/stat`, 'utf8') as string;
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === driverPid;
    } catch {
      return false;
    }
  });
  assert.ok(pid, 'Chrome browser process found');
  return pid;
}

describe('a Chrome that dies or hangs mid-render', () => {
  let st: Stack;
  before(async () => {
    st = await startStack({ POOL_SIZE: '1' });
  });
  after(() => st?.stop());

  for (const victim of ['chromedriver', 'chrome'] as const) {
    test(`kill -9 of ${victim}: a fast JSON 5xx or a retried PNG, then the pool serves again`, async () => {
      assert.equal((await st.render({ url: PANEL })).status, 200);
      await waitFor(() => st.s.pool.stats().idle === 1, 5000);
      const driver = chromedriverOf();
      const started = Date.now();
      const pending = st.render({ url: SLOW_PANEL, timeout: '20' });
      await new Promise((r) => setTimeout(r, 600));
      process.kill(victim === 'chromedriver' ? driver : chromeBrowserOf(driver), 'SIGKILL');
      const r = await pending;
      const took = Date.now() - started;
      if (r.status === 200) {
        assert.deepEqual(await pngSize(r.body), { width: 1000, height: 500, format: 'png' });
      } else {
        assert.ok(r.status >= 500, `status ${r.status}`);
        assert.equal(r.json().code, 'browser_failed');
      }
      assert.ok(took < 15_000, `answered in ${took} ms, well inside its 20 s timeout`);
      for (let i = 0; i < 3; i++) {
        const next = await st.render({ url: PANEL });
        assert.equal(next.status, 200, `render ${i} after the kill: ${next.body.toString().slice(0, 200)}`);
      }
      assert.ok(await waitFor(() => ownedProcesses(process.pid).filter((p) => p.comm === 'chromedriver').length === 1, 5000), 'the dead session was replaced, not duplicated');
      assert.ok(!ownedProcesses(process.pid).some((p) => p.pid === driver), 'the old chromedriver is gone');
    });
  }

  test('a frozen chromedriver (SIGSTOP) cannot hold a render past its timeout', async () => {
    await waitFor(() => st.s.pool.stats().idle === 1, 5000);
    const driver = chromedriverOf();
    const started = Date.now();
    const pending = st.render({ url: SLOW_PANEL, timeout: '4' });
    await new Promise((r) => setTimeout(r, 500));
    process.kill(driver, 'SIGSTOP');
    const r = await pending;
    const took = Date.now() - started;
    assert.ok(took < 5000, `answered after ${took} ms for a 4 s timeout`);
    assert.ok([200, 408, 503].includes(r.status), `status ${r.status}: ${r.body.toString().slice(0, 200)}`);
    const next = await st.render({ url: PANEL });
    assert.equal(next.status, 200, next.body.toString().slice(0, 200));
    assert.ok(await waitFor(() => !ownedProcesses(process.pid).some((p) => p.pid === driver), 5000), 'the frozen chromedriver was killed');
  });
});

describe('pages that never settle', () => {
  let st: Stack;
  let strict: Stack;
  before(async () => {
    st = await startStack({ POOL_SIZE: '1' });
    strict = await startStack({ POOL_SIZE: '1', ON_TIMEOUT: 'error' });
  });
  after(async () => {
    await st?.stop();
    await strict?.stop();
  });

  test('end at the timeout with the best frame, marked as not settled', async () => {
    const started = Date.now();
    const r = await st.render({ url: `${PANEL}&animation=forever`, timeout: '3' });
    const took = Date.now() - started;
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-panelshot-settled'), 'false');
    assert.deepEqual(await pngSize(r.body), { width: 1000, height: 500, format: 'png' });
    assert.ok(took >= 2000 && took < 3100, `took ${took} ms for timeout=3`);
    assert.equal((await st.render({ url: PANEL })).headers.get('x-panelshot-settled'), 'true', 'the next render is unaffected');
  });

  test('answer 408 instead with ON_TIMEOUT=error', async () => {
    const r = await strict.render({ url: `${PANEL}&animation=forever`, timeout: '2' });
    assert.equal(r.status, 408);
    assert.equal(r.json().code, 'render_timeout');
    assert.equal((await strict.render({ url: PANEL })).status, 200);
  });

  test('a page that blocks its main thread past the timeout: 408 by the timeout, and the session is kept, not replaced as crashed', async () => {
    // DevTools evaluations wait for the page's main thread: the poll running at the deadline
    // is cut short by it. That is the render running out of time, not Chrome failing.
    const crashed = () => st.logs.filter((l) => l.includes('"event":"chrome_replace"')).length;
    const before = crashed();
    const started = Date.now();
    const r = await st.render({ url: `${PANEL}&freeze=6000`, timeout: '2' });
    const took = Date.now() - started;
    assert.equal(r.status, 408, r.body.toString().slice(0, 300));
    assert.equal(r.json().code, 'render_timeout');
    assert.ok(took < 3000, `answered after ${took} ms for a 2 s timeout`);
    // The same session serves the next render once its reset is through (the freeze ends).
    assert.equal((await st.render({ url: PANEL })).status, 200);
    assert.equal(crashed(), before, 'no session was replaced');
  });

  test('a page whose data never arrives still answers by the timeout', async () => {
    const started = Date.now();
    const r = await st.render({ url: `${PANEL}&dataDelay=60000`, timeout: '2' });
    assert.ok(Date.now() - started < 2100);
    assert.equal(r.status, 200, 'a picture in time beats none (alerting)');
    assert.equal(r.headers.get('x-panelshot-settled'), 'false');
  });
});

describe('recycling', () => {
  let st: Stack;
  before(async () => {
    st = await startStack({ POOL_SIZE: '1', RECYCLE_AFTER: '2' });
  });
  after(() => st?.stop());

  test('replaces a Chrome session after RECYCLE_AFTER renders without failing any', async () => {
    const started = () => new Set(st.logs.map((l) => JSON.parse(l)).filter((l) => l.event === 'chrome_started').map((l) => l.session));
    const before = started();
    for (let i = 0; i < 5; i++) {
      await waitFor(() => st.s.pool.stats().idle === 1, 10_000);
      const r = await st.render({ url: `/d-solo/abc/x?panelId=${i}` });
      assert.equal(r.status, 200);
    }
    await waitFor(() => st.s.pool.stats().idle === 1, 10_000);
    assert.ok(started().size - before.size >= 2, `5 renders at 2 per session started ${started().size - before.size} new sessions`);
    assert.ok(st.logs.filter((l) => l.includes('"reason":"recycle_renders"')).length >= 2);
  });
});

describe('memory-based recycling', () => {
  let st: Stack;
  before(async () => {
    // 1 MiB: every Chrome is over it, so each render recycles its session.
    st = await startStack({ POOL_SIZE: '1', RECYCLE_MEMORY_MB: '1', RECYCLE_AFTER: '0' });
  });
  after(() => st?.stop());

  test('replaces a Chrome whose memory passes RECYCLE_MEMORY_MB', async () => {
    for (let i = 0; i < 2; i++) {
      await waitFor(() => st.s.pool.stats().idle === 1, 10_000);
      assert.equal((await st.render({ url: PANEL })).status, 200);
    }
    assert.ok(st.logs.some((l) => l.includes('"reason":"recycle_memory"')));
  });
});

describe('Grafana down', () => {
  let st: Stack;
  before(async () => {
    st = await startStack({ POOL_SIZE: '1' });
  });
  after(() => st?.stop());

  test('a 5xx from Grafana is a clear 502, and panelshot recovers by itself', async () => {
    st.g.setDown(503);
    const direct = await st.render({ url: PANEL });
    assert.equal(direct.status, 502);
    assert.equal(direct.json().code, 'grafana_unreachable');
    assert.match(direct.json().error, /Grafana/);
    const keyed = await st.render({ url: PANEL, renderKey: 'k123', domain: '127.0.0.1' });
    assert.equal(keyed.status, 502, 'a picture of an error page is no answer');
    assert.match(keyed.json().error, /Grafana answered HTTP 503/);
    st.g.setDown(null);
    await new Promise((r) => setTimeout(r, 1100)); // the short back-off after an unreachable Grafana
    assert.equal((await st.render({ url: PANEL })).status, 200);
  });

  test('an unreachable Grafana is a 502 naming it', async () => {
    const closed = await freePort();
    const down = await startStack({ POOL_SIZE: '1', GRAFANA_URL: `http://127.0.0.1:${closed}` }, {}, { ready: false });
    try {
      const r = await down.render({ url: `http://127.0.0.1:${closed}${PANEL}` });
      assert.equal(r.status, 502);
      assert.match(r.json().error, /cannot reach Grafana at http:\/\/127\.0\.0\.1:\d+/);
      const keyed = await down.render({ url: `http://127.0.0.1:${closed}${PANEL}`, renderKey: 'k123', domain: '127.0.0.1' });
      assert.equal(keyed.status, 502);
      assert.match(keyed.json().error, /ERR_CONNECTION_REFUSED/);
      assert.equal((await down.get('/healthz')).status, 200, 'the service stays up');
    } finally {
      await down.stop();
    }
  });
});

describe('overload', () => {
  let st: Stack;
  before(async () => {
    st = await startStack({ POOL_SIZE: '2', QUEUE_MAX: '6', QUEUE_WAIT_MS: '15000' });
  });
  after(() => st?.stop());

  test('50 concurrent renders on 2 Chromes: each a correct PNG or a fast 429, none hangs, memory bounded', async () => {
    let peakMiB = 0;
    const sampler = setInterval(() => {
      const { pssKiB } = require('../src/browser/processes') as typeof import('../src/browser/processes');
      const kib = [process.pid, ...ownedProcesses(process.pid).map((p) => p.pid)].reduce((s, pid) => s + pssKiB(pid), 0);
      peakMiB = Math.max(peakMiB, kib / 1024);
    }, 250);
    const started = Date.now();
    const results = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        const t = Date.now();
        const r = await st.render({ url: `/d-solo/abc/x?panelId=${i}`, timeout: '30' });
        return { r, ms: Date.now() - t };
      }),
    );
    clearInterval(sampler);
    const ok = results.filter((x) => x.r.status === 200);
    const busy = results.filter((x) => x.r.status === 429);
    assert.equal(ok.length + busy.length, 50, `statuses: ${results.map((x) => x.r.status).join(',')}`);
    assert.ok(ok.length >= 8, `${ok.length} rendered (2 running + 6 queued at least)`);
    assert.ok(busy.length > 0, 'the queue bound was reached');
    for (const { r } of ok) assert.deepEqual(await pngSize(r.body), { width: 1000, height: 500, format: 'png' });
    for (const { r, ms } of busy) {
      assert.equal(r.json().code, 'too_busy');
      assert.ok(Number(r.headers.get('retry-after')) >= 1);
      assert.ok(ms < 2000, `a 429 must come at once, took ${ms} ms`);
    }
    assert.ok(Date.now() - started < 30_000, 'nobody waited past the timeout');
    assert.ok(peakMiB < 3072, `peak PSS of the test process + Chrome was ${peakMiB.toFixed(0)} MiB`);
    assert.equal((await st.render({ url: PANEL })).status, 200, 'serves normally afterwards');
  });

  test('identical concurrent requests share one render', async () => {
    st.g.resetStats();
    const url = '/d-solo/shared/x?panelId=77';
    const results = await Promise.all(Array.from({ length: 5 }, () => st.render({ url })));
    for (const r of results) assert.equal(r.status, 200);
    assert.equal(results.filter((r) => r.headers.get('x-panelshot-shared') === 'true').length, 4);
    assert.equal(st.g.stats.pageLoads.filter((p) => p.path.includes('/shared/')).length, 1, 'one page load for five requests');
    assert.ok(results.every((r) => r.body.equals(results[0]!.body)));
  });
});

describe('stopping the service', () => {
  let g: Standin;
  before(async () => {
    g = await startStandin();
  });
  after(() => g?.close());

  test('SIGTERM drains the in-flight render, quits every Chrome, exits 0, leaves no Chrome directory', async () => {
    // A temporary directory of its own, so what the service leaves there can be seen.
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'faults-tmp-'));
    const svc = await spawnService(g.url, undefined, { TMPDIR: tmp });
    try {
      const groups = ownedGroups(svc.proc.pid!);
      assert.ok(groups.length > 0, 'Chrome sessions carry the owner marker');
      const pending = fetch(`${svc.url}/render?url=${encodeURIComponent(g.url + SLOW_PANEL)}`, { headers: { 'X-Auth-Token': '-' } });
      await new Promise((r) => setTimeout(r, 400));
      svc.proc.kill('SIGTERM');
      const r = await pending;
      assert.equal(r.status, 200, 'the render in flight finished');
      const code = await svc.exited;
      assert.equal(code, 0);
      assert.ok(await waitFor(() => ownedProcesses(svc.proc.pid!).length === 0 && liveInGroups(groups).length === 0, 5000), `left: ${JSON.stringify(liveInGroups(groups))}`);
      assert.deepEqual(chromeDirs(tmp), [], 'every Chrome directory (profile, temporary files) was removed before the exit');
    } finally {
      svc.proc.kill('SIGKILL');
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  test('after SIGKILL of the service no Chrome survives, and a restart starts cleanly and removes its Chrome directories', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'faults-tmp-'));
    try {
      const svc = await spawnService(g.url, undefined, { TMPDIR: tmp });
      const pid = svc.proc.pid!;
      const groups = ownedGroups(pid);
      assert.ok(groups.length > 0 && liveInGroups(groups).length > 3, 'chromedriver and Chrome\'s processes are running');
      svc.proc.kill('SIGKILL');
      await svc.exited;
      assert.ok(await waitFor(() => ownedProcesses(pid).length === 0 && liveInGroups(groups).length === 0, 5000), `left after a crash: ${JSON.stringify(liveInGroups(groups))}`);
      const orphaned = chromeDirs(tmp);
      assert.ok(orphaned.length > 0 && orphaned.every((d) => d.startsWith(`panelshot-chrome-${pid}-`)), `a killed service cannot remove its Chrome directories: ${orphaned.join(', ')}`);
      const again = await spawnService(g.url, svc.port, { TMPDIR: tmp });
      const againGroups = ownedGroups(again.proc.pid!);
      try {
        assert.ok(!chromeDirs(tmp).some((d) => orphaned.includes(d)), `the restart removed the dead service's Chrome directories: ${chromeDirs(tmp).join(', ')}`);
        const r = await fetch(`${again.url}/render?url=${encodeURIComponent(g.url + PANEL)}`, { headers: { 'X-Auth-Token': '-' } });
        assert.equal(r.status, 200);
      } finally {
        again.proc.kill('SIGTERM');
        await again.exited;
      }
      assert.ok(await waitFor(() => ownedProcesses(again.proc.pid!).length === 0 && liveInGroups(againGroups).length === 0, 5000));
      assert.deepEqual(chromeDirs(tmp), []);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});

/** Chrome directories (panelshot-chrome-<pid>-…) in a temporary directory. */
function chromeDirs(tmp: string): string[] {
  return fs.readdirSync(tmp).filter((n) => n.startsWith('panelshot-chrome-'));
}


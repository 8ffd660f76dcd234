// No request that leaves Grafana's origin carries our cookie or token, and none is even
// sent to the hosts our cookies are scoped to (cookies ignore ports and schemes). A
// listener on another port of 127.0.0.1, the stand-in's host, records every request it
// sees: for a redirect, an <img>, a fetch(), a <form> post and a script navigation it must
// see none. Real Chromium and chromedriver, the real service, the stand-in; nothing mocked.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startStack, type Stack } from './support/stack';
import { EXPECTED_STATUS, probePath, startListener, type Listener } from './support/listener';

const TOKEN = 'glsa_standin_0123456789abcdef';

const MODES = [
  { mode: 'session', env: {} },
  { mode: 'renderKey', env: {} },
  { mode: 'token', env: { GRAFANA_USER: '', GRAFANA_PASS: '', GRAFANA_TOKEN: TOKEN } },
] as const;

for (const { mode, env } of MODES) {
  describe(`requests off Grafana's origin, ${mode} mode`, () => {
    let st: Stack;
    let listener: Listener;
    before(async () => {
      st = await startStack({ POOL_SIZE: '1', ...env });
      listener = await startListener();
    });
    after(async () => {
      await listener?.close();
      await st?.stop();
    });

    const params = (kind: string, to: string): Record<string, string> => ({
      url: probePath(kind, to),
      width: '400',
      height: '200',
      timeout: '15',
      ...(mode === 'renderKey' ? { renderKey: st.g.issueRenderKey(), domain: '127.0.0.1' } : {}),
    });

    for (const kind of Object.keys(EXPECTED_STATUS)) {
      test(`${kind}: the same host on another port sees no request at all`, async () => {
        listener.seen.length = 0;
        const r = await st.render(params(kind, `http://127.0.0.1:${listener.port}/leak-${kind}`));
        assert.equal(r.status, EXPECTED_STATUS[kind], r.body.toString().slice(0, 300));
        if (r.status === 403) assert.match(r.json().error, /origin/);
        assert.deepEqual(listener.seen, [], `the listener saw ${JSON.stringify(listener.seen)}`);
      });
    }

    test('control: the probe does send its request to another host, without our credentials', async () => {
      // localhost is not the host our cookies are for: the request goes out, bare.
      listener.seen.length = 0;
      const r = await st.render(params('img', `http://localhost:${listener.port}/control`));
      assert.equal(r.status, 200, r.body.toString().slice(0, 300));
      assert.equal(listener.seen.length, 1, 'the probe page did not send its request: this test could not see a leak');
      assert.deepEqual(listener.seen.map((s) => [s.path, s.cookie, s.authorization]), [['/control', '', '']]);
    });

    test('Grafana itself still gets what it needs', async () => {
      st.g.resetStats();
      const r = await st.render({ ...params('img', 'http://localhost:1/'), url: '/d-solo/abc/x?panelId=3' });
      assert.equal(r.status, 200, r.body.toString().slice(0, 300));
      assert.deepEqual([...new Set(st.g.stats.queries.map((q) => q.auth))], [mode]);
    });
  });
}

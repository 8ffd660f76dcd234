// What a render does when Chrome's navigation to the Grafana page fails.
//
// Mocked, and why: Chrome's side is a stand-in session that answers Page.navigate the way
// Chrome did in scripts/container-e2e.sh ({ errorText: 'net::ERR_NETWORK_CHANGED' }, the
// container's network settling). A real network change cannot be made here: Chrome fails
// requests on one only off loopback, and test servers bind to 127.0.0.1. A real Chrome's
// refused connection (the other branch) is covered end to end by faults.test.ts (Grafana down).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { BrowserSession } from '../src/browser/session';
import { PanelshotError } from '../src/errors';
import { openPage, type PageSpec } from '../src/render/capture';

function fakeChrome(answers: { errorText?: string }[]): { session: BrowserSession; navigations: string[] } {
  const navigations: string[] = [];
  const command = async (method: string, params: { url?: string } = {}) => {
    if (method === 'Page.navigate') {
      navigations.push(params.url ?? '');
      return answers.shift() ?? {};
    }
    // Asked by the failure path: where the tab ended up (Chrome's error page).
    if (method === 'Page.getFrameTree') return { frameTree: { frame: { url: 'chrome-error://chromewebdata/' } } };
    throw new Error(`unexpected command ${method}`);
  };
  const session = {
    setViewport: async () => undefined,
    setTimezone: async () => undefined,
    setLanguage: async () => undefined,
    setCookies: async () => undefined,
    guardOrigin: async () => undefined,
    direct: command,
    cdp: command,
    blockedOrigins: [],
  } as unknown as BrowserSession;
  return { session, navigations };
}

const spec = (): PageSpec => ({
  url: new URL('http://127.0.0.1:3000/d-solo/abc/x?panelId=2'),
  width: 600,
  scale: 1,
  cookies: [],
  allowedOrigin: 'http://127.0.0.1:3000',
  loginPaths: ['/login'],
  deadline: Date.now() + 10_000,
});

describe('a navigation that Chrome failed', () => {
  test('a network change (requests in flight dropped) is navigated again, once', async () => {
    const { session, navigations } = fakeChrome([{ errorText: 'net::ERR_NETWORK_CHANGED' }, {}]);
    await openPage(session, spec(), 300);
    assert.deepEqual(navigations, [spec().url.toString(), spec().url.toString()]);
  });

  test('a second network change in a row is the answer: 502 grafana_unreachable naming it', async () => {
    const { session, navigations } = fakeChrome([{ errorText: 'net::ERR_NETWORK_CHANGED' }, { errorText: 'net::ERR_NETWORK_CHANGED' }, {}]);
    await assert.rejects(openPage(session, spec(), 300), (e: unknown) => e instanceof PanelshotError && e.code === 'grafana_unreachable' && e.message.includes('ERR_NETWORK_CHANGED'));
    assert.equal(navigations.length, 2);
  });

  test('any other failure is not retried', async () => {
    const { session, navigations } = fakeChrome([{ errorText: 'net::ERR_CONNECTION_REFUSED' }, {}]);
    await assert.rejects(openPage(session, spec(), 300), (e: unknown) => e instanceof PanelshotError && e.code === 'grafana_unreachable' && e.message.includes('ERR_CONNECTION_REFUSED'));
    assert.equal(navigations.length, 1);
  });

  test('no second navigation once the render is out of time', async () => {
    const { session, navigations } = fakeChrome([{ errorText: 'net::ERR_NETWORK_CHANGED' }, {}]);
    await assert.rejects(openPage(session, { ...spec(), deadline: Date.now() - 1 }, 300), (e: unknown) => e instanceof PanelshotError && e.code === 'grafana_unreachable');
    assert.equal(navigations.length, 1);
  });
});

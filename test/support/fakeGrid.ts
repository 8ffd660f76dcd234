// A Selenium Grid 4 played by a small HTTP server (no Java, no Chrome): /status with one
// node of two slots, busy or free, of one browser (or no answer at all while `stalled`);
// POST /session hands out a session of a chosen browser; DELETE is recorded.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeGrid {
  url: string;
  /** While true, /status takes the request and never answers (a hub busy or hung). */
  stalled: boolean;
  statusCalls: number;
  sessionCalls: number;
  deleted: string[];
  close(): Promise<void>;
}

function slots(browserName: string, busy: boolean, n: number) {
  return Array.from({ length: n }, () => ({ session: busy ? { sessionId: 'someone-else' } : null, stereotype: { browserName, platformName: 'linux' } }));
}

/** A Grid /status with one node; POST /session hands out a session of `sessionBrowser`. */
export async function fakeGrid(o: { browser: string; busy: boolean; sessionBrowser?: string; stalled?: boolean }): Promise<FakeGrid> {
  const g = { statusCalls: 0, sessionCalls: 0, deleted: [] as string[], stalled: o.stalled ?? false };
  const srv = http.createServer((req, res) => {
    res.setHeader('Content-Type', 'application/json');
    if (req.url === '/status') {
      g.statusCalls++;
      if (g.stalled) return;
      return res.end(JSON.stringify({ value: { ready: !o.busy, message: 'fake', nodes: [{ uri: 'http://127.0.0.1:1', availability: 'UP', slots: slots(o.browser, o.busy, 2) }] } }));
    }
    if (req.method === 'POST' && req.url === '/session') {
      g.sessionCalls++;
      return res.end(JSON.stringify({ value: { sessionId: 'fake-1', capabilities: { browserName: o.sessionBrowser ?? o.browser } } }));
    }
    if (req.method === 'DELETE') {
      g.deleted.push(req.url ?? '');
      return res.end(JSON.stringify({ value: null }));
    }
    res.statusCode = 404;
    return res.end(JSON.stringify({ value: { error: 'unknown command', message: 'fake grid' } }));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return Object.assign(g, {
    url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => (srv.closeAllConnections(), srv.close(() => r()))),
  });
}

// A server on another loopback port that records every request it sees, with the headers
// that would carry our credentials: the place a leaked cookie or token would show up.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Seen {
  method: string;
  path: string;
  cookie: string;
  authorization: string;
}

export interface Listener {
  port: number;
  seen: Seen[];
  close(): Promise<void>;
}

export async function startListener(): Promise<Listener> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method ?? '', path: req.url ?? '', cookie: req.headers.cookie ?? '', authorization: req.headers.authorization ?? '' });
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain', 'access-control-allow-origin': '*' });
    res.end('recorded');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** The page path that makes the browser send one request to `to`, by `kind`. */
export function probePath(kind: string, to: string): string {
  return kind === 'redirect' ? `/goto?to=${encodeURIComponent(to)}` : `/probe?kind=${kind}&to=${encodeURIComponent(to)}`;
}

/** A navigation off the origin is refused; a subresource is dropped and the page still renders. */
export const EXPECTED_STATUS: Record<string, number> = { redirect: 403, navigate: 403, img: 200, fetch: 200, form: 200 };

/** The same server under another host name (localhost for 127.0.0.1): our cookies are not for it. */
export function otherHost(url: string): string {
  return url.replace('//127.0.0.1:', '//localhost:');
}

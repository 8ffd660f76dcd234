// GRAFANA_TOKEN must reach Grafana and nothing else: a dashboard can load images, iframes
// and scripts from anywhere, and Network.setExtraHTTPHeaders would hand our token to all of
// them. Instead, requests to Grafana's origin are paused with the DevTools Fetch domain and
// continued with the Authorization header; no other request is touched. Pausing needs
// DevTools *events*, which chromedriver's command endpoint does not carry, so this opens a
// DevTools websocket of its own (local Chrome: its debugger address; Grid: se:cdp).
import WebSocket from 'ws';

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
}

export class OriginAuthorizer {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private sessionId?: string;

  private constructor(
    private readonly ws: WebSocket,
    private readonly origin: string,
    private readonly header: string,
  ) {
    ws.on('message', (raw) => this.onMessage(String(raw)));
    ws.on('close', () => this.failAll(new Error('DevTools connection closed')));
    ws.on('error', () => undefined);
  }

  /** Attaches to the tab `targetId` and starts adding the header for `origin` only. */
  static async start(browserWsUrl: string, targetId: string, origin: string, token: string, timeoutMs = 5000): Promise<OriginAuthorizer> {
    const ws = new WebSocket(browserWsUrl, { perMessageDeflate: false, handshakeTimeout: timeoutMs });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', (e) => reject(new Error(`cannot open DevTools websocket: ${e.message}`)));
    });
    const a = new OriginAuthorizer(ws, origin, `Bearer ${token}`);
    try {
      const { sessionId } = (await a.send('Target.attachToTarget', { targetId, flatten: true })) as { sessionId: string };
      a.sessionId = sessionId;
      // The pattern narrows what Chrome pauses; onMessage checks the origin again exactly.
      await a.send('Fetch.enable', { patterns: [{ urlPattern: `${origin}/*`, requestStage: 'Request' }] }, sessionId);
      return a;
    } catch (e) {
      a.close();
      throw e;
    }
  }

  close(): void {
    this.ws.close();
    this.failAll(new Error('closed'));
  }

  private send(method: string, params: object, sessionId?: string): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }), (err) => {
        if (err) {
          this.pending.delete(id);
          reject(err);
        }
      });
    });
  }

  private onMessage(raw: string): void {
    let msg: { id?: number; result?: unknown; error?: { message: string }; method?: string; params?: Record<string, unknown>; sessionId?: string };
    try {
      msg = JSON.parse(raw);
    } catch {
      return;
    }
    if (msg.id !== undefined) {
      const p = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      if (msg.error) p?.reject(new Error(msg.error.message));
      else p?.resolve(msg.result);
      return;
    }
    if (msg.method === 'Fetch.requestPaused' && msg.sessionId === this.sessionId) {
      const { requestId, request } = msg.params as { requestId: string; request: { url: string; headers: Record<string, string> } };
      const headers = Object.entries(request.headers)
        .filter(([name]) => name.toLowerCase() !== 'authorization')
        .map(([name, value]) => ({ name, value }));
      if (sameOrigin(request.url, this.origin)) headers.push({ name: 'Authorization', value: this.header });
      this.send('Fetch.continueRequest', { requestId, headers }, this.sessionId).catch(() => undefined);
    }
  }

  private failAll(e: Error): void {
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }
}

function sameOrigin(url: string, origin: string): boolean {
  try {
    return new URL(url).origin === origin;
  } catch {
    return false;
  }
}

/** The browser-level DevTools websocket URL for a local Chrome's debugger address. */
export async function browserWebSocketUrl(debuggerAddress: string): Promise<string> {
  const res = await fetch(`http://${debuggerAddress}/json/version`, { signal: AbortSignal.timeout(3000) });
  const body = (await res.json()) as { webSocketDebuggerUrl?: string };
  if (!body.webSocketDebuggerUrl) throw new Error('Chrome did not report a DevTools websocket');
  return body.webSocketDebuggerUrl.replace('localhost', '127.0.0.1');
}

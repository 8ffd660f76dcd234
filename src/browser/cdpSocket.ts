// A minimal DevTools-protocol client over a websocket: commands with replies, and events.
// chromedriver's command endpoint carries commands for one tab only and no events; this is
// for the few things that need more (browser contexts, request interception).
import WebSocket from 'ws';

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
}

export interface CdpEvent {
  method: string;
  params: Record<string, unknown>;
  sessionId?: string;
}

export class CdpSocket {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Set<(e: CdpEvent) => void>();
  private readonly closeListeners: (() => void)[] = [];
  closed = false;

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (raw) => this.onMessage(String(raw)));
    ws.on('close', () => {
      this.closed = true;
      this.failAll(new Error('DevTools connection closed'));
      for (const l of this.closeListeners.splice(0)) l();
    });
    ws.on('error', () => undefined);
  }

  static async open(url: string, timeoutMs = 5000): Promise<CdpSocket> {
    const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: timeoutMs });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', (e) => reject(new Error(`cannot open DevTools websocket: ${e.message}`)));
    });
    return new CdpSocket(ws);
  }

  send<T = Record<string, unknown>>(method: string, params: object = {}, sessionId?: string, timeoutMs = 10_000): Promise<T> {
    if (this.closed) return Promise.reject(new Error('DevTools connection closed'));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`DevTools ${method} took longer than ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.ws.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }), (err) => {
        if (err) this.pending.get(id)?.reject(err);
      });
    });
  }

  /** Registers `listener` for every event; the function returned removes it again. */
  onEvent(listener: (e: CdpEvent) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /** Called once when the connection ends (Chrome died, or close() was called). */
  onClose(listener: () => void): void {
    if (this.closed) listener();
    else this.closeListeners.push(listener);
  }

  close(): void {
    this.closed = true;
    this.ws.close();
    this.failAll(new Error('closed'));
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
      else p?.resolve(msg.result ?? {});
      return;
    }
    if (msg.method) for (const l of this.listeners) l({ method: msg.method, params: msg.params ?? {}, sessionId: msg.sessionId });
  }

  private failAll(e: Error): void {
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }
}

/** The browser-level DevTools websocket URL for a local Chrome's debugger address. */
export async function browserWebSocketUrl(debuggerAddress: string): Promise<string> {
  const res = await fetch(`http://${debuggerAddress}/json/version`, { signal: AbortSignal.timeout(3000) });
  const body = (await res.json()) as { webSocketDebuggerUrl?: string };
  if (!body.webSocketDebuggerUrl) throw new Error('Chrome did not report a DevTools websocket');
  return body.webSocketDebuggerUrl.replace('localhost', '127.0.0.1');
}

// A minimal DevTools-protocol client over a websocket: commands with replies, and events.
// chromedriver's command endpoint carries commands for one tab only and no events; this is
// for the few things that need more (browser contexts, request interception).
import WebSocket from 'ws';

/**
 * A connection that is owed an answer and has heard nothing for SILENCE.afterMs is asked
 * one browser-level question (Browser.getVersion: the browser process answers it even while
 * a page's renderer is busy); no answer within SILENCE.probeMs and the connection is dead.
 * Needed because a dead peer is not always seen: Selenium Grid 4's hub (4.48) proxies se:cdp
 * over a websocket of its own to the node, and when a node is killed the hub noticed that
 * for some of those websockets only (those it wrote to afterwards). It kept the others and
 * our end of them open, silent, and a command sent just before the kill then waited for
 * the render's whole deadline (test/grid-hub.test.ts, docs/adr/0015-silent-devtools.md).
 */
export const SILENCE = { afterMs: 2000, probeMs: 5000 };

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
  /** When the peer last said anything (a reply or an event). */
  private lastHeard = Date.now();
  private silenceTimer?: NodeJS.Timeout;
  private probing = false;

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (raw) => {
      this.lastHeard = Date.now();
      this.onMessage(String(raw));
    });
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
      this.watchSilence();
    });
  }

  /** While answers are owed, checks that the peer has not gone silent (see SILENCE). */
  private watchSilence(): void {
    if (this.silenceTimer) return;
    this.silenceTimer = setInterval(() => {
      if (this.closed || this.pending.size === 0) {
        clearInterval(this.silenceTimer);
        this.silenceTimer = undefined;
        return;
      }
      if (this.probing || Date.now() - this.lastHeard < SILENCE.afterMs) return;
      this.probing = true;
      const silentSince = this.lastHeard;
      this.send('Browser.getVersion', {}, undefined, SILENCE.probeMs).then(
        () => (this.probing = false),
        () => {
          this.probing = false;
          if (this.closed || this.lastHeard !== silentSince) return;
          this.lost(new Error(`DevTools connection lost: no answer for ${Date.now() - silentSince} ms, not even to Browser.getVersion (Chrome, its machine or its Grid node is gone)`));
        },
      );
    }, Math.max(50, Math.floor(SILENCE.afterMs / 4)));
    this.silenceTimer.unref();
  }

  /** Gives up on a connection that went silent: every command owed an answer fails now. */
  private lost(e: Error): void {
    this.closed = true;
    this.failAll(e);
    this.ws.terminate();
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
    clearInterval(this.silenceTimer);
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

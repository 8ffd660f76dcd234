// GRAFANA_TOKEN must reach Grafana and nothing else: a dashboard can load images, iframes
// and scripts from anywhere, and Network.setExtraHTTPHeaders would hand our token to all of
// them. Instead, requests to Grafana's origin are paused with the DevTools Fetch domain and
// continued with the Authorization header; no other request is touched. Pausing needs
// DevTools *events*, which chromedriver's command endpoint does not carry, so this opens a
// DevTools websocket of its own (local Chrome: its debugger address; Grid: se:cdp).
import { CdpSocket } from './cdpSocket';

export class OriginAuthorizer {
  private constructor(private readonly socket: CdpSocket) {}

  /** Attaches to the tab `targetId` and starts adding the header for `origin` only. */
  static async start(browserWsUrl: string, targetId: string, origin: string, token: string): Promise<OriginAuthorizer> {
    const socket = await CdpSocket.open(browserWsUrl);
    try {
      const { sessionId } = await socket.send<{ sessionId: string }>('Target.attachToTarget', { targetId, flatten: true });
      const header = `Bearer ${token}`;
      socket.onEvent((e) => {
        if (e.method !== 'Fetch.requestPaused' || e.sessionId !== sessionId) return;
        const { requestId, request } = e.params as { requestId: string; request: { url: string; headers: Record<string, string> } };
        const headers = Object.entries(request.headers)
          .filter(([name]) => name.toLowerCase() !== 'authorization')
          .map(([name, value]) => ({ name, value }));
        if (sameOrigin(request.url, origin)) headers.push({ name: 'Authorization', value: header });
        socket.send('Fetch.continueRequest', { requestId, headers }, sessionId).catch(() => undefined);
      });
      // The pattern narrows what Chrome pauses; the handler checks the origin again exactly.
      await socket.send('Fetch.enable', { patterns: [{ urlPattern: `${origin}/*`, requestStage: 'Request' }] }, sessionId);
      return new OriginAuthorizer(socket);
    } catch (e) {
      socket.close();
      throw e;
    }
  }

  close(): void {
    this.socket.close();
  }
}

function sameOrigin(url: string, origin: string): boolean {
  try {
    return new URL(url).origin === origin;
  } catch {
    return false;
  }
}

// Our credentials reach Grafana's origin and nothing else, and nothing decides that after
// the fact. Cookies are scoped to a host, not to a port or a scheme: a page (or a redirect,
// an <img>, a fetch(), a <form> post) that goes to the same host on another port would
// carry our grafana_session or renderKey cookie there. And GRAFANA_TOKEN must be added to
// Grafana's requests only. So every request to a host our cookies would be sent to is
// paused with the DevTools Fetch domain before it leaves: requests to Grafana's exact
// origin continue (with the bearer token in token mode), all others on those hosts fail
// with BlockedByClient. Requests to unrelated hosts are not paused at all (they carry
// nothing of ours) and cost nothing.
//
// Pausing needs DevTools *events*, which chromedriver's command endpoint does not carry, so
// this keeps a DevTools websocket of its own per session (local Chrome: its debugger
// address; Grid: se:cdp), opened once and kept for the session's life.
import { CdpSocket } from './cdpSocket';

export interface GuardPolicy {
  /** The one origin requests may go to on the guarded hosts (GRAFANA_URL's). */
  origin: string;
  /** Domains of the cookies this render set (host or parent domain, as given to Network.setCookie). */
  cookieDomains: string[];
  /** GRAFANA_TOKEN, added as Authorization to `origin` only. */
  bearer?: string;
}

interface PausedRequest {
  requestId: string;
  request: { url: string; headers: Record<string, string> };
  resourceType?: string;
}

export class OriginGuard {
  private policy?: GuardPolicy;
  /** guardedDomains(policy), worked out once per render rather than per paused request. */
  private domains: string[] = [];
  /** The patterns Chrome pauses now (JSON), so a render with the same ones costs no command. */
  private enabled?: string;
  /** Origins of requests stopped since the last arm(), for the error message (no paths: they may hold secrets). */
  readonly blocked = new Set<string>();

  private constructor(
    /** The browser-level connection: the session also sends its browser commands here (downloads). */
    readonly socket: CdpSocket,
    private readonly sessionId: string,
  ) {
    socket.onEvent((e) => {
      if (e.method === 'Fetch.requestPaused' && e.sessionId === sessionId) this.decide(e.params as unknown as PausedRequest);
    });
  }

  /** Attaches to the tab `targetId`; nothing is paused until arm(). */
  static async open(browserWsUrl: string, targetId: string): Promise<OriginGuard> {
    const socket = await CdpSocket.open(browserWsUrl);
    try {
      const { sessionId } = await socket.send<{ sessionId: string }>('Target.attachToTarget', { targetId, flatten: true });
      return new OriginGuard(socket, sessionId);
    } catch (e) {
      socket.close();
      throw e;
    }
  }

  get closed(): boolean {
    return this.socket.closed;
  }

  onClose(listener: () => void): void {
    this.socket.onClose(listener);
  }

  /** Starts guarding for one render: pauses every request to a host that would get our cookies or token. */
  async arm(policy: GuardPolicy): Promise<void> {
    this.policy = policy;
    this.domains = guardedDomains(policy);
    this.blocked.clear();
    // Patterns only narrow what Chrome pauses; decide() checks each request exactly. Both
    // stay in force between renders, so a straggler of the last page is still judged by its
    // render's rules, and the next render of the same kind needs no command at all.
    const patterns = guardedPatterns(policy).map((urlPattern) => ({ urlPattern, requestStage: 'Request' }));
    const key = JSON.stringify(patterns);
    if (key === this.enabled) return;
    this.enabled = undefined;
    await this.socket.send('Fetch.enable', { patterns }, this.sessionId);
    this.enabled = key;
  }

  /** A DevTools command on the tab through this connection (see BrowserSession.read). */
  command<T>(method: string, params: object, timeoutMs: number): Promise<T> {
    return this.socket.send<T>(method, params, this.sessionId, timeoutMs);
  }

  close(): void {
    this.socket.close();
  }

  private decide(p: PausedRequest): void {
    const policy = this.policy;
    let url: URL | undefined;
    try {
      url = new URL(p.request.url);
    } catch {
      /* not a URL we can judge: it cannot be on a guarded host either */
    }
    const send = (method: string, params: object) => this.socket.send(method, { requestId: p.requestId, ...params }, this.sessionId).catch(() => undefined);
    if (!policy || !url) return void send('Fetch.continueRequest', {});
    if (url.origin === policy.origin) {
      if (!policy.bearer) return void send('Fetch.continueRequest', {});
      const headers = Object.entries(p.request.headers)
        .filter(([name]) => name.toLowerCase() !== 'authorization')
        .map(([name, value]) => ({ name, value }));
      headers.push({ name: 'Authorization', value: `Bearer ${policy.bearer}` });
      return void send('Fetch.continueRequest', { headers });
    }
    if (guardedHost(url.hostname, this.domains)) {
      this.blocked.add(url.origin);
      return void send('Fetch.failRequest', { errorReason: 'BlockedByClient' });
    }
    send('Fetch.continueRequest', {});
  }
}

/** Hosts our cookies go to: each cookie domain and its subdomains (IP addresses: exactly). */
function guardedDomains(policy: GuardPolicy): string[] {
  return [...new Set([new URL(policy.origin).hostname, ...policy.cookieDomains].map((d) => d.toLowerCase().replace(/^\./, '').replace(/\.$/, '')))];
}

function isIp(host: string): boolean {
  return /^\d+(\.\d+){3}$/.test(host) || host.startsWith('[');
}

function guardedHost(hostname: string, domains: string[]): boolean {
  const h = hostname.toLowerCase();
  return domains.some((d) => h === d || (!isIp(d) && h.endsWith(`.${d}`)));
}

/**
 * Fetch.enable patterns ('*' any characters, '?' exactly one): every scheme and port of each
 * guarded host and its subdomains. Grafana's own origin is left out unless the bearer token
 * must be added to it: a paused request costs a round trip to Node, and Grafana's own
 * requests are the ones on the critical path of every render (~25 ms per render measured
 * when they were paused too; see ADR 3).
 */
export function guardedPatterns(policy: GuardPolicy): string[] {
  const grafana = new URL(policy.origin);
  return guardedDomains(policy).flatMap((d) => {
    const own = d === grafana.hostname.toLowerCase() && !policy.bearer;
    const host = own ? everyOriginOnHostBut(d, grafana.protocol.slice(0, -1), grafana.port) : [`*://${d}/*`, `*://${d}:*`];
    return [...host, ...(isIp(d) ? [] : [`*://*.${d}/*`, `*://*.${d}:*`])];
  });
}

/** Patterns for every http(s) URL on `host` except those of the origin scheme://host[:port]. */
function everyOriginOnHostBut(host: string, scheme: string, port: string): string[] {
  const other = scheme === 'https' ? 'http' : 'https';
  if (port === '') {
    // The origin uses its scheme's default port: the other scheme's default port, and any explicit port.
    return [`${other}://${host}/*`, `*://${host}:*`];
  }
  const patterns = [`*://${host}/*`, `${other}://${host}:${port}/*`];
  // Ports of another length: one '?' per digit.
  for (let len = 1; len <= 5; len++) if (len !== port.length) patterns.push(`*://${host}:${'?'.repeat(len)}/*`);
  // Ports of the same length: the same digits up to position i, another digit there, any after.
  for (let i = 0; i < port.length; i++) {
    for (const digit of '0123456789') {
      if (digit !== port[i]) patterns.push(`*://${host}:${port.slice(0, i)}${digit}${'?'.repeat(port.length - i - 1)}/*`);
    }
  }
  return patterns;
}

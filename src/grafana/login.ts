// panelshot's own Grafana session for direct calls: one login shared by every render,
// reused until Grafana rejects it, rotated before Grafana >= 10.3 demands it, and never
// retried in a loop after a wrong password (5 bad logins lock the Grafana account for all).
import axios, { type AxiosInstance, type AxiosResponse } from 'axios';
import type { Logger } from '../logger';
import { grafanaLoginFailed, grafanaUnreachable, PanelshotError } from '../errors';

export interface SessionCookie {
  name: string;
  value: string;
  path: string;
  httpOnly: boolean;
  secure: boolean;
  sameSite?: 'Strict' | 'Lax' | 'None';
}

export interface LoginEvents {
  onLogin?(result: 'ok' | 'rejected' | 'error'): void;
  onRotate?(result: 'ok' | 'rejected' | 'error'): void;
}

export interface GrafanaLoginOptions {
  grafanaUrl: URL;
  user: string;
  password: string;
  backoffMs: number;
  logger: Logger;
  events?: LoginEvents;
  /** Injected for TLS settings (custom CA, insecure opt-out). */
  http?: AxiosInstance;
}

interface Cached {
  cookies: SessionCookie[];
  /** When to rotate: ahead of grafana_session_expiry, when Grafana sends one (>= 10). */
  rotateAt?: number;
}

/** Rotate this long before grafana_session_expiry (or a quarter of the lifetime, if shorter). */
const ROTATE_AHEAD_MS = 60_000;
/** After Grafana was unreachable, wait this long before the next attempt (no lockout risk). */
const UNREACHABLE_BACKOFF_MS = 1_000;

export class GrafanaLogin {
  private cached?: Cached;
  private inflight?: Promise<Cached>;
  private failure?: { error: PanelshotError; until: number };
  private readonly http: AxiosInstance;

  constructor(private readonly o: GrafanaLoginOptions) {
    this.http = o.http ?? axios.create();
  }

  /** The session cookies to give the browser; logs in or rotates when needed. */
  async cookies(): Promise<SessionCookie[]> {
    const c = this.cached;
    if (c && !(c.rotateAt && Date.now() >= c.rotateAt)) return c.cookies;
    return (await this.singleFlight(() => (c ? this.rotateOrLogin(c) : this.login()))).cookies;
  }

  /**
   * The browser ended on Grafana's login or rotate page with these cookies: forget them
   * (only if they are still the current ones, so a burst of failing renders causes one
   * new login, not one each).
   */
  invalidate(used: SessionCookie[]): void {
    if (this.cached && sessionValue(this.cached.cookies) === sessionValue(used)) this.cached = undefined;
  }

  /** For /readyz: true when Grafana accepts our session for an API call. */
  async check(): Promise<void> {
    const cookies = await this.cookies();
    const res = await this.request('get', 'api/user', undefined, cookies);
    if (res.status === 401) {
      this.invalidate(cookies);
      await this.cookies();
    } else if (res.status >= 400) {
      throw grafanaUnreachable(`Grafana answered ${res.status} to GET /api/user`);
    }
  }

  /**
   * A GET of Grafana's HTTP API as panelshot's own user (e.g. a dashboard model); one fresh
   * login and one more try when Grafana no longer accepts the session.
   */
  async apiGet(path: string, headers: Record<string, string> = {}): Promise<AxiosResponse> {
    const cookies = await this.cookies();
    const res = await this.request('get', path, undefined, cookies, headers);
    if (res.status !== 401) return res;
    this.invalidate(cookies);
    return this.request('get', path, undefined, await this.cookies(), headers);
  }

  private singleFlight(fn: () => Promise<Cached>): Promise<Cached> {
    if (this.failure && Date.now() < this.failure.until) return Promise.reject(this.failure.error);
    this.inflight ??= fn().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async rotateOrLogin(current: Cached): Promise<Cached> {
    let res: AxiosResponse;
    try {
      res = await this.request('post', 'api/user/auth-tokens/rotate', undefined, current.cookies);
    } catch (e) {
      this.o.events?.onRotate?.('error');
      throw e;
    }
    if (res.status === 200) {
      this.o.events?.onRotate?.('ok');
      this.o.logger.info({ event: 'grafana_rotate', result: 'ok' }, 'Grafana session rotated');
      return (this.cached = this.parse(res, current.cookies));
    }
    // Older Grafana (no rotation endpoint) or a token already too old: a fresh login.
    this.o.events?.onRotate?.('rejected');
    this.o.logger.info({ event: 'grafana_rotate', result: 'rejected', status: res.status }, 'Grafana refused to rotate the session; logging in again');
    this.cached = undefined;
    return this.login();
  }

  private async login(): Promise<Cached> {
    const { user, password, logger, backoffMs } = this.o;
    let res: AxiosResponse;
    try {
      res = await this.request('post', 'login', { user, password });
    } catch (e) {
      this.o.events?.onLogin?.('error');
      this.failure = { error: e as PanelshotError, until: Date.now() + UNREACHABLE_BACKOFF_MS };
      throw e;
    }
    if (res.status === 200) {
      const cached = this.parse(res, []);
      if (!sessionValue(cached.cookies)) {
        this.o.events?.onLogin?.('error');
        throw grafanaUnreachable('Grafana answered the login without a grafana_session cookie (is GRAFANA_URL really Grafana, with its sub-path?)');
      }
      this.failure = undefined;
      this.o.events?.onLogin?.('ok');
      logger.info({ event: 'grafana_login', result: 'ok', user }, 'logged in to Grafana');
      return (this.cached = cached);
    }
    const reason = grafanaMessage(res.data) ?? `HTTP ${res.status}`;
    if (res.status >= 500) {
      this.o.events?.onLogin?.('error');
      const error = grafanaUnreachable(`Grafana login failed: Grafana answered ${res.status}`);
      this.failure = { error, until: Date.now() + UNREACHABLE_BACKOFF_MS };
      throw error;
    }
    this.o.events?.onLogin?.('rejected');
    const retryAfterS = Math.ceil(backoffMs / 1000);
    const error = grafanaLoginFailed(
      `Grafana login failed for user "${user}": Grafana rejected the credentials (${reason}); check GRAFANA_USER/GRAFANA_PASS. Not retrying for ${retryAfterS} s, because repeated bad logins lock the Grafana account`,
      retryAfterS,
    );
    this.failure = { error, until: Date.now() + backoffMs };
    logger.error({ event: 'grafana_login', result: 'rejected', user, status: res.status, reason, retryInS: retryAfterS }, 'Grafana rejected the login');
    throw error;
  }

  private async request(method: 'get' | 'post', path: string, body?: unknown, cookies?: SessionCookie[], extra: Record<string, string> = {}): Promise<AxiosResponse> {
    const url = new URL(path, this.o.grafanaUrl).toString();
    try {
      return await this.http.request({
        method,
        url,
        data: body,
        headers: {
          'Content-Type': 'application/json',
          Accept: 'application/json',
          ...(cookies?.length ? { Cookie: cookies.map((c) => `${c.name}=${c.value}`).join('; ') } : {}),
          ...extra,
        },
        timeout: 10_000,
        maxRedirects: 0,
        validateStatus: () => true,
      });
    } catch (e) {
      const code = (e as { code?: string }).code ?? 'error';
      throw grafanaUnreachable(`cannot reach Grafana at ${this.o.grafanaUrl.origin} (${code})`);
    }
  }

  private parse(res: AxiosResponse, previous: SessionCookie[]): Cached {
    const byName = new Map(previous.map((c) => [c.name, c]));
    for (const line of ([] as string[]).concat(res.headers['set-cookie'] ?? [])) {
      const c = parseSetCookie(line);
      if (c && (c.name === 'grafana_session' || c.name === 'grafana_session_expiry')) byName.set(c.name, c);
    }
    const cookies = [...byName.values()];
    const expiresAt = Number(byName.get('grafana_session_expiry')?.value) * 1000;
    if (!Number.isFinite(expiresAt) || expiresAt <= Date.now()) return { cookies };
    return { cookies, rotateAt: expiresAt - Math.min(ROTATE_AHEAD_MS, (expiresAt - Date.now()) / 4) };
  }
}

export function sessionValue(cookies: SessionCookie[]): string | undefined {
  return cookies.find((c) => c.name === 'grafana_session')?.value;
}

function grafanaMessage(data: unknown): string | undefined {
  const m = (data as { message?: unknown } | undefined)?.message;
  return typeof m === 'string' ? m.slice(0, 200) : undefined;
}

/** Enough of RFC 6265 for Grafana's cookies: name=value and the attributes we pass on. */
export function parseSetCookie(line: string): SessionCookie | undefined {
  const [pair, ...attrs] = line.split(';');
  const eq = pair?.indexOf('=') ?? -1;
  if (!pair || eq <= 0) return undefined;
  const cookie: SessionCookie = { name: pair.slice(0, eq).trim(), value: pair.slice(eq + 1).trim(), path: '/', httpOnly: false, secure: false };
  for (const attr of attrs) {
    const [k = '', v = ''] = attr.split('=').map((s) => s.trim());
    const key = k.toLowerCase();
    if (key === 'path' && v) cookie.path = v;
    else if (key === 'httponly') cookie.httpOnly = true;
    else if (key === 'secure') cookie.secure = true;
    else if (key === 'samesite' && /^(strict|lax|none)$/i.test(v)) cookie.sameSite = (v[0]!.toUpperCase() + v.slice(1).toLowerCase()) as SessionCookie['sameSite'];
  }
  return cookie;
}

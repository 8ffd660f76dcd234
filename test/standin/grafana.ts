/**
 * A Grafana stand-in for tests, the demo and the benchmark.
 *
 * It imitates the parts of Grafana (9 → 13) that a renderer meets: cookie login with
 * brute-force lockout, session rotation (≥10.3), render keys, service-account tokens,
 * and panel pages that show a spinner while their data query is in flight and then
 * animate a canvas chart. Everything a renderer could get wrong — capturing too early,
 * losing the session, leaking the token to other hosts — is observable in `stats`.
 *
 * See docs/DESIGN.md §2 for the Grafana behaviour this copies.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { BIG_HOSTS, BROKEN_PANEL_ID, dashboardByUid, GRID_BOARDS, type DashboardModel, type PanelModel } from './dashboards';
import { csvPage, csvPageConfig } from './csv';
import { COMPONENT_ASSETS, COMPONENT_UID_PREFIX, componentBundleBuilt, componentPage, serveComponentAsset } from './components';

export interface StandinOptions {
  host?: string;
  port?: number;
  user?: string;
  password?: string;
  /** Accepted service-account token (`Authorization: Bearer <token>`). */
  token?: string;
  /** Default delay before /api/ds/query answers; a page can override it with `?dataDelay=`. */
  dataDelayMs?: number;
  /** Default chart animation after the data arrives; a page can override it with `?animation=`. */
  animationMs?: number;
  /** If set, a session token older than this must be rotated before it is accepted again. */
  rotateAfterMs?: number;
  /** grafana_session_expiry cookie = now + this. */
  sessionExpirySeconds?: number;
  /** Serve HTTPS with this key and certificate (PEM) instead of HTTP. */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /**
   * Which Grafana's page layout the grid dashboards and panels are built like (DESIGN.md §8):
   * - `hand` (default): the stand-in's own layout, the document scrolls;
   * - `classic`: Grafana ≤ 11.2 (11.1.3): the document never grows, the dashboard scrolls
   *   inside `div.scrollbar-view`; `window.panelsRendered` counts finished panels;
   * - `scenes`: Grafana ≥ 11.3 (12.2.0): the body scrolls, panels carry `[data-viz-panel-key]`,
   *   `__grafanaSceneContext` and `__grafanaRunningQueryCount` are set, kiosk keeps the
   *   controls bar unless `_dash.hide*` say otherwise, and the panel menu (⋮) shows on hover.
   * Both real layouts have `color-scheme` set by the theme (dark, or `?theme=light`), which
   * paints a printed page's margins.
   */
  layout?: StandinLayout;
}

export type StandinLayout = 'hand' | 'classic' | 'scenes';

/** The Grafana version each layout stands for (GET /api/health). */
const LAYOUT_VERSION: Record<StandinLayout, string> = { hand: '11.5.2', classic: '11.1.3', scenes: '12.2.0' };

export type AuthKind = 'session' | 'renderKey' | 'token' | 'none';

export interface QueryRecord {
  auth: AuthKind;
  timezone: string;
  language: string;
  panelId: string;
  userAgent: string;
}

export interface StandinStats {
  logins: number;
  failedLogins: number;
  rotations: number;
  /** `search` is the page URL's query string, as the browser asked for it. */
  pageLoads: { path: string; search: string; auth: AuthKind }[];
  queries: QueryRecord[];
  foreignAuthHeaders: string[];
  /** Slow bookkeeping calls (`/api/frontend-metrics?delay=`): when each started and ended (Date.now()). */
  slowCalls: { start: number; end?: number }[];
}

export interface Standin {
  url: string;
  port: number;
  stats: StandinStats;
  resetStats(): void;
  issueRenderKey(): string;
  expireSessions(): void;
  setPassword(p: string): void;
  setDown(status: number | null): void;
  close(): Promise<void>;
}

// Grafana's numbers: cookies live 30 days, render keys 5 minutes, and 5 bad logins
// within 5 minutes lock the user out for everyone.
const COOKIE_MAX_AGE_S = 2592000;
const RENDER_KEY_TTL_MS = 5 * 60_000;
const LOCKOUT_WINDOW_MS = 5 * 60_000;
const LOCKOUT_ATTEMPTS = 5;
const MAX_BODY_BYTES = 1 << 20;

/** Start of the charts' time axis: fixed, so pictures are deterministic. */
const BASE_TS = 1795219200000;
const POINTS = 73; // 6 hours at 5-minute steps
const STEP_MS = 5 * 60_000;

const LOGIN_BLOCKED =
  'too many consecutive incorrect login attempts for user - login for user temporarily blocked';

/**
 * One login's chain of tokens. Grafana keeps the current and the previous token per
 * session row, so after a rotation the old cookie still works (a second tab, a request
 * in flight), but only for one generation.
 */
interface SessionFamily {
  current: string;
  prev: string | null;
  issuedAt: number;
}

type SessionState =
  | { kind: 'valid'; family: SessionFamily }
  | { kind: 'rotate'; family: SessionFamily }
  | { kind: 'none' };

interface RequestAuth {
  kind: AuthKind;
  /** A session cookie was presented that is still known but must be rotated first. */
  needsRotation: boolean;
}

export async function startStandin(opts: StandinOptions = {}): Promise<Standin> {
  const host = opts.host ?? '127.0.0.1';
  const user = opts.user ?? 'admin';
  let password = opts.password ?? 'admin';
  const token = opts.token ?? 'glsa_standin_0123456789abcdef';
  const dataDelayMs = opts.dataDelayMs ?? 300;
  const animationMs = opts.animationMs ?? 500;
  const rotateAfterMs = opts.rotateAfterMs;
  const sessionExpirySeconds = opts.sessionExpirySeconds ?? 600;
  const layout = opts.layout ?? 'hand';

  const stats = emptyStats();
  const families = new Map<string, SessionFamily>(); // any live token (current or prev) → its family
  const renderKeys = new Map<string, number>(); // key → expiry (ms)
  const failedAttempts = new Map<string, number[]>(); // login name → times of failed attempts
  let downStatus: number | null = null;

  // Delayed answers must not keep the process (or close()) waiting.
  const timers = new Set<NodeJS.Timeout>();
  const sockets = new Set<Socket>();

  function later(ms: number, res: http.ServerResponse, fn: () => void): void {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
    // The browser navigated away or the test gave up: drop the pending answer.
    res.on('close', () => {
      clearTimeout(t);
      timers.delete(t);
    });
  }

  // ---- sessions -------------------------------------------------------------------

  function newSessionCookies(res: http.ServerResponse, sessionToken: string): void {
    const expiry = Math.floor(Date.now() / 1000) + sessionExpirySeconds;
    appendCookie(res, `grafana_session=${sessionToken}; Path=/; Max-Age=${COOKIE_MAX_AGE_S}; HttpOnly; SameSite=Lax`);
    appendCookie(res, `grafana_session_expiry=${expiry}; Path=/; Max-Age=${COOKIE_MAX_AGE_S}; SameSite=Lax`);
  }

  function createSession(): string {
    const fam: SessionFamily = { current: randomHex(16), prev: null, issuedAt: Date.now() };
    families.set(fam.current, fam);
    return fam.current;
  }

  function rotate(fam: SessionFamily): string {
    if (fam.prev) families.delete(fam.prev); // N-2 dies here
    fam.prev = fam.current;
    fam.current = randomHex(16);
    fam.issuedAt = Date.now();
    families.set(fam.current, fam);
    return fam.current;
  }

  function sessionState(cookies: Record<string, string>): SessionState {
    const t = cookies['grafana_session'];
    const fam = t ? families.get(t) : undefined;
    if (!fam) return { kind: 'none' };
    if (rotateAfterMs !== undefined && Date.now() - fam.issuedAt > rotateAfterMs) {
      return { kind: 'rotate', family: fam };
    }
    return { kind: 'valid', family: fam };
  }

  // Same order as Grafana's auth middleware: API token, render key, session cookie.
  function authenticate(req: http.IncomingMessage): RequestAuth {
    const authz = req.headers.authorization ?? '';
    if (authz === `Bearer ${token}`) return { kind: 'token', needsRotation: false };
    const cookies = parseCookies(req.headers.cookie);
    const rk = cookies['renderKey'];
    if (rk) {
      const exp = renderKeys.get(rk);
      if (exp !== undefined && exp > Date.now()) return { kind: 'renderKey', needsRotation: false };
    }
    const s = sessionState(cookies);
    if (s.kind === 'valid') return { kind: 'session', needsRotation: false };
    return { kind: 'none', needsRotation: s.kind === 'rotate' };
  }

  function apiUnauthorized(res: http.ServerResponse, auth: RequestAuth): void {
    if (auth.needsRotation) {
      sendJson(res, 401, {
        message: 'token needs to be rotated',
        messageId: 'session.token.rotate',
        statusCode: 401,
      });
    } else {
      sendJson(res, 401, { message: 'Unauthorized' });
    }
  }

  // ---- handlers -------------------------------------------------------------------

  async function handleLogin(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let body: unknown;
    try {
      body = JSON.parse((await readBody(req)).toString('utf8'));
    } catch {
      sendJson(res, 400, { message: 'bad request data' });
      return;
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      sendJson(res, 400, { message: 'bad request data' });
      return;
    }
    const b = body as Record<string, unknown>;
    const name = typeof b['user'] === 'string' ? b['user'] : '';
    const pass = typeof b['password'] === 'string' ? b['password'] : '';

    // The lockout is checked before the password: once blocked, even the right one fails.
    const now = Date.now();
    const recent = (failedAttempts.get(name) ?? []).filter((t) => now - t < LOCKOUT_WINDOW_MS);
    failedAttempts.set(name, recent);
    if (recent.length >= LOCKOUT_ATTEMPTS) {
      stats.failedLogins++;
      sendJson(res, 401, { message: LOGIN_BLOCKED });
      return;
    }
    if (name !== user || pass !== password) {
      recent.push(now);
      stats.failedLogins++;
      sendJson(res, 401, { message: 'Invalid username or password' });
      return;
    }

    failedAttempts.delete(name);
    stats.logins++;
    newSessionCookies(res, createSession());
    // Grafana sends the browser back to the page that bounced it to /login.
    const redirectTo = parseCookies(req.headers.cookie)['redirect_to'];
    let redirectUrl = '/';
    if (redirectTo !== undefined) {
      if (redirectTo.startsWith('/') && !redirectTo.startsWith('//')) redirectUrl = redirectTo;
      appendCookie(res, 'redirect_to=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax');
    }
    sendJson(res, 200, { message: 'Logged in', redirectUrl });
  }

  function handleRotate(req: http.IncomingMessage, res: http.ServerResponse): void {
    // Rotation is exactly what an overdue session may still do, so age is not checked here.
    const s = sessionState(parseCookies(req.headers.cookie));
    if (s.kind === 'none') {
      sendJson(res, 401, { message: 'Unauthorized' });
      return;
    }
    stats.rotations++;
    newSessionCookies(res, rotate(s.family));
    sendJson(res, 200, {});
  }

  async function handleQuery(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const auth = authenticate(req);
    if (auth.kind === 'none') {
      apiUnauthorized(res, auth);
      return;
    }
    let body: Record<string, unknown> = {};
    try {
      const parsed: unknown = JSON.parse((await readBody(req)).toString('utf8'));
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
        body = parsed as Record<string, unknown>;
      }
    } catch {
      sendJson(res, 400, { message: 'bad request data' });
      return;
    }
    // The hand-drawn pages send panelId/dataDelay beside the queries; pages made of Grafana's
    // components send Grafana's body ({ queries, from, to }) with them in the query model.
    const first = Array.isArray(body['queries']) ? ((body['queries'][0] ?? {}) as Record<string, unknown>) : {};
    const panelId = String(body['panelId'] ?? first['panelId'] ?? '1');
    const delay = clampMs(body['dataDelay'] ?? first['dataDelay'], dataDelayMs);
    later(delay, res, () => {
      stats.queries.push({
        auth: auth.kind,
        timezone: String(body['timezone'] ?? ''),
        language: String(body['language'] ?? ''),
        panelId,
        userAgent: req.headers['user-agent'] ?? '',
      });
      sendJson(res, 200, queryResult(panelId));
    });
  }

  function handlePage(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    url: URL,
    kind: 'panel' | 'dashboard' | 'csv',
    uid: string,
  ): void {
    const auth = authenticate(req);
    stats.pageLoads.push({ path: url.pathname, search: url.search, auth: auth.kind });
    if (auth.kind === 'none') {
      if (auth.needsRotation) {
        redirect(res, '/user/auth-tokens/rotate');
      } else {
        appendCookie(
          res,
          `redirect_to=${encodeURIComponent(url.pathname + url.search)}; Path=/; HttpOnly; SameSite=Lax`,
        );
        redirect(res, '/login');
      }
      return;
    }
    const q = url.searchParams;
    if (kind !== 'csv' && uid.startsWith(COMPONENT_UID_PREFIX)) {
      if (!componentBundleBuilt()) return sendJson(res, 503, { message: 'the Grafana-components bundle is not built: run bash scripts/setup.sh --test' });
      return sendHtml(res, 200, componentPage(kind));
    }
    if (kind === 'csv') return sendHtml(res, 200, csvPage(csvPageConfig(q, clampMs)));
    if (kind === 'panel' && q.get('panelId') === String(BROKEN_PANEL_ID)) {
      res.writeHead(500, { 'content-type': 'text/html; charset=utf-8' });
      res.end('<!doctype html><title>Internal Server Error</title><p>panel broken</p>');
      return;
    }
    const cfg: PageConfig = {
      panels: kind === 'panel' ? [q.get('panelId') || '1'] : ['1', '2', '3', '4'],
      dataDelay: q.has('dataDelay') ? clampMs(q.get('dataDelay'), dataDelayMs) : null,
      animation: q.get('animation') === 'forever' ? 'forever' : clampMs(q.get('animation'), animationMs),
      extra: q.get('extra'),
      wave: q.has('wave') ? { after: clampMs(q.get('wave'), 0), kind: q.get('waveKind') === 'module' ? 'module' : 'timer' } : null,
      rearm: q.get('rearm') === 'forever',
      cancelFrame: q.get('cancelFrame') === '1',
      layout,
      freeze: clampMs(q.get('freeze'), 0),
    };
    const model = kind === 'dashboard' && GRID_BOARDS.includes(uid) ? dashboardByUid(uid)!.dashboard : undefined;
    if (model) return sendHtml(res, 200, gridDashboardPage(cfg, model, q));
    sendHtml(res, 200, kind === 'panel' ? panelPage(cfg, q) : dashboardPage(cfg, uid));
  }

  async function route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (downStatus !== null) {
      res.writeHead(downStatus, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`${http.STATUS_CODES[downStatus] ?? 'Error'}\n`);
      return;
    }
    const url = new URL(req.url ?? '/', 'http://standin.invalid');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    let m: RegExpExecArray | null;

    if (path === '/login' && method === 'POST') return handleLogin(req, res);
    if (path === '/login' && method === 'GET') {
      stats.pageLoads.push({ path, search: url.search, auth: authenticate(req).kind });
      return sendHtml(res, 200, loginPage());
    }
    if (path === '/api/user/auth-tokens/rotate' && method === 'POST') return handleRotate(req, res);
    if (path === '/user/auth-tokens/rotate' && method === 'GET') return sendHtml(res, 200, rotatePage());
    if (path === '/api/health' && method === 'GET') {
      return sendJson(res, 200, { database: 'ok', version: LAYOUT_VERSION[layout] });
    }
    if (path === '/api/user' && method === 'GET') {
      const auth = authenticate(req);
      if (auth.kind === 'none') return apiUnauthorized(res, auth);
      return sendJson(res, 200, { id: 1, login: user });
    }
    if (path === '/api/ds/query' && method === 'POST') return handleQuery(req, res);
    if (method === 'GET' && (m = /^\/api\/dashboards\/uid\/([^/]+)$/.exec(path))) {
      const auth = authenticate(req);
      if (auth.kind === 'none') return apiUnauthorized(res, auth);
      const found = dashboardByUid(decodeURIComponent(m[1]!));
      return found ? sendJson(res, 200, found) : sendJson(res, 404, { message: 'Dashboard not found' });
    }
    if (method === 'GET' && (m = /^\/d-solo\/([^/]+)(?:\/[^/]*)?\/?$/.exec(path))) {
      return handlePage(req, res, url, 'panel', decodeURIComponent(m[1]!));
    }
    if (method === 'GET' && (m = /^\/d-csv\/([^/]+)(?:\/[^/]*)?\/?$/.exec(path))) {
      return handlePage(req, res, url, 'csv', decodeURIComponent(m[1]!));
    }
    if (method === 'GET' && (m = /^\/d\/([^/]+)(?:\/[^/]*)?\/?$/.exec(path))) {
      return handlePage(req, res, url, 'dashboard', decodeURIComponent(m[1]!));
    }
    if (path === '/foreign') {
      stats.foreignAuthHeaders.push(req.headers.authorization ?? '');
      res.writeHead(200, { 'content-type': 'text/plain', 'access-control-allow-origin': '*' });
      res.end('ok');
      return;
    }
    if (path === '/api/annotations' && method === 'GET') {
      const auth = authenticate(req);
      if (auth.kind === 'none') return apiUnauthorized(res, auth);
      later(50, res, () => sendJson(res, 200, [{ time: BASE_TS + 40 * STEP_MS, text: 'deploy' }]));
      return;
    }
    if (path === '/public/plugins/wave/module.js' && method === 'GET') {
      later(clampMs(url.searchParams.get('delay'), 0), res, () => {
        res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-store' });
        res.end('window.__standinWave && window.__standinWave();\n');
      });
      return;
    }
    if (path.startsWith(COMPONENT_ASSETS) && method === 'GET') return serveComponentAsset(path, res);
    if (path === '/api/frontend-metrics' && method === 'POST') {
      const auth = authenticate(req);
      if (auth.kind === 'none') return apiUnauthorized(res, auth);
      await readBody(req);
      // `delay=<ms>` (≤ 5 s): a slow bookkeeping call, as a busy Grafana's can be.
      const delay = Math.min(5000, clampMs(url.searchParams.get('delay'), 0));
      if (delay > 0) {
        const call: { start: number; end?: number } = { start: Date.now() };
        stats.slowCalls.push(call);
        await new Promise((r) => setTimeout(r, delay));
        call.end = Date.now();
      }
      return sendJson(res, 200, {});
    }
    if (path === '/probe' && method === 'GET') return sendHtml(res, 200, probePage(url.searchParams.get('kind') ?? '', url.searchParams.get('to') ?? ''));
    if (path === '/goto' && method === 'GET') return redirect(res, url.searchParams.get('to') ?? '/');
    if (path === '/slow' && method === 'GET') {
      const ms = clampMs(url.searchParams.get('ms'), 0);
      later(ms, res, () => sendHtml(res, 200, `<!doctype html><title>slow</title><p>answered after ${ms} ms</p>`));
      return;
    }
    sendJson(res, 404, { message: 'Not found' });
  }

  // ---- server ---------------------------------------------------------------------

  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    route(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { message: String(err) });
      else res.destroy();
    });
  };
  const server = opts.tls ? https.createServer({ key: opts.tls.key, cert: opts.tls.cert }, handler) : http.createServer(handler);
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `${opts.tls ? 'https' : 'http'}://${host}:${port}`,
    port,
    stats,
    resetStats() {
      Object.assign(stats, emptyStats());
    },
    issueRenderKey() {
      const key = randomBytes(24).toString('base64url');
      renderKeys.set(key, Date.now() + RENDER_KEY_TTL_MS);
      return key;
    },
    expireSessions() {
      families.clear();
    },
    setPassword(p: string) {
      password = p;
    },
    setDown(status: number | null) {
      downStatus = status;
    },
    close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
  };
}

// ---- small helpers ------------------------------------------------------------------

function emptyStats(): StandinStats {
  return { logins: 0, failedLogins: 0, rotations: 0, pageLoads: [], queries: [], foreignAuthHeaders: [], slowCalls: [] };
}

function randomHex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

/** A non-negative millisecond count from a query/body value, else the fallback. */
function clampMs(v: unknown, fallback: number): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) && n >= 0 ? Math.min(n, 10 * 60_000) : fallback;
}

function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i < 0) continue;
    const k = part.slice(0, i).trim();
    const v = part.slice(i + 1).trim();
    try {
      out[k] = decodeURIComponent(v);
    } catch {
      out[k] = v;
    }
  }
  return out;
}

function appendCookie(res: http.ServerResponse, cookie: string): void {
  const prev = res.getHeader('set-cookie');
  const list = Array.isArray(prev) ? prev : prev === undefined ? [] : [String(prev)];
  res.setHeader('set-cookie', [...list, cookie]);
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

function sendHtml(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(body);
}

function redirect(res: http.ServerResponse, location: string): void {
  res.writeHead(302, { location, 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(`<a href="${escapeHtml(location)}">Found</a>.\n`);
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

// ---- data -------------------------------------------------------------------------

/** FNV-1a: a stable seed per panel id. */
function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hslToHex(h: number, s: number, l: number): string {
  const f = (n: number) => {
    const k = (n + h / 30) % 12;
    const a = s * Math.min(l, 1 - l);
    const c = l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1));
    return Math.round(c * 255).toString(16).padStart(2, '0');
  };
  return `#${f(0)}${f(8)}${f(4)}`;
}

/** A Grafana-shaped /api/ds/query answer: one frame, time + value, colour in field config. */
export function queryResult(panelId: string): unknown {
  const rand = mulberry32(hash32(panelId));
  const level = 20 + rand() * 60;
  const amp = 5 + rand() * 25;
  const freq = 1 + Math.floor(rand() * 3);
  const phase = rand() * Math.PI * 2;
  const color = hslToHex(Math.floor(rand() * 360), 0.7, 0.55);
  const times: number[] = [];
  const values: number[] = [];
  let walk = 0;
  for (let i = 0; i < POINTS; i++) {
    walk += (rand() - 0.5) * amp * 0.3;
    times.push(BASE_TS + i * STEP_MS);
    values.push(Math.round((level + amp * Math.sin((i / POINTS) * Math.PI * 2 * freq + phase) + walk) * 100) / 100);
  }
  return {
    results: {
      A: {
        status: 200,
        frames: [
          {
            schema: {
              name: `Panel ${panelId}`,
              refId: 'A',
              fields: [
                { name: 'Time', type: 'time' },
                { name: 'Value', type: 'number', config: { color: { mode: 'fixed', fixedColor: color } } },
              ],
            },
            data: { values: [times, values] },
          },
        ],
      },
    },
  };
}

// ---- pages ------------------------------------------------------------------------

interface PageConfig {
  panels: string[];
  /** null: the server's default applies. */
  dataDelay: number | null;
  animation: number | 'forever';
  extra: string | null;
  /**
   * A second wave of work after the first draw, as real panels have: `timer` schedules an
   * annotations query `after` ms later; `module` loads a plugin module that takes `after` ms
   * to arrive. Either way the panel then draws an annotation band (#f2cc0c), and only that
   * is the finished picture.
   */
  wave: { after: number; kind: 'timer' | 'module' } | null;
  /** Re-arms a 100 ms timer forever (a poller, a clock): never "done" by its timers. */
  rearm: boolean;
  /**
   * Requests an animation frame and cancels it at once (a redraw superseded before it
   * ran, as chart libraries do): a frame that will never come.
   */
  cancelFrame: boolean;
  /**
   * Ms the page's main thread stays busy once its script starts (a heavy panel's script, a
   * plugin stuck in a loop): meanwhile it answers nothing, not even DevTools' evaluations.
   */
  freeze: number;
  /** Grid dashboards only: the items to lay out; panels then load lazily, as in Grafana. */
  grid?: GridItem[];
  /** Whose markup and signals the page has (StandinOptions.layout). */
  layout: StandinLayout;
}

/** One item of the 24-column grid as the page lays it out (rows carry their hidden panels). */
export interface GridItem {
  id: string;
  title: string;
  x: number;
  y: number;
  w: number;
  h: number;
  row?: { collapsed: boolean; panels: GridItem[] };
}

const BASE_CSS = `
html,body{margin:0;background:#111217;color:#ccccdc;font:14px/1.4 Inter,Helvetica,Arial,sans-serif}
.panel{display:flex;flex-direction:column;background:#181b1f;border:1px solid #2c3235;box-sizing:border-box}
.panel-title{flex:0 0 32px;height:32px;line-height:32px;padding:0 8px;font-weight:500;white-space:nowrap;overflow:hidden}
.panel-body{flex:1 1 auto;position:relative;min-height:0}
.panel-body canvas{position:absolute;left:0;top:0;width:100%;height:100%;display:block}
.panel-error{position:absolute;left:0;right:0;top:45%;text-align:center;color:#ff5286}
.panel-loading{position:absolute;left:50%;top:50%;width:28px;height:28px;margin:-17px 0 0 -17px;
  border:3px solid rgba(204,204,220,.15);border-top-color:#3d71d9;border-radius:50%;animation:panel-spin .8s linear infinite}
@keyframes panel-spin{to{transform:rotate(360deg)}}
`;

function panelHtml(id: string, height: string, layout: StandinLayout = 'hand'): string {
  const i = escapeHtml(id);
  return `<div class="panel" id="panel-${i}" ${panelAttributes(i, layout)} style="height:${height}">
<div class="panel-title">Panel ${i}${layout === 'scenes' ? menuButton(`Panel ${i}`) : ''}</div>
<div class="panel-body" data-testid="data-testid panel content"><canvas></canvas>${loadingHtml(layout)}</div>
</div>`;
}

/** How each Grafana marks a panel: `data-panelid` (classic), `data-viz-panel-key` (scenes). */
function panelAttributes(id: string, layout: StandinLayout): string {
  return layout === 'scenes' ? `data-panel-id="${id}" data-viz-panel-key="panel-${id}"` : layout === 'classic' ? `data-panel-id="${id}" data-panelid="${id}"` : `data-panel-id="${id}"`;
}

/** The stand-in's spinner, or Grafana's loading bar on the real layouts. */
function loadingHtml(layout: StandinLayout): string {
  return layout === 'hand' ? '<div class="panel-loading" aria-label="Loading"></div>' : '<div class="panel-loading-bar" aria-label="Panel loading bar"></div>';
}

/** Grafana 12's panel menu button: hidden until the panel is hovered or holds the focus. */
function menuButton(title: string): string {
  return `<button class="panel-menu show-on-hover" aria-label="Menu for panel ${escapeHtml(title)}" data-testid="data-testid panel-menu ${escapeHtml(title)}">&#8942;</button>`;
}

/**
 * What the real layouts add to the page's CSS: the theme (Grafana sets `color-scheme`,
 * which Chrome also paints into a printed page's margins), the loading bar, and the
 * hover-only panel menu. `?theme=light` as in Grafana.
 */
function layoutCss(layout: StandinLayout, q: URLSearchParams): string {
  if (layout === 'hand') return '';
  const light = q.get('theme') === 'light';
  return `${light ? `:root{color-scheme:light}
html,body{background:#f4f5f5;color:#24292e}
.panel{background:#ffffff;border-color:#d8d9da}` : ':root{color-scheme:dark}'}
.panel-loading-bar{position:absolute;left:0;top:0;height:2px;width:100%;overflow:hidden}
.panel-loading-bar::after{content:"";position:absolute;top:0;left:0;height:2px;width:30%;background:#3d71d9;animation:loading-bar 1s linear infinite}
@keyframes loading-bar{from{transform:translateX(-100%)}to{transform:translateX(400%)}}
.panel-title{display:flex;align-items:center}
.panel-menu{margin-left:auto;width:24px;height:24px;border:0;border-radius:2px;background:#3d71d9;color:#ffffff;font:16px/24px sans-serif;padding:0}
.panel .show-on-hover{visibility:hidden}
.panel:hover .show-on-hover,.panel:focus-within:not(:focus) .show-on-hover{visibility:visible}`;
}

/** Config goes in as JSON; `<` is escaped so a hostile `extra=` cannot close the script tag. */
function configScript(cfg: PageConfig): string {
  const json = JSON.stringify(cfg).replace(/</g, '\\u003c');
  return `<script id="standin-config" type="application/json">${json}</script>\n<script>${CLIENT_JS}</script>`;
}

function panelPage(cfg: PageConfig, q: URLSearchParams): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Panel ${escapeHtml(cfg.panels[0] ?? '')} - Grafana</title>
<style>${BASE_CSS}${layoutCss(cfg.layout, q)}
html,body{height:100%;overflow:hidden}
.panel{border:0}
${q.get('hoverMenu') === '1' ? '.panel .show-on-hover{visibility:visible}' : ''}
</style></head>
<body>
${panelHtml(cfg.panels[0] ?? '1', '100vh', cfg.layout)}
${configScript(cfg)}
</body></html>`;
}

function dashboardPage(cfg: PageConfig, uid: string): string {
  // Header 56px + 4 × 400px panels + gaps/padding ≈ 1700px: taller than any viewport
  // a renderer would pick, so only a full-page capture shows the last panel.
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Dashboard ${escapeHtml(uid)} - Grafana</title>
<style>${BASE_CSS}
body{overflow:visible}
.dash-header{height:56px;line-height:56px;padding:0 16px;font-size:18px;background:#181b1f;border-bottom:1px solid #2c3235}
.dash-grid{padding:8px;display:flex;flex-direction:column;gap:8px}
</style></head>
<body>
<div class="dash-header">Dashboard ${escapeHtml(uid)}</div>
<div class="dash-grid">
${cfg.panels.map((id) => panelHtml(id, '400px')).join('\n')}
</div>
${configScript(cfg)}
</body></html>`;
}

/** Grafana's grid: 24 columns, 30 px cells, 8 px between them. */
export const GRID = { columns: 24, cellHeight: 30, margin: 8 };

/** The hosts a `var-host` selection stands for: All (or nothing) = every host. */
export function selectedHosts(q: URLSearchParams): string[] {
  const picked = q.getAll('var-host');
  if (picked.length === 0 || picked.includes('$__all') || picked.includes('All')) return BIG_HOSTS;
  return BIG_HOSTS.filter((h) => picked.includes(h));
}

/** The dashboard model as Grafana shows it: repeats expanded per selected value, rows as items. */
export function gridItems(model: DashboardModel, q: URLSearchParams): GridItem[] {
  const item = (p: PanelModel): GridItem => ({ id: String(p.id), title: p.title, ...p.gridPos });
  const out: GridItem[] = [];
  for (const p of model.panels) {
    if (p.type === 'row') {
      out.push({ ...item(p), row: { collapsed: !!p.collapsed, panels: (p.panels ?? []).map(item) } });
    } else if (p.repeat) {
      const values = p.repeat === 'host' ? selectedHosts(q) : [];
      const perRow = Math.max(1, Math.min(values.length, p.maxPerRow ?? 4));
      const w = Math.floor(GRID.columns / perRow);
      values.forEach((v, i) => {
        const h = p.gridPos.h;
        out.push({ id: i === 0 ? String(p.id) : `${p.id}-${v}`, title: p.title.replace(`$${p.repeat}`, v), x: (i % perRow) * w, y: p.gridPos.y + Math.floor(i / perRow) * h, w, h });
      });
    } else {
      out.push(item(p));
    }
  }
  return out;
}

/**
 * A Grafana-like dashboard page: nav bar and side menu (hidden with `kiosk`), rows with
 * headers (a collapsed row opens when its title is clicked; Grafana offers no URL for
 * that), panels laid out on the 24-column grid with transforms as react-grid-layout does,
 * each panel starting its query only once it scrolls into view.
 */
function gridDashboardPage(cfg: PageConfig, model: DashboardModel, q: URLSearchParams): string {
  const kiosk = q.has('kiosk');
  const config = { ...cfg, grid: gridItems(model, q) };
  const title = escapeHtml(model.title);
  const navbar = `<div class="navbar" aria-label="Grafana navbar">Home › Dashboards › ${title}</div>`;
  const sidemenu = '<div class="sidemenu" aria-label="Side menu"></div>';
  const grid = '<div class="react-grid-layout"></div>';
  const css = `${BASE_CSS}${layoutCss(cfg.layout, q)}
.navbar{height:40px;line-height:40px;padding:0 16px;background:#181b1f;border-bottom:1px solid #2c3235;box-sizing:border-box}
.sidemenu{width:56px;background:#181b1f;border-right:1px solid #2c3235}
.react-grid-layout{position:relative}
.react-grid-item{position:absolute;left:0;top:0;box-sizing:border-box}
.react-grid-item .panel{width:100%;height:100%}
.dashboard-row{height:30px;line-height:30px;font-size:16px;overflow:hidden}
.dashboard-row__title{background:none;border:0;color:inherit;font:inherit;cursor:pointer;padding:0}
.dashboard-row__count{color:#6e7580;font-size:12px;margin-left:8px}`;
  let body: string;
  let layoutCssText: string;
  if (cfg.layout === 'classic') {
    // Grafana ≤ 11.2: the app fills the viewport and the dashboard scrolls inside
    // CustomScrollbar's view; the document itself never grows.
    layoutCssText = `html,body{height:100%;overflow:hidden}
#reactRoot{height:100%}
.grafana-app{display:flex;height:100%}
.main-view{flex:1 1 auto;display:flex;flex-direction:column;min-width:0;height:100%}
.scrollbar-wrapper{position:relative;flex:1 1 0;overflow:hidden}
.scrollbar-view{position:absolute;top:0;left:0;right:0;bottom:0;overflow:auto}
.dashboard-container{padding:${kiosk ? '0' : '8px'}}`;
    body = `<div id="reactRoot"><div class="grafana-app">${kiosk ? '' : sidemenu}<main class="main-view">${kiosk ? '' : navbar}
<div class="scrollbar-wrapper"><div class="scrollbar-view"><div class="dashboard-container">${grid}</div></div></div></main></div></div>`;
  } else if (cfg.layout === 'scenes') {
    // Grafana ≥ 11.3: the body scrolls; kiosk keeps the controls bar unless told otherwise.
    layoutCssText = `body{overflow:visible}
.dashboard-controls{display:flex;gap:8px;align-items:center;height:48px;padding:0 8px;box-sizing:border-box}
.dashboard-controls button,.dashboard-controls .variable{height:32px;padding:0 12px;background:#22252b;border:1px solid #2c3235;color:#ccccdc;font:inherit;border-radius:2px;line-height:30px}
.dashboard-controls .spacer{flex:1}
.page{padding:${kiosk ? '0' : '8px'}}`;
    body = `${kiosk ? '' : navbar}${controlsBar(q)}<div class="page">${grid}</div>`;
  } else {
    layoutCssText = `body{overflow:visible}
.navbar{position:fixed;left:0;right:0;top:0;z-index:2}
.sidemenu{position:fixed;left:0;top:40px;bottom:0;z-index:2}
.page{padding:${kiosk ? '0' : '48px 8px 8px 64px'}}`;
    body = `${kiosk ? '' : navbar + sidemenu}<div class="page">${grid}</div>`;
  }
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title} - Dashboards - Grafana</title>
<style>${css}
${layoutCssText}</style></head>
<body>
${body}
${configScript(config)}
</body></html>`;
}

/**
 * Grafana 12's dashboard controls, which its kiosk mode keeps: variables, links, and the
 * time picker with zoom and refresh, each hidden by its `_dash.hide…` URL option.
 */
function controlsBar(q: URLSearchParams): string {
  const shown = (k: string) => !q.has(`_dash.${k}`) || q.get(`_dash.${k}`) === 'false';
  const parts: string[] = [];
  if (shown('hideVariables')) parts.push('<span class="variable">host: All</span>');
  if (shown('hideLinks')) parts.push('<button>Runbook</button>');
  parts.push('<span class="spacer"></span>');
  if (shown('hideTimePicker')) parts.push('<button aria-label="Time range picker">Last 6 hours</button><button aria-label="Zoom out time range">Zoom out</button><button data-testid="data-testid RefreshPicker run button">Refresh</button>');
  return parts.length > 1 ? `<div class="dashboard-controls" data-testid="data-testid dashboard controls">${parts.join('')}</div>` : '';
}

/**
 * A page that sends one request to `to` the way `kind` says (img, fetch, form post, or a
 * script-driven navigation) and shows one line of text: what a hostile or careless dashboard could
 * do with the renderer's credentials. Tests point `to` at a listener on another port.
 */
function probePage(kind: string, to: string): string {
  const target = JSON.stringify(to).replace(/</g, '\\u003c');
  const body: Record<string, string> = {
    img: `<img alt="" src="${escapeHtml(to)}">`,
    fetch: `<script>fetch(${target}, { credentials: 'include', mode: 'no-cors' }).catch(function () {});</script>`,
    form: `<iframe name="sink" style="display:none"></iframe><form id="f" method="post" action="${escapeHtml(to)}" target="sink"><input name="q" value="1"></form><script>document.getElementById('f').submit();</script>`,
    navigate: `<script>setTimeout(function () { location.href = ${target}; }, 50);</script>`,
  };
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>probe</title><style>${BASE_CSS}</style></head>
<body><p>probe: ${escapeHtml(kind)}</p>${body[kind] ?? ''}</body></html>`;
}

function loginPage(): string {
  // A working form, so a person can log in to the stand-in during the demo.
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Grafana</title>
<style>${BASE_CSS}
body{display:flex;align-items:center;justify-content:center;min-height:100vh}
.login-form{display:flex;flex-direction:column;gap:8px;width:320px}
.login-form input,.login-form button{padding:8px;font:inherit}
</style></head>
<body>
<form class="login-form" method="post" action="/login">
<h1>Welcome to Grafana</h1>
<input name="user" placeholder="email or username" autocomplete="username">
<input name="password" type="password" placeholder="password" autocomplete="current-password">
<button type="submit">Log in</button>
<div class="login-error"></div>
</form>
<script>
document.querySelector('.login-form').addEventListener('submit', function (ev) {
  ev.preventDefault();
  var f = ev.target;
  fetch('/login', { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user: f.user.value, password: f.password.value }) })
    .then(function (r) { return r.json().then(function (b) { return { ok: r.ok, body: b }; }); })
    .then(function (r) {
      if (r.ok) location.href = r.body.redirectUrl || '/';
      else document.querySelector('.login-error').textContent = r.body.message;
    });
});
</script>
</body></html>`;
}

function rotatePage(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Grafana</title><style>${BASE_CSS}</style></head>
<body><p>Your session needs to be rotated.</p></body></html>`;
}

/**
 * The in-page script, shared by panel and dashboard pages. Plain ES5-ish JS in a string
 * (not a TS function's toString(), which tsx would rewrite with helpers the browser
 * lacks). No template literals inside, so this outer template literal needs no escapes.
 *
 * Per panel: spinner → POST /api/ds/query → remove spinner → chart grows over
 * `animation` ms → one final frame → nothing changes anymore.
 */
const CLIENT_JS = String.raw`
(function () {
  'use strict';
  var cfg = JSON.parse(document.getElementById('standin-config').textContent);
  var tz = 'UTC';
  try { tz = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'; } catch (e) {}
  var lang = navigator.language || 'en-US';
  var status = window.__standin = { state: 'loading' };
  var panels = [];
  // What each real Grafana announces (DESIGN.md §8); the hand-drawn layout announces nothing.
  if (cfg.layout === 'classic') window.panelsRendered = 0;
  if (cfg.layout === 'scenes') { window.__grafanaSceneContext = { state: {} }; window.__grafanaRunningQueryCount = 0; }
  function rendered() { if (cfg.layout === 'classic') window.panelsRendered++; }
  function queries(delta) { if (cfg.layout === 'scenes') window.__grafanaRunningQueryCount += delta; }

  function updateState() {
    var loading = 0, drawing = 0, errors = 0;
    panels.forEach(function (p) {
      // A lazy panel the observer has not reported on yet may be about to load: until its
      // first report the page is not done (test-only knowledge: the reference camera's).
      if (p.state === 'loading' || (p.state === 'idle' && !p.seen)) loading++;
      else if (p.state === 'drawing' || p.state === 'waiting') drawing++;
      else if (p.state === 'error') errors++;
    });
    status.state = loading ? 'loading' : drawing ? 'drawing' : errors ? 'error' : 'done';
  }

  function timeLabel(ts) {
    var o = { timeZone: tz, hour: '2-digit', minute: '2-digit' };
    try { return new Date(ts).toLocaleTimeString(lang, o); }
    catch (e) { return new Date(ts).toLocaleTimeString('en-US', o); }
  }

  function Panel(root) {
    this.id = root.getAttribute('data-panel-id');
    this.body = root.querySelector('.panel-body');
    this.canvas = root.querySelector('canvas');
    this.spinner = root.querySelector('.panel-loading, .panel-loading-bar');
    // A lazy panel waits, without a loading indicator, until it scrolls into view.
    this.state = this.spinner ? 'loading' : 'idle';
    this.progress = 0;
  }

  Panel.prototype.load = function () {
    var self = this;
    if (!self.spinner) {
      self.spinner = document.createElement('div');
      self.spinner.className = cfg.layout === 'hand' ? 'panel-loading' : 'panel-loading-bar';
      self.spinner.setAttribute('aria-label', cfg.layout === 'hand' ? 'Loading' : 'Panel loading bar');
      self.body.appendChild(self.spinner);
      self.state = 'loading';
      updateState();
    }
    var req = { panelId: self.id, timezone: tz, language: lang };
    if (cfg.dataDelay !== null) req.dataDelay = cfg.dataDelay;
    queries(1);
    fetch('/api/ds/query', {
      method: 'POST', credentials: 'same-origin',
      headers: { 'content-type': 'application/json' }, body: JSON.stringify(req)
    }).then(function (r) {
      if (!r.ok) throw new Error(r.status === 401 ? 'Unauthorized' : 'Query failed: ' + r.status);
      return r.json();
    }).then(function (res) {
      queries(-1);
      var frame = res.results.A.frames[0];
      self.times = frame.data.values[0];
      self.values = frame.data.values[1];
      self.color = frame.schema.fields[1].config.color.fixedColor;
      self.spinner.remove();
      self.state = 'drawing';
      updateState();
      self.animate();
    }).catch(function (err) {
      if (self.state === 'loading') queries(-1);
      self.spinner.remove();
      var d = document.createElement('div');
      d.className = 'panel-error';
      d.textContent = String(err && err.message || err);
      self.body.appendChild(d);
      self.state = 'error';
      rendered();
      updateState();
    });
  };

  Panel.prototype.animate = function () {
    var self = this;
    var forever = cfg.animation === 'forever';
    var duration = forever ? 500 : cfg.animation;
    if (!forever && duration <= 0) { self.finish(); return; }
    var start = performance.now();
    function frame(now) {
      var t = now - start;
      if (forever) {
        // Never settles: a cursor sweeps across the finished chart.
        self.progress = Math.min(1, t / duration);
        self.draw(self.progress, (t / 2000) % 1);
        requestAnimationFrame(frame);
      } else if (t >= duration) {
        self.finish();
      } else {
        self.progress = t / duration;
        self.draw(self.progress, null);
        requestAnimationFrame(frame);
      }
    }
    requestAnimationFrame(frame);
  };

  Panel.prototype.finish = function () {
    this.progress = 1;
    this.draw(1, null);
    this.state = cfg.wave && !this.annotation ? 'waiting' : 'done';
    rendered();
    updateState();
    if (this.state === 'waiting') this.secondWave();
  };

  // The page looks finished now, with nothing in flight and nothing animating; the
  // second wave is only scheduled (a timer) or a module on its way.
  Panel.prototype.secondWave = function () {
    var self = this;
    function annotate() {
      self.annotation = true;
      self.finish();
    }
    if (cfg.wave.kind === 'module') {
      window.__standinWave = annotate;
      var s = document.createElement('script');
      s.src = '/public/plugins/wave/module.js?delay=' + cfg.wave.after;
      document.head.appendChild(s);
    } else {
      setTimeout(function () {
        fetch('/api/annotations', { credentials: 'same-origin' }).then(function (r) { return r.json(); }).then(annotate);
      }, cfg.wave.after);
    }
  };

  Panel.prototype.fit = function () {
    var dpr = window.devicePixelRatio || 1;
    var r = this.body.getBoundingClientRect();
    var w = Math.max(1, Math.round(r.width)), h = Math.max(1, Math.round(r.height));
    var pw = Math.round(w * dpr), ph = Math.round(h * dpr);
    if (this.canvas.width !== pw || this.canvas.height !== ph) {
      this.canvas.width = pw;
      this.canvas.height = ph;
    }
    var ctx = this.canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    return { ctx: ctx, w: w, h: h };
  };

  Panel.prototype.draw = function (progress, cursor) {
    var f = this.fit(), ctx = f.ctx, w = f.w, h = f.h;
    var L = 48, R = 16, T = 12, B = 28;
    var pw = Math.max(1, w - L - R), ph = Math.max(1, h - T - B);
    var vs = this.values, n = vs.length;
    var min = Math.min.apply(null, vs), max = Math.max.apply(null, vs);
    var lo = Math.floor(min / 10) * 10, hi = Math.ceil(max / 10) * 10;
    if (hi === lo) hi = lo + 10;
    function x(i) { return L + pw * i / (n - 1); }
    function y(v) { return T + ph * (1 - (v - lo) / (hi - lo)); }

    ctx.clearRect(0, 0, w, h);
    ctx.fillStyle = '#181b1f';
    ctx.fillRect(0, 0, w, h);

    ctx.font = '11px Inter, Helvetica, Arial, sans-serif';
    ctx.strokeStyle = 'rgba(204,204,220,0.12)';
    ctx.fillStyle = '#9fa7b3';
    ctx.lineWidth = 1;
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (var g = 0; g <= 4; g++) {
      var gv = lo + (hi - lo) * g / 4, gy = Math.round(y(gv)) + 0.5;
      ctx.beginPath(); ctx.moveTo(L, gy); ctx.lineTo(L + pw, gy); ctx.stroke();
      ctx.fillText(String(Math.round(gv * 10) / 10), L - 6, gy);
    }
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    var perHour = Math.round((n - 1) / 6);
    for (var i = 0; i < n; i += perHour) {
      var gx = Math.round(x(i)) + 0.5;
      ctx.beginPath(); ctx.moveTo(gx, T); ctx.lineTo(gx, T + ph); ctx.stroke();
      // Edge labels hug the plot so they are never clipped by the canvas.
      ctx.textAlign = i === 0 ? 'left' : i + perHour >= n ? 'right' : 'center';
      ctx.fillText(timeLabel(this.times[i]), i === 0 ? L : i + perHour >= n ? L + pw : gx, T + ph + 8);
    }

    // The series grows from the left; the last point is interpolated for smoothness.
    var end = progress * (n - 1), whole = Math.floor(end), frac = end - whole;
    var pts = [];
    for (var k = 0; k <= whole; k++) pts.push([x(k), y(vs[k])]);
    if (whole < n - 1 && frac > 0) {
      pts.push([x(whole + frac), y(vs[whole] + (vs[whole + 1] - vs[whole]) * frac)]);
    }
    if (pts.length > 1) {
      ctx.beginPath();
      ctx.moveTo(pts[0][0], T + ph);
      pts.forEach(function (p) { ctx.lineTo(p[0], p[1]); });
      ctx.lineTo(pts[pts.length - 1][0], T + ph);
      ctx.closePath();
      ctx.globalAlpha = 0.2;
      ctx.fillStyle = this.color;
      ctx.fill();
      ctx.globalAlpha = 1;
      ctx.beginPath();
      pts.forEach(function (p, j) { if (j) ctx.lineTo(p[0], p[1]); else ctx.moveTo(p[0], p[1]); });
      ctx.strokeStyle = this.color;
      ctx.lineWidth = 2;
      ctx.stroke();
    }

    if (this.annotation) {
      // Opaque, so tests can find its exact colour.
      ctx.fillStyle = '#f2cc0c';
      ctx.fillRect(Math.round(x(40)) - 3, T, 6, ph);
    }

    if (cursor !== null) {
      var cx = Math.round(L + pw * cursor) + 0.5;
      ctx.strokeStyle = 'rgba(255,255,255,0.6)';
      ctx.lineWidth = 1;
      ctx.beginPath(); ctx.moveTo(cx, T); ctx.lineTo(cx, T + ph); ctx.stroke();
    }

    // Which timezone/language the browser had: visible proof the renderer set them.
    ctx.fillStyle = '#6e7580';
    ctx.textAlign = 'right';
    ctx.textBaseline = 'top';
    ctx.fillText(tz + ' · ' + lang, L + pw, 2);
  };

  // ---- grid dashboards: react-grid-layout positions, rows, lazy loading ----
  var G = { columns: 24, cellHeight: 30, margin: 8 };
  var layout = document.querySelector('.react-grid-layout');
  var items = [];
  // Grafana's LazyLoader: the browser viewport with a 100 px margin. Whatever clips the
  // panel (classic Grafana's inner scroller) hides it from the observer too.
  var lazy = 'IntersectionObserver' in window ? new IntersectionObserver(function (entries) {
    entries.forEach(function (e) {
      panels.forEach(function (p) { if (p.root === e.target) p.seen = true; });
      if (!e.isIntersecting) { updateState(); return; }
      lazy.unobserve(e.target);
      panels.forEach(function (p) { if (p.root === e.target && p.state === 'idle') p.load(); });
    });
  }, cfg.layout === 'hand' ? {} : { rootMargin: '100px' }) : null;

  function escapeText(s) { var d = document.createElement('div'); d.textContent = s; return d.innerHTML; }

  function gridElement(item) {
    var el = document.createElement('div');
    el.className = 'react-grid-item';
    if (item.row) {
      el.innerHTML = rowHtml(item);
      el.querySelector('button').addEventListener('click', function () { toggleRow(item, el); });
    } else {
      var id = escapeText(item.id), title = escapeText(item.title);
      var attrs = cfg.layout === 'scenes' ? ' data-viz-panel-key="panel-' + id + '"' : cfg.layout === 'classic' ? ' data-panelid="' + id + '"' : '';
      el.innerHTML = '<div class="panel" data-panel-id="' + id + '"' + attrs + '><div class="panel-title">' + title +
        (cfg.layout === 'scenes' ? '<button class="panel-menu show-on-hover" aria-label="Menu for panel ' + title + '">&#8942;</button>' : '') + '</div>' +
        '<div class="panel-body" data-testid="data-testid panel content"><canvas></canvas></div></div>';
      var p = new Panel(el.querySelector('.panel'));
      p.root = el;
      panels.push(p);
      if (lazy) lazy.observe(el); else p.load();
    }
    item.el = el;
    layout.appendChild(el);
    return el;
  }

  // A row header as each Grafana marks it (render/dashboard.ts EXPAND_ROWS_EXPRESSION):
  // classic (and the hand-drawn page) with .dashboard-row--collapsed and aria-expanded,
  // Grafana 12's scenes with neither, only aria-label "Expand row" / "Collapse row".
  function rowHtml(item) {
    var c = item.row.collapsed, title = escapeText(item.title), n = item.row.panels.length;
    var label = (c ? '&#9656; ' : '&#9662; ') + title + (c ? '<span class="dashboard-row__count">(' + n + (n === 1 ? ' panel)' : ' panels)') + '</span>' : '');
    var testid = ' data-testid="data-testid dashboard-row-title-' + title + '"';
    if (cfg.layout === 'scenes') return '<div class="dashboard-row"><button class="dashboard-row__title"' + testid + ' aria-label="' + (c ? 'Expand row' : 'Collapse row') + '">' + label + '</button></div>';
    return '<div class="dashboard-row' + (c ? ' dashboard-row--collapsed' : '') + '" data-testid="dashboard-row-container"><button class="dashboard-row__title" aria-expanded="' + !c + '"' + testid + '>' + label + '</button></div>';
  }

  function position() {
    var width = layout.getBoundingClientRect().width;
    var col = (width - G.margin * (G.columns - 1)) / G.columns;
    var bottom = 0;
    items.forEach(function (it) {
      var left = Math.round(it.x * (col + G.margin)), top = it.y * (G.cellHeight + G.margin);
      var w = Math.round(it.w * col + (it.w - 1) * G.margin), h = it.h * G.cellHeight + (it.h - 1) * G.margin;
      it.el.style.transform = 'translate(' + left + 'px,' + top + 'px)';
      it.el.style.width = w + 'px';
      it.el.style.height = h + 'px';
      bottom = Math.max(bottom, top + h);
    });
    layout.style.height = bottom + 'px';
  }

  function toggleRow(item, el) {
    if (!item.row.collapsed) return;
    item.row.collapsed = false;
    layout.removeChild(el);
    items.splice(items.indexOf(item), 1);
    var copy = { id: item.id, title: item.title, x: item.x, y: item.y, w: item.w, h: item.h, row: { collapsed: false, panels: [] } };
    items.push(copy);
    gridElement(copy);
    item.row.panels.forEach(function (p) { items.push(p); gridElement(p); });
    position();
    updateState();
  }

  function start() {
    if (cfg.grid) {
      items = cfg.grid.slice();
      items.forEach(gridElement);
      position();
    } else {
      var roots = document.querySelectorAll('.panel');
      for (var i = 0; i < roots.length; i++) panels.push(new Panel(roots[i]));
    }
    updateState();
    if (cfg.extra) fetch(cfg.extra, { mode: 'no-cors' }).catch(function () {});
    if (cfg.rearm) (function tick() { setTimeout(tick, 100); })();
    if (cfg.cancelFrame) cancelAnimationFrame(requestAnimationFrame(function () {}));
    if (cfg.freeze) { var frozenUntil = Date.now() + cfg.freeze; while (Date.now() < frozenUntil) { /* busy */ } }
    panels.forEach(function (p) { if (p.state === 'loading') p.load(); });
  }

  // A viewport change (e.g. device metrics set after load) re-fits finished charts once.
  window.addEventListener('resize', function () {
    if (cfg.grid) position();
    panels.forEach(function (p) { if (p.state === 'done') p.draw(1, null); });
  });

  function ready() { setTimeout(start, 0); }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', ready);
  else ready();
})();
`;

// One render from request to PNG: acquire a warm Chrome → decide how the browser
// authenticates → capture → encode → release. The only place that knows all of pool,
// Grafana session and capture; each of those knows nothing of the others.
import type { BrowserPool } from '../browser/pool';
import type { Config } from '../config';
import { browserFailed, cancelled, grafanaAuthRejected, PanelshotError, renderTimeout } from '../errors';
import type { GrafanaLogin, SessionCookie } from '../grafana/login';
import { capture, TimeoutWithoutFrame, type CaptureSpec, type StageCookie } from './capture';
import { isDashboardPage, kioskUrl } from './dashboard';
import { pageBox, printPdf } from './pdf';
import type { RenderCache } from './cache';
import { encode, encodingLabel } from './encode';
import { exactSize } from './stability';
import type { RenderedImage, RenderRequest, RenderResult, RenderTimings } from './types';

export interface RendererDeps {
  config: Config;
  pool: BrowserPool;
  /** Undefined when no GRAFANA_USER/GRAFANA_PASS is configured. */
  login?: GrafanaLogin;
  /** CACHE_TTL_S > 0: finished images of direct calls, reused within the TTL. */
  cache?: RenderCache;
}

type BrowserAuth =
  | { kind: 'renderKey'; cookies: StageCookie[] }
  | { kind: 'session'; cookies: StageCookie[]; used: SessionCookie[] }
  | { kind: 'token'; cookies: []; bearer: string }
  | { kind: 'none'; cookies: [] };

/** Time kept back from the caller's timeout for encoding and sending the answer. */
const ANSWER_MARGIN_MS = 300;
/** Time kept back from the capture of a PDF render for printing it. */
const PRINT_MARGIN_MS = 1500;
/** A retry is only worth it with this much of the request's time left. */
const MIN_RETRY_MS = 1500;

/** Chrome or chromedriver failed under a render (crash, hang, protocol error). */
class BrowserCrashed extends Error {
  constructor(readonly original: unknown) {
    super(String((original as Error)?.message ?? original));
  }
}

function unwrap(e: unknown): unknown {
  return e instanceof BrowserCrashed ? browserFailed(`Chrome failed during the render (${e.message.split('\n')[0]!.slice(0, 160)}); the session was replaced, try again`) : e;
}

function shareKey(r: RenderRequest): string {
  return JSON.stringify([r.url.toString(), r.width, r.height, r.deviceScaleFactor, r.timeoutMs, r.timezone ?? '', r.acceptLanguage ?? '', r.pdf ?? null, r.expandRows ?? false]);
}

export class Renderer {
  private readonly loginPaths: string[];
  private readonly inflight = new Map<string, Promise<RenderResult>>();

  constructor(private readonly d: RendererDeps) {
    const base = d.config.grafanaUrl.pathname;
    this.loginPaths = [`${base}login`, `${base}user/auth-tokens/rotate`];
  }

  /** A render in the format the request asks for (PNG unless `output` says otherwise). */
  async image(req: RenderRequest, arrivedAt = Date.now()): Promise<RenderedImage> {
    // Never for renderKey requests (a user's view) nor for batch panels (cancellable).
    const output = req.output ?? { format: 'png' as const };
    const cacheKey = this.d.cache && !req.renderKey && !req.signal ? `${shareKey(req)}|${encodingLabel(output)}` : undefined;
    if (cacheKey) {
      const hit = this.d.cache!.get(cacheKey);
      if (hit) {
        const totalMs = Date.now() - arrivedAt;
        return { ...hit, timings: { queueMs: 0, authMs: 0, navigateMs: 0, dataMs: 0, stableMs: 0, framesCompared: 0, encodeMs: 0, totalMs }, trace: [] };
      }
    }
    const r = await this.render(req, arrivedAt);
    const encodeStart = Date.now();
    // A PDF was made by the print step in the tab; a picture is encoded from the frame.
    const img = r.pdf ? { body: r.pdf.body, contentType: 'application/pdf', ext: 'pdf' } : await encode(r.png, output);
    const encodeMs = Date.now() - encodeStart;
    const timings = { ...r.timings, encodeMs: r.timings.encodeMs + encodeMs, totalMs: r.timings.totalMs + encodeMs };
    const image: RenderedImage = { ...img, settled: r.settled, timings, trace: r.trace, auth: r.auth, shared: r.shared };
    // A best frame before the timeout is no answer to keep: the next request tries again.
    if (cacheKey && image.settled) this.d.cache!.set(cacheKey, image);
    return image;
  }

  /**
   * Identical requests in flight at the same time share one render: a burst of alerts for
   * the same panel costs one Chrome, not one each. renderKey requests never share, since
   * each key stands for a user.
   */
  async render(req: RenderRequest, arrivedAt = Date.now()): Promise<RenderResult & { shared: boolean }> {
    // A cancellable render (a batch panel) neither joins nor offers sharing: its cancel must
    // not fail somebody else's request.
    const key = req.renderKey || req.signal ? undefined : shareKey(req);
    const running = key ? this.inflight.get(key) : undefined;
    if (running) return { ...(await running), shared: true };
    const p = this.renderWithRetry(req, arrivedAt);
    if (key) {
      this.inflight.set(key, p);
      p.catch(() => undefined).finally(() => this.inflight.delete(key));
    }
    return { ...(await p), shared: false };
  }

  /** A Chrome that dies mid-render costs one retry on a fresh session, if time is left. */
  private async renderWithRetry(req: RenderRequest, arrivedAt: number): Promise<RenderResult> {
    // The answer must be on the wire before the caller's timeout, not start at it.
    const deadline = arrivedAt + req.timeoutMs - ANSWER_MARGIN_MS;
    try {
      return await this.renderOnce(req, arrivedAt, deadline);
    } catch (e) {
      if (!(e instanceof BrowserCrashed) || deadline - Date.now() < MIN_RETRY_MS) throw unwrap(e);
      try {
        return await this.renderOnce(req, arrivedAt, deadline);
      } catch (e2) {
        throw unwrap(e2);
      }
    }
  }

  private async renderOnce(req: RenderRequest, arrivedAt: number, deadline: number): Promise<RenderResult> {
    if (req.signal?.aborted) throw cancelled();
    const session = await this.d.pool.acquire(deadline);
    if (req.signal?.aborted) {
      // Nobody waits for this any more: not even a page load.
      this.d.pool.giveBack(session);
      throw cancelled();
    }
    session.deadline = deadline;
    const queueMs = Date.now() - arrivedAt;
    try {
      let authStart = Date.now();
      let auth = await this.browserAuth(req);
      let authMs = Date.now() - authStart;
      // A PDF is printed after the page settled: that step gets its own slice of the time.
      const captureDeadline = req.pdf ? deadline - Math.min(PRINT_MARGIN_MS, req.timeoutMs / 4) : deadline;
      let outcome = await this.attempt(session, req, auth, captureDeadline);
      if (outcome.kind === 'login-page' && auth.kind === 'session') {
        // Grafana stopped accepting our session (expired, revoked, restarted): one fresh
        // login and one more try, in a clean tab.
        this.d.login!.invalidate(auth.used);
        await session.reset();
        authStart = Date.now();
        auth = await this.browserAuth(req);
        authMs += Date.now() - authStart;
        outcome = await this.attempt(session, req, auth, captureDeadline);
      }
      if (outcome.kind === 'login-page') throw this.loginPageError(auth.kind, outcome.path);

      const encodeStart = Date.now();
      if (!outcome.settled && this.d.config.onTimeout === 'error') {
        throw renderTimeout(`the page did not settle within ${req.timeoutMs} ms (ON_TIMEOUT=error)`);
      }
      // The output step: the settled frame as PNG, or the settled page printed to PDF.
      const png = req.pdf ? outcome.png : await exactSize(outcome.png, Math.round(req.width * req.deviceScaleFactor), Math.round(outcome.cssHeight * req.deviceScaleFactor));
      const pdf = req.pdf ? await printPdf(session, req.pdf, req.width, { maxPages: this.d.config.maxPdfPages, maxBytes: this.d.config.maxPdfBytes }, deadline) : undefined;
      const timings: RenderTimings = {
        queueMs,
        authMs,
        navigateMs: outcome.navigateMs,
        dataMs: outcome.dataMs,
        stableMs: outcome.stableMs,
        framesCompared: outcome.framesCompared,
        encodeMs: Date.now() - encodeStart,
        totalMs: Date.now() - arrivedAt,
      };
      return { png, pdf, settled: outcome.settled, timings, trace: outcome.trace, auth: auth.kind };
    } catch (e) {
      if (e instanceof TimeoutWithoutFrame) throw renderTimeout(`the page produced no picture within ${req.timeoutMs} ms`);
      if (e instanceof PanelshotError) throw e;
      // Anything else came from Chrome or chromedriver: the session is in doubt.
      session.broken = true;
      throw new BrowserCrashed(e);
    } finally {
      session.deadline = undefined;
      this.d.pool.release(session);
    }
  }

  private async attempt(session: Parameters<typeof capture>[0], req: RenderRequest, auth: BrowserAuth, deadline: number) {
    const c = this.d.config;
    // Whole dashboards (PDF, height=-1) are shown the way kiosk mode shows them. A PDF page
    // is laid out at the paper's page box for the requested width, so print and screen agree.
    const whole = req.pdf !== undefined || req.height === 'full';
    const spec: CaptureSpec = {
      url: whole ? kioskUrl(req.url) : req.url,
      width: req.width,
      height: req.pdf ? 'full' : req.height,
      firstHeight: req.pdf ? Math.floor(pageBox(req.pdf, req.width).pageHeight) : undefined,
      expandRows: req.expandRows && isDashboardPage(req.url),
      scale: req.deviceScaleFactor,
      maxHeight: c.maxHeight,
      timezone: req.timezone ?? c.defaultTimezone,
      acceptLanguage: req.acceptLanguage,
      cookies: auth.cookies,
      bearer: auth.kind === 'token' ? auth.bearer : undefined,
      allowedOrigin: c.grafanaUrl.origin,
      loginPaths: this.loginPaths,
      deadline,
      stability: { intervalMs: c.stableIntervalMs, frames: c.stableFrames, tolerance: c.stableTolerance },
    };
    return capture(session, spec);
  }

  /**
   * Grafana's requests carry a renderKey: the browser gets that cookie and nothing else, so
   * the picture shows what the requesting user may see. Direct calls use our token or session.
   */
  private async browserAuth(req: RenderRequest): Promise<BrowserAuth> {
    const g = this.d.config.grafanaUrl;
    if (req.renderKey) {
      return {
        kind: 'renderKey',
        cookies: [{ name: 'renderKey', value: req.renderKey.key, domain: req.renderKey.domain, path: '/', httpOnly: true, sameSite: 'Lax' }],
      };
    }
    if (this.d.config.grafanaToken) return { kind: 'token', cookies: [], bearer: this.d.config.grafanaToken };
    if (this.d.login) {
      const used = await this.d.login.cookies();
      return {
        kind: 'session',
        used,
        cookies: used.map((c) => ({ name: c.name, value: c.value, domain: g.hostname, path: c.path, httpOnly: c.httpOnly, secure: c.secure, sameSite: c.sameSite })),
      };
    }
    return { kind: 'none', cookies: [] };
  }

  private loginPageError(kind: BrowserAuth['kind'], path: string): PanelshotError {
    const where = `the browser ended on Grafana's ${path.endsWith('rotate') ? 'token-rotation' : 'login'} page`;
    switch (kind) {
      case 'renderKey':
        return grafanaAuthRejected(
          `${where}: Grafana did not accept the renderKey. Most often grafana.ini [rendering] callback_url and the 'domain' Grafana sends do not match the host in the page URL, or the key expired; set callback_url to the URL panelshot's browser reaches Grafana at (GRAFANA_URL)`,
        );
      case 'session':
        return grafanaAuthRejected(`${where} even after a fresh login as GRAFANA_USER: the user may lack access to this dashboard, or Grafana's cookie settings (root_url, cookie_secure) do not fit GRAFANA_URL`);
      case 'token':
        return grafanaAuthRejected(`${where}: Grafana did not accept GRAFANA_TOKEN for this page (revoked, expired, or lacking access to this dashboard)`);
      case 'none':
        return grafanaAuthRejected(`${where}: no credentials are configured; set GRAFANA_USER/GRAFANA_PASS or GRAFANA_TOKEN for direct calls`);
    }
  }
}

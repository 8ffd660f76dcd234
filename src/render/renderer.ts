// One render from request to answer: acquire a warm Chrome → decide how the browser
// authenticates → the output step (capture and encode a picture, print a PDF, or take the
// page's CSV download) → release. The only place that knows all of pool, Grafana session
// and the steps; each of those knows nothing of the others.
import type { BrowserPool } from '../browser/pool';
import type { Config } from '../config';
import { OutOfTime, type BrowserSession } from '../browser/session';
import { browserFailed, cancelled, grafanaAuthRejected, notImplemented, PanelshotError, renderTimeout } from '../errors';
import type { GrafanaLogin, SessionCookie } from '../grafana/login';
import { capture, TimeoutWithoutFrame, type CaptureSpec, type LoginPage, type PageSpec, type StageCookie } from './capture';
import { CSV_VIEWPORT, downloadCsv, downloadsParent } from './csv';
import { isDashboardPage, kioskUrl } from './dashboard';
import { pageBox, printPdf, printPicture } from './pdf';
import type { RenderCache } from './cache';
import { encode, encodingLabel } from './encode';
import { exactSize } from './stability';
import type { CsvRequest, CsvResult, PageRequest, RenderedImage, RenderRequest, RenderResult, RenderTimings } from './types';

export interface RendererDeps {
  config: Config;
  pool: BrowserPool;
  /** Undefined when no GRAFANA_USER/GRAFANA_PASS is configured. */
  login?: GrafanaLogin;
  /** CACHE_TTL_S > 0: finished images of direct calls, reused within the TTL. */
  cache?: RenderCache;
  /** Parent of the per-render CSV download directories (render/csv.ts prepareDownloadsParent). */
  downloads?: string;
}

/**
 * An output step: opens the page in the session with these credentials and makes the
 * output, or tells that the page ended on Grafana's login page.
 */
type Step<T> = (session: BrowserSession, auth: BrowserAuth) => Promise<T | LoginPage>;

interface SessionRun<T> {
  value: T;
  queueMs: number;
  authMs: number;
  auth: BrowserAuth['kind'];
}

const isLoginPage = (o: unknown): o is LoginPage => (o as LoginPage | undefined)?.kind === 'login-page';

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

/** A PDF of a whole dashboard (or of any page at height=-1): paged, not one picture. */
function wholePdf(r: RenderRequest): boolean {
  return r.pdf !== undefined && (isDashboardPage(r.url) || r.height === 'full');
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

  /** A picture or PDF; a Chrome that dies mid-render costs one retry on a fresh session, if time is left. */
  private renderWithRetry(req: RenderRequest, arrivedAt: number): Promise<RenderResult> {
    // The answer must be on the wire before the caller's timeout, not start at it.
    const deadline = arrivedAt + req.timeoutMs - ANSWER_MARGIN_MS;
    return this.withRetry(deadline, () => this.renderOnce(req, arrivedAt, deadline));
  }

  /**
   * The CSV the page downloads (Grafana Enterprise's table export), through the same
   * lifecycle, auth, deadline and retries as a picture. Never shared or cached: each
   * export is one user's (renderKey) or cheap enough.
   */
  async csv(req: CsvRequest, arrivedAt = Date.now()): Promise<CsvResult> {
    // A Grid's Chrome saves downloads on its node's disk, which panelshot cannot read.
    if (this.d.config.seleniumRemoteUrl) throw notImplemented('CSV export is not served through a Selenium Grid (SELENIUM_REMOTE_URL): the download lands on the node\'s disk; run a panelshot with local Chrome for /render/csv');
    const deadline = arrivedAt + req.timeoutMs - ANSWER_MARGIN_MS;
    const parent = this.d.downloads ?? downloadsParent();
    const limits = { maxBytes: this.d.config.maxCsvBytes };
    const run = await this.withRetry(deadline, () =>
      this.withSession(req, arrivedAt, deadline, (session, auth) =>
        downloadCsv(session, this.pageSpec(req, auth, CSV_VIEWPORT.width, CSV_VIEWPORT.scale, deadline), limits, parent),
      ),
    );
    const { body, fileName, navigateMs, dataMs, downloadMs } = run.value;
    return { body, fileName, auth: run.auth, timings: { queueMs: run.queueMs, authMs: run.authMs, navigateMs, dataMs, downloadMs, totalMs: Date.now() - arrivedAt } };
  }

  /** A Chrome that dies mid-render costs one retry on a fresh session, if time is left. */
  private async withRetry<T>(deadline: number, once: () => Promise<T>): Promise<T> {
    try {
      return await once();
    } catch (e) {
      if (!(e instanceof BrowserCrashed) || deadline - Date.now() < MIN_RETRY_MS) throw unwrap(e);
      try {
        return await once();
      } catch (e2) {
        throw unwrap(e2);
      }
    }
  }

  private async renderOnce(req: RenderRequest, arrivedAt: number, deadline: number): Promise<RenderResult> {
    // A PDF is printed after the page settled: that step gets its own slice of the time.
    const captureDeadline = req.pdf ? deadline - Math.min(PRINT_MARGIN_MS, req.timeoutMs / 4) : deadline;
    const run = await this.withSession(req, arrivedAt, deadline, async (session, auth) => {
      let outcome;
      try {
        outcome = await this.attempt(session, req, auth, captureDeadline);
      } catch (e) {
        if (e instanceof TimeoutWithoutFrame) throw renderTimeout(`the page produced no picture within ${req.timeoutMs} ms`);
        throw e;
      }
      if (outcome.kind === 'login-page') return outcome;
      const encodeStart = Date.now();
      if (!outcome.settled && this.d.config.onTimeout === 'error') {
        throw renderTimeout(`the page did not settle within ${req.timeoutMs} ms (ON_TIMEOUT=error)`);
      }
      // The output step: the settled frame as PNG, or the settled page printed to PDF.
      const png = req.pdf ? outcome.png : await exactSize(outcome.png, Math.round(req.width * req.deviceScaleFactor), Math.round(outcome.cssHeight * req.deviceScaleFactor));
      const limits = { maxPages: this.d.config.maxPdfPages, maxBytes: this.d.config.maxPdfBytes };
      const pdf = !req.pdf ? undefined : wholePdf(req) ? await printPdf(session, req.pdf, req.width, limits, deadline) : await printPicture(session, req.pdf, req.width, outcome.cssHeight, limits, deadline);
      return { frame: outcome, png, pdf, encodeMs: Date.now() - encodeStart };
    });
    const { frame, png, pdf, encodeMs } = run.value;
    const timings: RenderTimings = {
      queueMs: run.queueMs,
      authMs: run.authMs,
      navigateMs: frame.navigateMs,
      dataMs: frame.dataMs,
      stableMs: frame.stableMs,
      framesCompared: frame.framesCompared,
      encodeMs,
      totalMs: Date.now() - arrivedAt,
    };
    return { png, pdf, settled: frame.settled, timings, trace: frame.trace, auth: run.auth };
  }

  /**
   * The lifecycle every output shares: acquire a warm session → decide how the browser
   * authenticates → `step` → release (the pool resets the tab before anyone else gets
   * it). When the page lands on Grafana's login page with our own session, Grafana stopped
   * accepting it (expired, revoked, restarted): one fresh login and one more try, in a
   * clean tab. Anything not a PanelshotError came from Chrome: the session is in doubt.
   */
  private async withSession<T>(req: PageRequest & { signal?: AbortSignal }, arrivedAt: number, deadline: number, step: Step<T>): Promise<SessionRun<T>> {
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
      let outcome = await step(session, auth);
      if (isLoginPage(outcome) && auth.kind === 'session') {
        this.d.login!.invalidate(auth.used);
        await session.reset();
        authStart = Date.now();
        auth = await this.browserAuth(req);
        authMs += Date.now() - authStart;
        outcome = await step(session, auth);
      }
      if (isLoginPage(outcome)) throw this.loginPageError(auth.kind, outcome.path);
      return { value: outcome, queueMs, authMs, auth: auth.kind };
    } catch (e) {
      if (e instanceof PanelshotError) throw e;
      // Out of time is no crash: the session stays (its reset shows whether Chrome answers).
      if (e instanceof OutOfTime) throw renderTimeout(`the render did not finish within ${req.timeoutMs} ms (${e.message})`);
      session.broken = true;
      throw new BrowserCrashed(e);
    } finally {
      session.deadline = undefined;
      this.d.pool.release(session);
    }
  }

  /** The stage every output opens its page with: credentials, locale, where it may go. */
  private pageSpec(req: PageRequest, auth: BrowserAuth, width: number, scale: number, deadline: number): PageSpec {
    const c = this.d.config;
    return {
      url: req.url,
      width,
      scale,
      timezone: req.timezone ?? c.defaultTimezone,
      acceptLanguage: req.acceptLanguage,
      cookies: auth.cookies,
      bearer: auth.kind === 'token' ? auth.bearer : undefined,
      allowedOrigin: c.grafanaUrl.origin,
      loginPaths: this.loginPaths,
      deadline,
    };
  }

  private async attempt(session: BrowserSession, req: RenderRequest, auth: BrowserAuth, deadline: number) {
    const c = this.d.config;
    // Whole dashboards (PDF, height=-1) are shown the way kiosk mode shows them. A
    // dashboard's PDF settles in a viewport one page box tall (so print and screen agree)
    // and grows to the whole dashboard; any other page's PDF is laid out at width×height,
    // as its PNG, and printed as that one picture.
    const whole = wholePdf(req);
    const spec: CaptureSpec = {
      ...this.pageSpec(req, auth, req.width, req.deviceScaleFactor, deadline),
      url: req.pdf !== undefined || req.height === 'full' ? kioskUrl(req.url) : req.url,
      height: whole ? 'full' : req.height,
      firstHeight: whole ? Math.floor(pageBox(req.pdf!, req.width).pageHeight) : undefined,
      expandRows: req.expandRows && isDashboardPage(req.url),
      maxHeight: c.maxHeight,
      stability: { intervalMs: c.stableIntervalMs, frames: c.stableFrames, tolerance: c.stableTolerance },
    };
    return capture(session, spec);
  }

  /**
   * Grafana's requests carry a renderKey: the browser gets that cookie and nothing else, so
   * the picture shows what the requesting user may see. Direct calls use our token or session.
   */
  private async browserAuth(req: PageRequest): Promise<BrowserAuth> {
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

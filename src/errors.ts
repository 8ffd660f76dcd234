// Every failure a caller can see is one of these. Each says when it happens; `toHttp`
// below is the only place that turns them into a status code and a JSON body.
// Messages are written for an operator and never contain secrets (passwords, tokens,
// cookies, renderKeys): callers build them from safe parts only.

export type ErrorCode =
  | 'bad_request'
  | 'unauthorized'
  | 'forbidden_url'
  | 'forbidden_link'
  | 'not_found'
  | 'output_too_large'
  | 'not_implemented'
  | 'too_busy'
  | 'render_timeout'
  | 'no_download'
  | 'grafana_login_failed'
  | 'grafana_unreachable'
  | 'grafana_auth_rejected'
  | 'browser_failed'
  | 'shutting_down'
  | 'cancelled'
  | 'capture_size_mismatch'
  | 'internal';

export class PanelshotError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Seconds for a Retry-After header, when waiting helps. */
    readonly retryAfterS?: number,
    /** Further response headers the status needs (WWW-Authenticate with a 401). */
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'PanelshotError';
  }
}

/**
 * A caller's input as quoted in an error message: printable ASCII only (no control
 * characters into logs or terminals), at most `max` characters.
 */
export function quoteInput(s: string, max = 60): string {
  const clean = s.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

/** Happens when a query parameter is missing, malformed or out of range. → 400 */
export const badRequest = (msg: string) => new PanelshotError('bad_request', msg);

/** Happens when X-Auth-Token is missing or is none of AUTH_TOKEN. → 401 */
export const unauthorized = () =>
  new PanelshotError('unauthorized', 'missing or wrong X-Auth-Token (it must equal one of AUTH_TOKEN, i.e. grafana.ini [rendering] renderer_token)');

/** Happens when the status page is opened beyond loopback without an AUTH_TOKEN value as the Basic-auth password. → 401 */
export const statusUnauthorized = () =>
  new PanelshotError('unauthorized', 'the status page needs one of AUTH_TOKEN as the password (HTTP Basic auth, any user name)', undefined, { 'WWW-Authenticate': 'Basic realm="panelshot", charset="UTF-8"' });

/** Happens when `url` is not on GRAFANA_URL's origin, or the page redirected off it. → 403 */
export const forbiddenUrl = (msg: string) => new PanelshotError('forbidden_url', msg);

/** Happens when a signed link is tampered with, expired, or signed by no secret in LINK_SECRET. → 403 */
export const linkRejected = (msg: string) => new PanelshotError('forbidden_link', msg);

/** Happens when the dashboard (or another Grafana object) asked for does not exist in Grafana. → 404 */
export const notFound = (msg: string) => new PanelshotError('not_found', msg);

/** Happens when every Chrome is busy and the queue is full, or the wait in it ran out, or no session exists because the Selenium Grid has no free slot. → 429 with Retry-After */
export const tooBusy = (msg: string, retryAfterS = 5) => new PanelshotError('too_busy', msg, retryAfterS);

/** Happens when the page did not settle before the timeout and ON_TIMEOUT=error. → 408 */
export const renderTimeout = (msg: string) => new PanelshotError('render_timeout', msg);

/**
 * Happens on /render/csv when the page started no download before the deadline, or its
 * download did not finish (or was cancelled) in time: the page is no CSV export, or its
 * data took longer than `timeout`. Never an empty 200: Grafana would save an empty file. → 504
 */
export const noDownload = (msg: string) => new PanelshotError('no_download', msg);

/** Happens when Grafana rejects GRAFANA_USER/GRAFANA_PASS; we back off instead of retrying. → 502 */
export const grafanaLoginFailed = (msg: string, retryAfterS?: number) => new PanelshotError('grafana_login_failed', msg, retryAfterS);

/** Happens when Grafana cannot be reached or answers 5xx. → 502 */
export const grafanaUnreachable = (msg: string) => new PanelshotError('grafana_unreachable', msg);

/** Happens when the browser ends on Grafana's login page despite our credentials or renderKey. → 502 */
export const grafanaAuthRejected = (msg: string) => new PanelshotError('grafana_auth_rejected', msg);

/** Happens when Chrome or chromedriver crashed or misbehaved during the render, or no session exists and none can be started (e.g. the Selenium Grid is unreachable). → 503 */
export const browserFailed = (msg: string) => new PanelshotError('browser_failed', msg, 1);

/** Happens when a printed PDF has more pages than MAX_PDF_PAGES or more bytes than MAX_PDF_BYTES, or a downloaded CSV more bytes than MAX_CSV_BYTES. → 413 */
export const outputTooLarge = (msg: string) => new PanelshotError('output_too_large', msg);

/** Happens when Grafana asks for a feature panelshot deliberately does not serve (POST /sanitize), or /render/csv through a Selenium Grid. → 501 */
export const notImplemented = (msg: string) => new PanelshotError('not_implemented', msg);

/**
 * Happens when Chrome's screenshot is more than one device pixel off width×deviceScaleFactor
 * by height×deviceScaleFactor: the capture is not the picture asked for, and is never
 * resized into one. The message names both sizes. → 500
 */
export const captureSizeMismatch = (msg: string) => new PanelshotError('capture_size_mismatch', msg);

/** Happens while the service drains for shutdown. → 503 */
export const shuttingDown = () => new PanelshotError('shutting_down', 'panelshot is shutting down', 5);

/** Happens when the caller went away before its render started (a batch client disconnected). → 499 */
export const cancelled = () => new PanelshotError('cancelled', 'the client went away before this render started');

const STATUS: Record<ErrorCode, number> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden_url: 403,
  forbidden_link: 403,
  not_found: 404,
  output_too_large: 413,
  not_implemented: 501,
  render_timeout: 408,
  no_download: 504,
  too_busy: 429,
  cancelled: 499,
  internal: 500,
  capture_size_mismatch: 500,
  grafana_login_failed: 502,
  grafana_unreachable: 502,
  grafana_auth_rejected: 502,
  browser_failed: 503,
  shutting_down: 503,
};

export interface HttpError {
  status: number;
  body: { error: string; code: ErrorCode };
  headers: Record<string, string>;
}

/** The one mapping from any thrown value to what the caller receives. */
export function toHttp(err: unknown): HttpError {
  const e = err instanceof PanelshotError ? err : new PanelshotError('internal', 'internal error (see the service log)');
  const headers: Record<string, string> = { ...e.headers };
  if (e.retryAfterS !== undefined) headers['Retry-After'] = String(Math.max(1, Math.ceil(e.retryAfterS)));
  return { status: STATUS[e.code], body: { error: e.message, code: e.code }, headers };
}

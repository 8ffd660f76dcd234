// The HTTP edge: request id → route (auth token where needed) → the one error mapping.
import crypto from 'node:crypto';
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import type { Config } from '../config';
import { PanelshotError, toHttp } from '../errors';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics';
import type { Renderer } from '../render/renderer';
import { requireAuthToken } from './authToken';
import { healthzGet } from './routes/healthz.get';
import { linkGet } from './routes/link.get';
import { metricsGet } from './routes/metrics.get';
import { readyzGet } from './routes/readyz.get';
import { renderGet } from './routes/render.get';
import { reportGet } from './routes/report.get';
import { renderCsvGet } from './routes/renderCsv.get';
import { sanitizePost } from './routes/sanitize.post';
import { renderDashboardGet } from './routes/renderDashboard.get';
import type { GrafanaApiDeps } from '../grafana/dashboards';
import type { BatchGate } from '../render/batch';
import { RecentRing } from './recent';
import { requireStatusAuth } from './statusAuth';
import { statusGet } from './routes/status.get';
import { statusJsonGet, type StatusSnapshot } from './routes/statusJson.get';
import { statusRenderGet } from './routes/statusRender.get';
import { versionGet } from './routes/version.get';
import { archiveGet } from './routes/archive.get';
import type { Scheduling } from '../schedule';

export interface AppDeps {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  renderer: Renderer;
  /** panelshot's own way into Grafana's API (dashboard models for batches). */
  grafana: GrafanaApiDeps;
  batchGate: BatchGate;
  /** Scheduled captures and their archive (GET /archive), when JOBS_FILE is set. */
  scheduling?: Scheduling;
  version: string;
  /** Pool, memory, recycles and cache for the status page. */
  snapshot(): Promise<StatusSnapshot>;
  status(): { pool: { size: number; busy: number; idle: number; queued: number }; warm: boolean };
  ready(): Promise<string | undefined>;
  refreshMetrics(): void;
  /** One OpenTelemetry span per request (src/tracing.ts), when OTEL_* asks for traces. */
  trace?: RequestHandler;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function createApp(d: AppDeps): express.Express {
  const app = express();
  const recent = new RecentRing();
  const deps = { ...d, recent };
  app.disable('x-powered-by');
  app.set('etag', false);
  // Behind nginx & co.: the client address and scheme come from X-Forwarded-* of trusted proxies.
  app.set('trust proxy', d.config.trustProxy);

  const requestId: RequestHandler = (req, res, next) => {
    const given = req.header('x-request-id');
    const id = given && REQUEST_ID.test(given) ? given : crypto.randomUUID();
    res.set('X-Request-Id', id);
    res.locals.log = d.logger.child({ reqId: id, client: req.ip });
    next();
  };
  app.use(requestId);
  if (d.trace) app.use(d.trace);

  // BASE_PATH: a proxy that forwards /renderer/... unchanged reaches the same routes.
  const routes = express.Router();
  routes.get('/render/version', versionGet(d.version));
  routes.get('/render', requireAuthToken(d.config.authTokens), renderGet(deps));
  routes.get('/render/csv', requireAuthToken(d.config.authTokens), renderCsvGet(deps));
  routes.get('/render/dashboard', requireAuthToken(d.config.authTokens), renderDashboardGet(deps));
  routes.get('/report', requireAuthToken(d.config.authTokens), reportGet(deps));
  // Signed image links exist only with a LINK_SECRET: without one, /i/… is an unknown route.
  if (d.config.linkSecrets.length) routes.get('/i/:file', linkGet(deps));
  if (d.config.statusPage) {
    const statusAuth = requireStatusAuth(d.config.authTokens, d.config.httpHost);
    routes.get('/', statusAuth, statusGet(d.config.basePath, d.version));
    routes.get('/status.json', statusAuth, statusJsonGet(d.snapshot, recent));
    routes.get('/status/render', statusAuth, statusRenderGet(deps));
  }
  // The archive of scheduled runs: its own token check, as signed links open files without one.
  routes.get(['/archive', '/archive/{*rest}'], archiveGet({ config: d.config, archive: d.scheduling?.archive }));
  routes.post('/sanitize', requireAuthToken(d.config.authTokens), sanitizePost());
  routes.get('/healthz', healthzGet(d.status));
  routes.get('/readyz', readyzGet(d.ready));
  routes.get('/metrics', metricsGet(d.metrics, d.refreshMetrics));
  app.use(d.config.basePath || '/', routes);

  // A path under /i/ may be a link (a capability): it is not echoed back.
  app.use((req, _res, next) => next(new PanelshotError('not_found', `no route for ${req.method} ${req.path.replace(/\/i\/.*/, '/i/…').slice(0, 100)}; panelshot serves GET ${d.config.basePath}/render, /render/csv, /render/dashboard, /report, /archive, /render/version, /healthz, /readyz, /metrics`)));

  const onError: ErrorRequestHandler = (err, _req, res, _next) => {
    // express's own parser errors (e.g. malformed percent-encoding) carry a 4xx status.
    const known = err instanceof PanelshotError ? err : typeof err?.status === 'number' && err.status < 500 ? new PanelshotError('bad_request', 'the request is malformed') : err;
    const http = toHttp(known);
    const log: Logger = res.locals.log ?? d.logger;
    d.metrics.httpErrors.inc({ status: String(http.status), code: http.body.code });
    res.locals.outcome = http.body.code; // for the request's span (src/tracing.ts)
    if (http.status >= 500) log.error({ event: 'render', outcome: http.body.code, status: http.status, page: res.locals.page, err: known instanceof PanelshotError ? known.message : String(err?.stack ?? err).slice(0, 2000) }, 'request failed');
    else log.info({ event: 'rejected', status: http.status, code: http.body.code, page: res.locals.page, reason: http.body.error }, 'request rejected');
    if (res.headersSent) {
      res.end();
      return;
    }
    res.status(http.status).set(http.headers).json(http.body);
  };
  app.use(onError);
  return app;
}

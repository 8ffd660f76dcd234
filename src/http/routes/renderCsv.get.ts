// GET /render/csv — Grafana Enterprise's table/CSV export
// (`GET {server_url}/csv?url=…&renderKey=…&domain=…&timeout=…&encoding=csv`): the page's own
// download, answered as text/csv with an attachment file name (Grafana fails the export
// without one). Auth token, renderKey, timeout and errors as on /render.
import type { RequestHandler } from 'express';
import type { Config } from '../../config';
import type { Logger } from '../../logger';
import { safeUrl } from '../../logger';
import type { Metrics } from '../../metrics';
import { CSV_VIEWPORT, csvContentDisposition } from '../../render/csv';
import type { Renderer } from '../../render/renderer';
import { parseCsvParams } from '../renderParams';
import { timingHeader, type RecentRenders } from '../sendImage';

export function renderCsvGet(deps: { config: Config; renderer: Renderer; metrics: Metrics; recent?: RecentRenders }): RequestHandler {
  return async (req, res, next) => {
    const arrivedAt = Date.now();
    const log = res.locals.log as Logger;
    let request;
    try {
      request = parseCsvParams(req.query as Record<string, unknown>, req.header('accept-language'), deps.config);
    } catch (e) {
      return next(e);
    }
    const page = safeUrl(request.url.toString());
    const size = { format: 'csv', width: CSV_VIEWPORT.width, height: CSV_VIEWPORT.height };
    try {
      const csv = await deps.renderer.csv(request, arrivedAt);
      const t = csv.timings;
      deps.metrics.renderDuration.observe({ outcome: 'ok' }, t.totalMs / 1000);
      deps.metrics.queueWait.observe(t.queueMs / 1000);
      res.set({
        'Content-Type': 'text/csv; charset=utf-8',
        'Content-Disposition': csvContentDisposition(csv.fileName),
        'Cache-Control': 'no-store',
        // A CSV is data: no browser may take it for a page or a script.
        'X-Content-Type-Options': 'nosniff',
        'Server-Timing': timingHeader([
          ['queue', t.queueMs],
          ['auth', t.authMs],
          ['navigate', t.navigateMs],
          ['data', t.dataMs],
          ['download', t.downloadMs],
          ['total', t.totalMs],
        ]),
      });
      res.locals.render = { arrivedAt, timings: t, auth: csv.auth, outcome: 'ok' };
      res.status(200).end(csv.body);
      deps.recent?.note({ at: arrivedAt, via: 'csv', page, outcome: 'ok', bytes: csv.body.length, ...size });
      log.info({ event: 'render', via: 'csv', outcome: 'ok', page, auth: csv.auth, format: 'csv', bytes: csv.body.length, ...t }, 'exported CSV');
    } catch (e) {
      const code = (e as { code?: string }).code ?? 'internal';
      deps.metrics.renderDuration.observe({ outcome: code }, (Date.now() - arrivedAt) / 1000);
      deps.recent?.note({ at: arrivedAt, via: 'csv', page, outcome: code, ...size });
      res.locals.page = page;
      next(e);
    }
  };
}

// GET /report?url=<dashboard URL> — a PDF report of a whole dashboard (render/report.ts),
// with the same token, auth, limits and timeouts as /render. The dashboard URL's time
// range, variables, timezone and orgId are taken as they are.
import type { RequestHandler } from 'express';
import type { Config } from '../../config';
import { badRequest } from '../../errors';
import type { Logger } from '../../logger';
import type { Metrics } from '../../metrics';
import { isDashboardPage } from '../../render/dashboard';
import { reportRequest } from '../../render/report';
import type { Renderer } from '../../render/renderer';
import { parseRenderParams } from '../renderParams';
import { answerRender, fileName } from './render.get';

export function reportGet(deps: { config: Config; renderer: Renderer; logger: Logger; metrics: Metrics }): RequestHandler {
  return async (req, res, next) => {
    const arrivedAt = Date.now();
    let request;
    try {
      const query = req.query as Record<string, unknown>;
      if (query.encoding !== undefined && query.encoding !== 'pdf') throw badRequest('encoding is not an option of /report: a report is always a PDF');
      // Rows are expanded in a report unless the caller says expandRows=false.
      request = parseRenderParams({ expandRows: 'true', ...query, encoding: 'pdf' }, req.header('accept-language'), deps.config);
      if (!isDashboardPage(request.url)) throw badRequest('url must be a dashboard page (/d/<uid>/<slug>?…), not a single panel or another page');
      request = reportRequest(request, deps.config.defaultTimezone);
    } catch (e) {
      return next(e);
    }
    await answerRender(deps, request, arrivedAt, res, next, `${fileName(request.url)}-report`);
  };
}

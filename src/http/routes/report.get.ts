// GET /report?url=<dashboard URL> — the dashboard as a PDF report worth sending: every
// panel in grid order, no panel cut by a page break, a header with the title, the absolute
// time range in the reader's timezone and when it was made, and page numbers. Rendered with
// panelshot's own Grafana session or token (no Grafana Enterprise needed). The time range,
// `var-…`, `orgId` and `timezone` come from the dashboard URL as a viewer would open it.
import type { RequestHandler } from 'express';
import type { Config } from '../../config';
import { badRequest } from '../../errors';
import type { GrafanaApiDeps } from '../../grafana/dashboards';
import type { Logger } from '../../logger';
import { safeUrl } from '../../logger';
import type { Metrics } from '../../metrics';
import { prepareReport, type ReportRequest } from '../../render/report';
import type { Renderer } from '../../render/renderer';
import { flag, parsePdfOptions } from '../pdfParams';
import { decimal, integer, one, parseAcceptLanguage, parsePageUrl, parseTimezone } from '../renderParams';
import { sendImage, type RecentRenders } from '../sendImage';

/** A4 landscape is 1123 CSS px wide: 1200 keeps Grafana's text readable when scaled onto it. */
export const REPORT_WIDTH = 1200;

/** /render's parameters that a report decides itself: refused rather than ignored. */
const NOT_FOR_REPORTS: Record<string, string> = {
  height: 'a report is as tall as the dashboard',
  deviceScaleFactor: 'a report is vector output at the paper\'s resolution',
  quality: 'a report is a PDF',
  renderKey: 'a report renders with panelshot\'s own Grafana credentials, not a user\'s key',
  domain: 'a report renders with panelshot\'s own Grafana credentials, not a user\'s key',
};

export function parseReportParams(query: Record<string, unknown>, acceptLanguage: string | undefined, c: Config): ReportRequest {
  for (const [name, why] of Object.entries(NOT_FOR_REPORTS)) if (query[name] !== undefined) throw badRequest(`${name} is not accepted by /report: ${why}`);
  const encoding = (one(query, 'encoding') ?? '').trim().toLowerCase();
  if (encoding !== '' && encoding !== 'pdf') throw badRequest(`encoding=${encoding.slice(0, 20)} is not served by /report: a report is a PDF`);
  const url = parsePageUrl(one(query, 'url'), c);
  const width = integer(query, 'width', Math.min(REPORT_WIDTH, c.maxWidth), 1, c.maxWidth);
  const timeoutMs = Math.round(decimal(query, 'timeout', c.renderTimeoutS, 1, c.renderTimeoutMaxS) * 1000);
  return {
    url,
    width,
    pdf: parsePdfOptions(query, url),
    timezone: parseTimezone(one(query, 'timezone')),
    timeoutMs,
    acceptLanguage: parseAcceptLanguage(acceptLanguage),
    expandRows: flag(query, url, 'expandRows', false),
  };
}

export function reportGet(deps: { config: Config; renderer: Renderer; grafana: GrafanaApiDeps; metrics: Metrics; recent?: RecentRenders }): RequestHandler {
  return async (req, res, next) => {
    const arrivedAt = Date.now();
    let report;
    try {
      const request = parseReportParams(req.query as Record<string, unknown>, req.header('accept-language'), deps.config);
      res.locals.page = safeUrl(request.url.toString());
      report = await prepareReport(deps, request);
    } catch (e) {
      return next(e);
    }
    const { range } = report;
    (res.locals.log as Logger).info({ event: 'report', from: range.from.toMillis(), to: range.to.toMillis(), zone: range.zone }, 'report time range');
    // From here on a report is a PDF render like any other: the same answer, metrics and logs.
    await sendImage(deps, report.request, arrivedAt, res, next, 'report', report.fileStem);
  };
}

// GET /render — Grafana's remote-renderer endpoint, also used directly by scripts.
import crypto from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Config } from '../../config';
import type { Logger } from '../../logger';
import { safeUrl } from '../../logger';
import type { Metrics } from '../../metrics';
import type { Renderer } from '../../render/renderer';
import type { RenderTimings } from '../../render/types';
import { parseRenderParams } from '../renderParams';

export function renderGet(deps: { config: Config; renderer: Renderer; logger: Logger; metrics: Metrics }): RequestHandler {
  return async (req, res, next) => {
    const arrivedAt = Date.now();
    const log = res.locals.log as Logger;
    let request;
    try {
      request = parseRenderParams(req.query as Record<string, unknown>, req.header('accept-language'), deps.config);
    } catch (e) {
      return next(e);
    }
    const page = safeUrl(request.url.toString());
    try {
      const result = await deps.renderer.render(request, arrivedAt);
      const t = result.timings;
      deps.metrics.renderDuration.observe({ outcome: result.settled ? 'ok' : 'unsettled' }, t.totalMs / 1000);
      deps.metrics.queueWait.observe(t.queueMs / 1000);
      deps.metrics.stabilityWait.observe(t.stableMs / 1000);
      deps.metrics.framesCompared.inc(t.framesCompared);
      const body = result.pdf?.body ?? result.png;
      res.set({
        'Content-Type': result.pdf ? 'application/pdf' : 'image/png',
        'Cache-Control': 'no-store',
        'X-Panelshot-Settled': String(result.settled),
        'X-Panelshot-Shared': String(result.shared),
        'Server-Timing': serverTiming(t),
        'Content-Disposition': `inline; filename="${fileName(request.url)}.${result.pdf ? 'pdf' : 'png'}"`,
        ETag: `"${crypto.createHash('sha1').update(body).digest('hex')}"`,
      });
      res.status(200).end(body);
      log.info(
        { event: 'render', outcome: result.settled ? 'ok' : 'unsettled', page, auth: result.auth, shared: result.shared, width: request.width, height: request.height, scale: request.deviceScaleFactor, format: result.pdf ? 'pdf' : 'png', pages: result.pdf?.pages, bytes: body.length, ...t },
        result.settled ? 'rendered' : 'rendered the best frame before the timeout (page did not settle)',
      );
      log.debug({ event: 'render_trace', trace: result.trace.join(' ') }, 'render steps (ms since capture start)');
    } catch (e) {
      const code = (e as { code?: string }).code ?? 'internal';
      deps.metrics.renderDuration.observe({ outcome: code }, (Date.now() - arrivedAt) / 1000);
      res.locals.page = page;
      next(e);
    }
  };
}

function serverTiming(t: RenderTimings): string {
  const parts: [string, number][] = [
    ['queue', t.queueMs],
    ['auth', t.authMs],
    ['navigate', t.navigateMs],
    ['data', t.dataMs],
    ['stable', t.stableMs],
    ['encode', t.encodeMs],
    ['total', t.totalMs],
  ];
  return parts.map(([n, d]) => `${n};dur=${Math.max(0, Math.round(d))}`).join(', ');
}

/** A safe file name: the dashboard's slug from `/d/<uid>/<slug>` or `/d-solo/…`, else "panel". */
export function fileName(url: URL): string {
  const slug = /\/d(?:-solo)?\/[^/]+\/([^/?#]+)/.exec(url.pathname)?.[1] ?? '';
  const safe = decodeURIComponentSafe(slug).replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[-.]+|[-.]+$/g, '').slice(0, 80);
  return safe || 'panel';
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

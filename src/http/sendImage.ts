// Renders one checked request and answers with the image: shared by GET /render, the
// signed links (/i/…) and the status page's form, so the three answer alike.
import crypto from 'node:crypto';
import type { NextFunction, Response } from 'express';
import type { Logger } from '../logger';
import { safeUrl } from '../logger';
import type { Metrics } from '../metrics';
import { encodingLabel, safeFileStem } from '../render/encode';
import type { Renderer } from '../render/renderer';
import type { RenderRequest, RenderTimings } from '../render/types';

/** Where finished renders are noted for the status page (optional). */
export interface RecentRenders {
  note(entry: { at: number; via: string; page: string; outcome: string; bytes?: number; format: string; width: number; height: number | 'full'; timings?: RenderTimings; cached?: boolean }): void;
}

export async function sendImage(
  deps: { renderer: Renderer; metrics: Metrics; recent?: RecentRenders },
  request: RenderRequest,
  arrivedAt: number,
  res: Response,
  next: NextFunction,
  via: string,
  /** The answer's file name without extension; by default the page's dashboard slug. */
  fileStem = fileName(request.url),
): Promise<void> {
  const log = res.locals.log as Logger;
  const page = safeUrl(request.url.toString());
  // A PDF (GET /report, encoding=pdf) is printed, not encoded: it is listed as what it is.
  const format = request.pdf ? 'pdf' : encodingLabel(request.output ?? { format: 'png' });
  try {
    const img = await deps.renderer.image(request, arrivedAt);
    const t = img.timings;
    if (img.ageS === undefined) {
      deps.metrics.renderDuration.observe({ outcome: img.settled ? 'ok' : 'unsettled' }, t.totalMs / 1000);
      deps.metrics.queueWait.observe(t.queueMs / 1000);
      deps.metrics.stabilityWait.observe(t.stableMs / 1000);
      deps.metrics.framesCompared.inc(t.framesCompared);
    }
    res.set({
      'Content-Type': img.contentType,
      'Cache-Control': 'no-store',
      'X-Panelshot-Settled': String(img.settled),
      'X-Panelshot-Shared': String(img.shared),
      'Server-Timing': serverTiming(t),
      'Content-Disposition': `inline; filename="${fileStem}.${img.ext}"`,
      ETag: `"${crypto.createHash('sha1').update(img.body).digest('hex')}"`,
      ...(img.ageS !== undefined ? { Age: String(img.ageS) } : {}),
    });
    res.locals.render = { arrivedAt, timings: t, auth: img.auth, outcome: img.settled ? 'ok' : 'unsettled' };
    res.status(200).end(img.body);
    deps.recent?.note({ at: arrivedAt, via, page, outcome: img.settled ? 'ok' : 'unsettled', bytes: img.body.length, format, width: request.width, height: request.height, timings: t, cached: img.ageS !== undefined });
    log.info(
      { event: 'render', via, outcome: img.settled ? 'ok' : 'unsettled', page, auth: img.auth, shared: img.shared, cachedAgeS: img.ageS, format, width: request.width, height: request.height, scale: request.deviceScaleFactor, bytes: img.body.length, ...t },
      img.settled ? 'rendered' : 'rendered the best frame before the timeout (page did not settle)',
    );
    log.debug({ event: 'render_trace', trace: img.trace.join(' ') }, 'render steps (ms since capture start)');
  } catch (e) {
    const code = (e as { code?: string }).code ?? 'internal';
    deps.metrics.renderDuration.observe({ outcome: code }, (Date.now() - arrivedAt) / 1000);
    deps.recent?.note({ at: arrivedAt, via, page, outcome: code, format, width: request.width, height: request.height });
    res.locals.page = page;
    next(e);
  }
}

export function serverTiming(t: RenderTimings): string {
  return timingHeader([
    ['queue', t.queueMs],
    ['auth', t.authMs],
    ['navigate', t.navigateMs],
    ['data', t.dataMs],
    ['stable', t.stableMs],
    ['encode', t.encodeMs],
    ['total', t.totalMs],
  ]);
}

/** A Server-Timing header from named phases in ms. */
export function timingHeader(parts: [string, number][]): string {
  return parts.map(([n, d]) => `${n};dur=${Math.max(0, Math.round(d))}`).join(', ');
}

/** A safe file name: the dashboard's slug from `/d/<uid>/<slug>` or `/d-solo/…`, else "panel". */
export function fileName(url: URL): string {
  const slug = /\/d(?:-solo)?\/[^/]+\/([^/?#]+)/.exec(url.pathname)?.[1] ?? '';
  let decoded = slug;
  try {
    decoded = decodeURIComponent(slug);
  } catch {
    // keep it as it is
  }
  return safeFileStem(decoded, 'panel');
}

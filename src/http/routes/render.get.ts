// GET /render — Grafana's remote-renderer endpoint, also used directly by scripts.
import type { RequestHandler } from 'express';
import type { Config } from '../../config';
import type { Logger } from '../../logger';
import type { Metrics } from '../../metrics';
import type { Renderer } from '../../render/renderer';
import { parseRenderParams } from '../renderParams';
import { sendImage, type RecentRenders } from '../sendImage';

export function renderGet(deps: { config: Config; renderer: Renderer; logger: Logger; metrics: Metrics; recent?: RecentRenders }): RequestHandler {
  return async (req, res, next) => {
    const arrivedAt = Date.now();
    let request;
    try {
      request = parseRenderParams(req.query as Record<string, unknown>, req.header('accept-language'), deps.config);
    } catch (e) {
      return next(e);
    }
    await sendImage(deps, request, arrivedAt, res, next, 'render');
  };
}

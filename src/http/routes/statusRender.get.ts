// GET /status/render — the status page's form: /render's parameters and answer, behind the
// status page's own auth (Basic, or loopback) instead of X-Auth-Token, since a browser form
// cannot send that header. Never a renderKey: the form renders as panelshot itself.
import type { RequestHandler } from 'express';
import type { Config } from '../../config';
import { badRequest } from '../../errors';
import type { Metrics } from '../../metrics';
import type { Renderer } from '../../render/renderer';
import { one, parseRenderParams } from '../renderParams';
import { sendImage, type RecentRenders } from '../sendImage';

export function statusRenderGet(deps: { config: Config; renderer: Renderer; metrics: Metrics; recent?: RecentRenders }): RequestHandler {
  return async (req, res, next) => {
    const arrivedAt = Date.now();
    let request;
    try {
      if (one(req.query as Record<string, unknown>, 'renderKey') !== undefined) throw badRequest('renderKey is not accepted by the status page\'s form');
      request = parseRenderParams(req.query as Record<string, unknown>, req.header('accept-language'), deps.config);
    } catch (e) {
      return next(e);
    }
    await sendImage(deps, request, arrivedAt, res, next, 'status');
  };
}

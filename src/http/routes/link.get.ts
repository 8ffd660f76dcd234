// GET /i/<token>.<ext> — a signed image link (src/links/token.ts): renders exactly the
// request the link was signed for, without any header, with panelshot's own Grafana
// credentials. Only mounted when LINK_SECRET is set.
import type { RequestHandler } from 'express';
import type { Config } from '../../config';
import { badRequest, linkRejected } from '../../errors';
import type { Logger } from '../../logger';
import { secretParams } from '../../logger';
import type { Metrics } from '../../metrics';
import { extensionOf } from '../../render/encode';
import type { Renderer } from '../../render/renderer';
import { linkFingerprint, verifyLink } from '../../links/token';
import { parseRenderParams } from '../renderParams';
import { sendImage, type RecentRenders } from '../sendImage';

export function linkGet(deps: { config: Config; renderer: Renderer; metrics: Metrics; recent?: RecentRenders }): RequestHandler {
  return async (req, res, next) => {
    const arrivedAt = Date.now();
    const file = String(req.params.file ?? '');
    const dot = file.lastIndexOf('.');
    const token = dot > 0 ? file.slice(0, dot) : file;
    const ext = dot > 0 ? file.slice(dot + 1) : '';
    // The token is a capability until it expires: logs name it by a short fingerprint only.
    res.locals.log = (res.locals.log as Logger).child({ link: linkFingerprint(token) });
    let request;
    try {
      if (!['png', 'jpg', 'webp'].includes(ext)) throw badRequest('a link ends in .png, .jpg or .webp');
      const { params } = verifyLink(token, deps.config.linkSecrets, deps.config.linkMaxTtlS, arrivedAt);
      request = parseRenderParams(params, undefined, deps.config);
      if (secretParams(request.url).length) throw linkRejected('the link\'s page URL carries a credential parameter; links never carry credentials');
      if (extensionOf(request.output?.format ?? 'png') !== ext) throw linkRejected(`the link was signed for .${extensionOf(request.output?.format ?? 'png')}, not .${ext}`);
    } catch (e) {
      return next(e);
    }
    await sendImage(deps, request, arrivedAt, res, next, 'link');
  };
}

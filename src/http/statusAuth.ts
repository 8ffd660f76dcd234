// Who may see the status page (and use its render form): anyone on loopback while
// panelshot listens on loopback only; otherwise one of the AUTH_TOKEN values as the
// password of HTTP Basic auth (any user name), so a person can open it in a browser. A
// proxy on the same host does not open it up: the client address behind a trusted proxy
// comes from X-Forwarded-For (TRUST_PROXY), and must be loopback too.
import type { RequestHandler } from 'express';
import { isLoopback } from '../config';
import { statusUnauthorized } from '../errors';
import { tokenMatcher } from './authToken';

export function requireStatusAuth(accepted: string[], httpHost: string): RequestHandler {
  const matches = tokenMatcher(accepted);
  const listensOnLoopback = isLoopback(httpHost);
  return (req, _res, next) => {
    const ip = (req.ip ?? '').replace(/^::ffff:/, '');
    if (listensOnLoopback && isLoopback(ip)) return next();
    const m = /^Basic ([A-Za-z0-9+/=]{1,2000})$/i.exec(req.header('authorization') ?? '');
    const decoded = m ? Buffer.from(m[1]!, 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    next(colon >= 0 && matches(decoded.slice(colon + 1)) ? undefined : statusUnauthorized());
  };
}

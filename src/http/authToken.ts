// X-Auth-Token check for /render: grafana.ini [rendering] renderer_token must be one of
// AUTH_TOKEN. Compared in constant time so the token cannot be guessed byte by byte.
import crypto from 'node:crypto';
import type { RequestHandler } from 'express';
import { unauthorized } from '../errors';

/** True when `given` is one of `accepted`, compared in constant time. */
export function tokenMatcher(accepted: string[]): (given: string | undefined) => boolean {
  const digests = accepted.map(digest);
  return (given) => given !== undefined && digests.some((d) => crypto.timingSafeEqual(d, digest(given)));
}

export function requireAuthToken(accepted: string[]): RequestHandler {
  const matches = tokenMatcher(accepted);
  return (req, _res, next) => {
    next(matches(req.header('x-auth-token')) ? undefined : unauthorized());
  };
}

function digest(s: string): Buffer {
  return crypto.createHash('sha256').update(s).digest();
}

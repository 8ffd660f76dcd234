// X-Auth-Token check for /render: grafana.ini [rendering] renderer_token must be one of
// AUTH_TOKEN. Compared in constant time so the token cannot be guessed byte by byte.
import crypto from 'node:crypto';
import type { RequestHandler } from 'express';
import { unauthorized } from '../errors';

export function requireAuthToken(accepted: string[]): RequestHandler {
  const digests = accepted.map(digest);
  return (req, _res, next) => {
    const given = req.header('x-auth-token');
    const ok = given !== undefined && digests.some((d) => crypto.timingSafeEqual(d, digest(given)));
    next(ok ? undefined : unauthorized());
  };
}

function digest(s: string): Buffer {
  return crypto.createHash('sha256').update(s).digest();
}

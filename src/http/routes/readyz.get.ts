// GET /readyz — readiness: 200 only when the pool is warm and Grafana accepts our
// credentials; 503 with the reason otherwise. For load balancers and systemd start-up checks.
import type { RequestHandler } from 'express';

export function readyzGet(check: () => Promise<string | undefined>): RequestHandler {
  return async (_req, res) => {
    const reason = await check().catch((e: Error) => e.message);
    if (reason) res.status(503).json({ status: 'not ready', error: reason });
    else res.json({ status: 'ready' });
  };
}

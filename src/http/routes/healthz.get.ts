// GET /healthz — liveness: the process answers. Deliberately checks nothing else, so a slow
// Grafana never gets panelshot restarted.
import type { RequestHandler } from 'express';

export function healthzGet(status: () => { pool: { size: number; busy: number; idle: number; queued: number }; warm: boolean }): RequestHandler {
  return (_req, res) => {
    res.json({ status: 'ok', ...status() });
  };
}

// GET /metrics — Prometheus text format.
import type { RequestHandler } from 'express';
import type { Metrics } from '../../metrics';

export function metricsGet(metrics: Metrics, refresh: () => void): RequestHandler {
  return async (_req, res) => {
    refresh();
    res.set('Content-Type', metrics.registry.contentType).send(await metrics.registry.metrics());
  };
}

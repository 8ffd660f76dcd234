// POST /sanitize — Grafana 9 sends SVGs here once the renderer reports >= 3.5.0. panelshot
// does not sanitize SVGs (a separate attack surface we do not want to own; Grafana 10+
// sanitizes itself): a clear 501 instead of a misleading 404. See docs/adr/0009-pdf.md.
import type { RequestHandler } from 'express';
import { notImplemented } from '../../errors';

export function sanitizePost(): RequestHandler {
  return (_req, _res, next) => {
    next(notImplemented('panelshot does not sanitize SVGs (POST /sanitize): Grafana 9 users should disable SVG uploads that need it, or upgrade to Grafana 10+, which sanitizes itself'));
  };
}

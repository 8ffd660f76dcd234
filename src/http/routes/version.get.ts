// GET /render/version — Grafana reads renderer capabilities from this version: >= 3.4.0
// full-height (height=-1) and scale-down images, which we serve; >= 3.5.0 would make
// Grafana send SVGs to /sanitize and >= 3.10.0 ask for PDF, which we do not serve. So we
// report 3.4.0, and our own version beside it.
import type { RequestHandler } from 'express';

export const PROTOCOL_VERSION = '3.4.0';

export function versionGet(ownVersion: string): RequestHandler {
  return (_req, res) => {
    res.json({ version: PROTOCOL_VERSION, panelshot: ownVersion });
  };
}

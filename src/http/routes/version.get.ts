// GET /render/version — Grafana reads renderer capabilities from this version: >= 3.4.0
// full-height (height=-1) and scale-down images, >= 3.10.0 PDF (encoding=pdf), all of
// which we serve. Grafana 9 also assumes SVG sanitizing from >= 3.5.0: POST /sanitize
// answers a clear 501 (docs/adr/0009-pdf.md). Our own version rides along.
import type { RequestHandler } from 'express';

export const PROTOCOL_VERSION = '3.10.0';

export function versionGet(ownVersion: string): RequestHandler {
  return (_req, res) => {
    res.json({ version: PROTOCOL_VERSION, panelshot: ownVersion });
  };
}

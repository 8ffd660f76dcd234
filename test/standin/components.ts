// The stand-in's pages made of Grafana's own components (test/grafana-components): the
// HTML shell a Grafana server sends, and the bundle's files under /public/build/gc/.
// The dashboard uid `gc-board` selects them: /d-solo/gc-board/<slug>?panelId=N and
// /d/gc-board/<slug>?panels=N. The bundle is built by `bash scripts/setup.sh --test`.
import type * as http from 'node:http';
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { extname, join, normalize, sep } from 'node:path';

export const COMPONENT_UID_PREFIX = 'gc-';
export const COMPONENT_ASSETS = '/public/build/gc/';
const DIST = join(__dirname, '..', 'grafana-components', 'dist');

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.ttf': 'font/ttf',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

export function componentBundleBuilt(): boolean {
  return existsSync(join(DIST, 'main.js'));
}

export function componentPage(kind: 'panel' | 'dashboard'): string {
  // Solo panels fill the viewport; dashboards grow with their grid and the body scrolls (Grafana ≥ 11.3).
  const size = kind === 'panel' ? 'html,body,#reactRoot{height:100%;overflow:hidden}' : '#reactRoot{padding:8px}';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Grafana</title>
<link rel="stylesheet" href="${COMPONENT_ASSETS}main.css">
<style>html,body{margin:0;background:#111217}${size}</style>
</head>
<body class="theme-dark app-grafana"><div id="reactRoot"></div>
<script type="module" src="${COMPONENT_ASSETS}main.js"></script>
</body></html>`;
}

/** Serves one file of the bundle (no login needed, as Grafana's public/build). */
export async function serveComponentAsset(path: string, res: http.ServerResponse): Promise<void> {
  const rel = normalize(decodeURIComponent(path.slice(COMPONENT_ASSETS.length)));
  const file = join(DIST, rel);
  if (rel.startsWith('..') || !file.startsWith(DIST + sep)) {
    res.writeHead(404).end();
    return;
  }
  let body: Buffer;
  try {
    body = await readFile(file);
  } catch {
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"Not found"}');
    return;
  }
  res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'public, max-age=31536000' });
  res.end(body);
}

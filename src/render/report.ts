// A dashboard report: the whole dashboard printed to PDF (render/pdf.ts lays it out with no
// panel cut by a page break), with a running header that says what the reader is looking at
// (title, the absolute time range in the reader's timezone, selected variables, when it was
// made) and a footer with page numbers. A report is a whole-dashboard PDF render with
// decorations and a frozen time range: this module works out that render request, and the
// Renderer makes it like any other.
import { DateTime } from 'luxon';
import type { Config } from '../config';
import { dashboardUid, fetchDashboard, type GrafanaApiDeps } from '../grafana/dashboards';
import type { PdfDecorations, PdfOptions } from './pdf';
import { describeInstant, describeRange, resolveRange, type AbsoluteRange } from './timeRange';
import { safeFileStem } from './encode';
import type { RenderRequest } from './types';

export interface ReportRequest {
  /** A `/d/<uid>/<slug>?…` URL on GRAFANA_URL's origin, as a viewer would open it. */
  url: URL;
  /** CSS px the dashboard is laid out at, then scaled onto the paper's width. */
  width: number;
  pdf: PdfOptions;
  /** An IANA zone the caller asked for (top-level `timezone`), if any. */
  timezone?: string;
  timeoutMs: number;
  acceptLanguage?: string;
  expandRows: boolean;
}

export interface ReportDeps {
  config: Config;
  /** panelshot's own way into Grafana's API: the dashboard's title, default range and timezone. */
  grafana: GrafanaApiDeps;
}

export interface Report {
  /** The whole-dashboard PDF render that makes the report (the Renderer does the rest). */
  request: RenderRequest;
  title: string;
  range: AbsoluteRange;
  /** The answer's file name without extension: `<slug>-<from>-<to>`, already safe. */
  fileStem: string;
}

/** Room for the header (two lines) and the footer (one line), in CSS px of the paper. */
const MARGIN_TOP_PX = 56;
const MARGIN_BOTTOM_PX = 36;
/** Grafana's own default when neither the URL nor the dashboard says. */
const DEFAULT_RANGE = { from: 'now-6h', to: 'now' };

/**
 * Works out the report for `req`: the dashboard's title, saved range and timezone from
 * Grafana's API, the frozen time range, and the render request (kiosk page, PDF with
 * header and footer) that the edge hands to the Renderer like any other.
 */
export async function prepareReport(d: ReportDeps, req: ReportRequest, now = DateTime.now()): Promise<Report> {
  const uid = dashboardUid(req.url, d.config.grafanaUrl);
  const model = await fetchDashboard(d.grafana, uid, req.url.searchParams.get('orgId'));
  const dash = model.dashboard as { title?: string; time?: { from?: string; to?: string }; timezone?: string; templating?: { list?: SavedVariable[] } };
  const title = String(dash.title ?? uid);

  // The reader's timezone: asked for, else the URL's, else the dashboard's own, else
  // panelshot's DEFAULT_TIMEZONE, else this machine's.
  const zone = req.timezone ?? zoneOf(req.url.searchParams.get('timezone')) ?? zoneOf(req.url.searchParams.get('tz')) ?? zoneOf(dash.timezone) ?? d.config.defaultTimezone ?? DateTime.local().zoneName ?? 'UTC';
  const from = req.url.searchParams.get('from') ?? dash.time?.from ?? DEFAULT_RANGE.from;
  const to = req.url.searchParams.get('to') ?? dash.time?.to ?? DEFAULT_RANGE.to;
  const range = resolveRange(from, to, zone, now);

  // The page shows exactly the header's range: relative times would move on while the
  // panels load, and `now/d` would round in Chrome's zone, not necessarily the reader's.
  const page = new URL(req.url);
  page.searchParams.set('from', String(range.from.toMillis()));
  page.searchParams.set('to', String(range.to.toMillis()));
  page.searchParams.set('timezone', zone);
  page.searchParams.delete('tz');

  const decorations = reportDecorations(title, describeRange(range), variablesOf(req.url, dash.templating?.list), describeInstant(now.setZone(zone)));
  const request: RenderRequest = {
    url: page,
    width: req.width,
    height: 'full',
    deviceScaleFactor: 1,
    timeoutMs: req.timeoutMs,
    timezone: zone,
    acceptLanguage: req.acceptLanguage,
    pdf: { ...req.pdf, decorations },
    expandRows: req.expandRows,
  };
  const slug = safeFileStem(model.meta?.slug || title, 'dashboard');
  return { request, title, range, fileStem: `${slug}-${range.from.toFormat('yyyyMMdd-HHmm')}-${range.to.toFormat('yyyyMMdd-HHmm')}` };
}

/** A template variable as the dashboard model saves it (only what the header needs). */
interface SavedVariable {
  name?: string;
  /** 2: hidden from the dashboard's own variable bar. */
  hide?: number;
  current?: { text?: string | string[] };
}

/**
 * "host: web-1, web-2 · env: prod": the variables the page shows, as the dashboard's
 * variable bar would (the report hides that bar with the rest of the controls). The URL's
 * `var-…` values win; a variable the URL does not set shows its saved current value;
 * variables the dashboard hides stay hidden. URL variables unknown to the model follow.
 */
export function variablesOf(url: URL, saved: SavedVariable[] = []): string {
  const fromUrl = new Map<string, string[]>();
  for (const [k, v] of url.searchParams) {
    if (!k.startsWith('var-') || k.length === 4) continue;
    const name = k.slice(4);
    fromUrl.set(name, [...(fromUrl.get(name) ?? []), v === '$__all' ? 'All' : v]);
  }
  const out = new Map<string, string[]>();
  for (const v of saved) {
    if (!v.name || v.hide === 2) continue;
    const text = v.current?.text;
    const values = fromUrl.get(v.name) ?? (Array.isArray(text) ? text : text !== undefined && text !== '' ? [text] : []);
    if (values.length) out.set(v.name, values);
  }
  for (const [name, values] of fromUrl) if (!out.has(name)) out.set(name, values);
  return [...out].map(([name, values]) => `${name}: ${values.join(', ')}`).join(' · ');
}

/**
 * Chrome prints header and footer templates in their own document, at the paper's size: the
 * font sizes are absolute, styles must be inline, and nothing is loaded from anywhere.
 *
 * They are drawn over the paper's margins, and what lies under them is the page's to
 * decide: a dark Grafana theme (`color-scheme: dark`) has Chrome paint the margins
 * near-black, where dark text cannot be read. So each template paints its own white paper
 * band over its whole margin, with explicit colours, and asks for it to be printed even
 * when the page's backgrounds are not (`print-color-adjust: exact`): the header and footer
 * read the same on dark and light themes, with printBackground on or off.
 */
export function reportDecorations(title: string, range: string, variables: string, madeAt: string): PdfDecorations {
  const band = (heightPx: number, align: 'flex-start' | 'flex-end') =>
    `background: #ffffff; -webkit-print-color-adjust: exact; print-color-adjust: exact; height: ${heightPx}px; width: 100%; box-sizing: border-box; margin: 0; padding: 0 28px; display: flex; flex-direction: column; justify-content: ${align}; font-family: DejaVu Sans, Liberation Sans, Arial, sans-serif; color: #24292e;`;
  // Chrome gives the templates' own document a padding; the band must reach the paper's edges.
  const reset = '<style>html, body { margin: 0; padding: 0; } #header, #footer { padding: 0 !important; margin: 0 !important; }</style>';
  const headerHtml = `${reset}<div style="${band(MARGIN_TOP_PX, 'flex-start')} font-size: 8px;">
<div style="margin-top: 10px; border-bottom: 0.5px solid #c7d0d9; padding-bottom: 5px;">
<div style="display: flex; justify-content: space-between; align-items: baseline; gap: 16px;">
<span style="font-size: 12px; font-weight: bold; white-space: nowrap; overflow: hidden; text-overflow: ellipsis;">${escapeHtml(title)}</span>
<span style="white-space: nowrap;">${escapeHtml(range)}</span>
</div>
<div style="display: flex; justify-content: space-between; gap: 16px; color: #57606a; margin-top: 2px;">
<span style="white-space: nowrap; overflow: hidden; text-overflow: ellipsis;">${escapeHtml(variables)}</span>
<span style="white-space: nowrap;">Made ${escapeHtml(madeAt)}</span>
</div></div></div>`;
  const footerHtml = `${reset}<div style="${band(MARGIN_BOTTOM_PX, 'flex-end')} font-size: 8px; color: #57606a;">
<div style="display: flex; justify-content: space-between; margin-bottom: 8px;">
<span>${escapeHtml(title)}</span>
<span>Page <span class="pageNumber"></span> of <span class="totalPages"></span></span>
</div></div>`;
  return { headerHtml, footerHtml, marginTop: MARGIN_TOP_PX, marginBottom: MARGIN_BOTTOM_PX };
}

/** An IANA zone from Grafana's spellings ("utc", "Europe/Berlin"); none for "browser" or junk. */
function zoneOf(raw: string | null | undefined): string | undefined {
  const z = raw?.trim();
  if (!z || z === 'browser') return undefined;
  if (z.toLowerCase() === 'utc') return 'UTC';
  return DateTime.local().setZone(z).isValid ? z : undefined;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

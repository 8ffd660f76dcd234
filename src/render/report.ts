// A dashboard report: the whole dashboard printed by the same Renderer and print step as
// any PDF render, with a title block (dashboard title, the absolute time range in the
// report's timezone, when it was made) and page numbers. Only the request differs.
import type { RenderRequest } from './types';

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000, M: 30 * 86_400_000, y: 365 * 86_400_000 };

/**
 * Grafana's `from`/`to`: epoch ms, `now`, `now-6h`, `now+1d`, or an ISO date. Rounding
 * (`now/d`) is read as the unrounded time. Undefined when unreadable.
 */
export function resolveTime(raw: string | null, now: number): number | undefined {
  if (raw === null || raw === '') return undefined;
  if (/^\d{10,14}$/.test(raw)) return Number(raw);
  const m = /^now(?:([+-])(\d{1,6})([smhdwMy]))?(?:\/[smhdwMy])?$/.exec(raw);
  if (m) return m[1] ? now + (m[1] === '-' ? -1 : 1) * Number(m[2]) * UNIT_MS[m[3]!]! : now;
  const t = Date.parse(raw);
  return Number.isNaN(t) ? undefined : t;
}

function formatTime(ms: number, timeZone: string): string {
  return new Intl.DateTimeFormat('en-GB', { timeZone, year: 'numeric', month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit', timeZoneName: 'short' }).format(new Date(ms));
}

/** The lines under the report's title: the time range, then when and where it was made. */
export function reportLines(url: URL, timeZone: string, now = Date.now()): string[] {
  // Grafana's dashboard default when the URL names no range.
  const from = resolveTime(url.searchParams.get('from'), now) ?? now - 6 * UNIT_MS.h!;
  const to = resolveTime(url.searchParams.get('to'), now) ?? now;
  const raw = `${url.searchParams.get('from') ?? 'now-6h'} to ${url.searchParams.get('to') ?? 'now'}`;
  const relative = /now/.test(raw) ? ` (${raw})` : '';
  return [`${formatTime(from, timeZone)} – ${formatTime(to, timeZone)}${relative}`, `Made by panelshot on ${formatTime(now, timeZone)} · timezone ${timeZone}`];
}

/** The render a report is: the dashboard as a PDF, rows expanded unless asked otherwise, with title block and page numbers. */
export function reportRequest(req: RenderRequest, defaultTimezone: string | undefined, now = Date.now()): RenderRequest {
  const tz = req.timezone ?? timezoneOf(req.url) ?? defaultTimezone ?? 'UTC';
  return {
    ...req,
    timezone: tz,
    height: 'full',
    pdf: { ...req.pdf!, report: { lines: reportLines(req.url, tz, now) } },
  };
}

/** The dashboard URL's own timezone (`timezone=` or Grafana's `tz=`), if it is a known IANA name. */
function timezoneOf(url: URL): string | undefined {
  const tz = url.searchParams.get('timezone') ?? url.searchParams.get('tz');
  if (!tz || tz === 'browser') return undefined;
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: tz }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}


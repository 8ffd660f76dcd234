// A dashboard's time range made absolute, the way Grafana reads `from`/`to`: a report's
// header must name the range its panels really show, so the range is resolved once here
// and the dashboard is then loaded with the absolute epoch milliseconds.
//
// Grafana's syntax (its `dateMath`): `now`, then any of `+N<unit>`, `-N<unit>` and
// `/<unit>` (round down; for `to`, round up to the end of the unit), units s m h d w M Q y;
// or an absolute time: epoch milliseconds, `YYYYMMDD`, or ISO 8601. Rounding is done in the
// dashboard's timezone, so `now/d` is midnight where the reader is. Weeks start on Monday
// (ISO), where Grafana follows the viewer's locale or its `weekStart` setting. Fiscal units
// (`/fy`, `/fQ`) depend on a per-dashboard setting and are refused with a 400.
import { DateTime, type DateTimeUnit } from 'luxon';
import { badRequest, quoteInput } from '../errors';

export interface AbsoluteRange {
  from: DateTime;
  to: DateTime;
  /** The IANA zone both ends are expressed in. */
  zone: string;
}

const UNITS: Record<string, DateTimeUnit> = { s: 'second', m: 'minute', h: 'hour', d: 'day', w: 'week', M: 'month', Q: 'quarter', y: 'year' };
const STEP = /^([+-])(\d{0,9})([smhdwMQy])|^\/([smhdwMQy])/;

/** One end of the range; `roundUp` for `to`. `name` is the parameter, for the 400. */
export function resolveTime(raw: string, zone: string, now: DateTime, roundUp: boolean, name: string): DateTime {
  const text = raw.trim();
  if (text.startsWith('now')) {
    let t = now.setZone(zone);
    let rest = text.slice(3).replace(/\s+/g, '');
    while (rest) {
      if (/^\/?f/.test(rest) || /^[+-]\d*f/.test(rest)) throw badRequest(`${name}=${quoteInput(text)} uses a fiscal unit, which reports do not resolve: use calendar units (s m h d w M Q y)`);
      const m = STEP.exec(rest);
      if (!m) throw badRequest(`${name}=${quoteInput(text)} is not a time Grafana understands: expected now, now-6h, now-1d/d, epoch milliseconds or an ISO 8601 time`);
      if (m[4]) {
        const unit = UNITS[m[4]]!;
        t = roundUp ? t.endOf(unit) : t.startOf(unit);
      } else {
        const n = m[2] === '' ? 1 : Number(m[2]);
        const unit = UNITS[m[3]!]!;
        t = m[1] === '+' ? t.plus({ [unit]: n }) : t.minus({ [unit]: n });
      }
      rest = rest.slice(m[0].length);
    }
    return t;
  }
  let t: DateTime;
  if (/^\d{8}$/.test(text)) t = DateTime.fromFormat(text, 'yyyyMMdd', { zone });
  else if (/^\d{1,15}$/.test(text)) t = DateTime.fromMillis(Number(text), { zone });
  else t = DateTime.fromISO(text.replace(' ', 'T'), { zone });
  if (!t.isValid) throw badRequest(`${name}=${quoteInput(text)} is not a time Grafana understands: expected now, now-6h, now-1d/d, epoch milliseconds or an ISO 8601 time`);
  return t;
}

export function resolveRange(from: string, to: string, zone: string, now = DateTime.now()): AbsoluteRange {
  const f = resolveTime(from, zone, now, false, 'from');
  const t = resolveTime(to, zone, now, true, 'to');
  if (f >= t) throw badRequest(`the time range ends before it starts (from=${quoteInput(from)}, to=${quoteInput(to)})`);
  return { from: f, to: t, zone };
}

/** "2026-11-30 14:00 – 2026-11-30 20:00 Europe/Berlin (UTC+1)", seconds only where needed. */
export function describeRange(r: AbsoluteRange): string {
  const fmt = (t: DateTime) => t.toFormat(t.second || t.millisecond ? 'yyyy-MM-dd HH:mm:ss' : 'yyyy-MM-dd HH:mm');
  return `${fmt(r.from)} – ${fmt(r.to)} ${zoneLabel(r.to)}`;
}

/** "2026-11-30 20:15 Europe/Berlin (UTC+1)". */
export function describeInstant(t: DateTime): string {
  return `${t.toFormat('yyyy-MM-dd HH:mm')} ${zoneLabel(t)}`;
}

function zoneLabel(t: DateTime): string {
  const offset = t.toFormat('ZZ').replace(/^\+00:00$/, '').replace(/:00$/, '').replace(/^([+-])0(\d)$/, '$1$2');
  return t.zoneName === 'UTC' ? 'UTC' : `${t.zoneName} (UTC${offset})`;
}

// Turns /render's and /render/csv's query strings (exactly as Grafana builds them, see
// DESIGN.md §1.1 and §7) into a RenderRequest or CsvRequest, or a 400/403 that says what is
// wrong. Nothing unchecked gets past here.
import type { Config } from '../config';
import { badRequest, forbiddenUrl, quoteInput } from '../errors';
import { DEFAULT_QUALITY, type Encoding } from '../render/encode';
import type { CsvRequest, PageRequest, RenderRequest } from '../render/types';
import { flag, parsePdfOptions } from './pdfParams';

type Query = Record<string, unknown>;

const MAX_URL_LENGTH = 8192;
/** Grafana's renderKey is a random alphanumeric string; anything else could inject cookie attributes. */
const RENDER_KEY = /^[A-Za-z0-9_-]{1,512}$/;
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*\.?$|^\d{1,3}(\.\d{1,3}){3}$|^\[[0-9a-fA-F:.]+\]$/;
const ACCEPT_LANGUAGE = /^[A-Za-z0-9*,;=.\- ]{1,200}$/;

export function parseRenderParams(query: Query, acceptLanguage: string | undefined, c: Config): RenderRequest {
  const page = parsePageRequest(query, acceptLanguage, c);
  const { url } = page;
  const width = integer(query, 'width', 1000, 1, c.maxWidth);
  const rawHeight = one(query, 'height');
  const height: number | 'full' = rawHeight !== undefined && rawHeight.trim() === '-1' ? 'full' : integer(query, 'height', 500, 1, c.maxHeight);
  const deviceScaleFactor = decimal(query, 'deviceScaleFactor', 1, 0.1, c.maxScale);
  const pixels = width * deviceScaleFactor * ((height === 'full' ? c.maxHeight : height) * deviceScaleFactor);
  if (pixels > c.maxPixels) {
    throw badRequest(`the image would have ${Math.round(pixels)} device pixels; at most ${c.maxPixels} (MAX_PIXELS) are allowed: lower width, height or deviceScaleFactor`);
  }

  // Empty stays PNG (the official renderer's v5 made it PDF, to its users' dismay).
  const pdf = (one(query, 'encoding') ?? '').trim().toLowerCase() === 'pdf' ? parsePdfOptions(query, url) : undefined;
  const output = pdf ? undefined : parseEncoding(query);
  const expandRows = flag(query, url, 'expandRows', false);
  return { ...page, width, height, deviceScaleFactor, output, pdf, expandRows };
}

/**
 * GET /render/csv, as Grafana Enterprise's table export calls it: url, renderKey + domain,
 * timeout, timezone, and `encoding=csv` (or none). What the page downloads is the answer,
 * so there is no size or picture format to choose.
 */
export function parseCsvParams(query: Query, acceptLanguage: string | undefined, c: Config): CsvRequest {
  const page = parsePageRequest(query, acceptLanguage, c);
  const encoding = (one(query, 'encoding') ?? '').trim().toLowerCase();
  if (encoding !== '' && encoding !== 'csv') throw badRequest(`encoding=${quoteInput(encoding)} is not served on /render/csv: use csv (or none); pictures and PDFs come from /render`);
  return page;
}

/** What every render takes: the page, its timeout, timezone, language and Grafana's renderKey. */
function parsePageRequest(query: Query, acceptLanguage: string | undefined, c: Config): PageRequest {
  const url = parsePageUrl(one(query, 'url'), c);
  const timeoutMs = Math.round(decimal(query, 'timeout', c.renderTimeoutS, 1, c.renderTimeoutMaxS) * 1000);
  const timezone = parseTimezone(one(query, 'timezone'));
  const renderKey = one(query, 'renderKey');
  const domain = one(query, 'domain');
  let key: RenderRequest['renderKey'];
  if (renderKey !== undefined && renderKey !== '') {
    if (!RENDER_KEY.test(renderKey)) throw badRequest('renderKey is malformed (expected the letters and digits Grafana generates)');
    if (!domain) throw badRequest('renderKey needs domain (the hostname of grafana.ini [rendering] callback_url)');
    if (!HOSTNAME.test(domain)) throw badRequest('domain is not a valid hostname');
    if (!cookieDomainMatches(url.hostname, domain)) {
      throw badRequest(
        `domain=${quoteInput(domain)} does not match the page host ${url.hostname}: the renderKey cookie would not reach Grafana. Set grafana.ini [rendering] callback_url to the URL panelshot's browser uses for Grafana (GRAFANA_URL)`,
      );
    }
    key = { key: renderKey, domain };
  }

  return { url, timeoutMs, timezone, acceptLanguage: parseAcceptLanguage(acceptLanguage), renderKey: key };
}

/** The caller's Accept-Language for the page, or none. */
export function parseAcceptLanguage(acceptLanguage: string | undefined): string | undefined {
  // "*" (what many HTTP clients send) states no preference: keep the browser's default.
  if (acceptLanguage === undefined || acceptLanguage.trim() === '' || acceptLanguage.trim() === '*') return undefined;
  if (!ACCEPT_LANGUAGE.test(acceptLanguage)) throw badRequest('the Accept-Language header is malformed');
  return acceptLanguage.trim();
}

/** `encoding` (png, jpeg, webp; empty = PNG, as Grafana expects) and `quality` (1..100, JPEG and WebP only). */
export function parseEncoding(query: Query): Encoding {
  const encoding = (one(query, 'encoding') ?? '').trim().toLowerCase();
  const rawQuality = one(query, 'quality');
  if (encoding === '' || encoding === 'png') {
    if (rawQuality !== undefined && rawQuality.trim() !== '') throw badRequest('quality applies to encoding=jpeg or webp only (PNG is lossless)');
    return { format: 'png' };
  }
  const format = encoding === 'jpg' ? 'jpeg' : encoding;
  if (format !== 'jpeg' && format !== 'webp') {
    throw badRequest(`encoding=${quoteInput(encoding)} is not served on /render: use png (default), jpeg, webp or pdf (CSV comes from /render/csv)`);
  }
  return { format, quality: integer(query, 'quality', DEFAULT_QUALITY, 1, 100, 'a whole number') };
}

export function parsePageUrl(raw: string | undefined, c: Config): URL {
  if (raw === undefined || raw.trim() === '') throw badRequest('url is required: the Grafana page to render, e.g. url=' + encodeURIComponent(`${c.grafanaUrl.origin}/d-solo/<uid>/<slug>?panelId=2`));
  if (raw.length > MAX_URL_LENGTH) throw badRequest(`url is longer than ${MAX_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw badRequest('url is not an absolute URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw forbiddenUrl(`url scheme ${url.protocol} is not allowed: only http(s) pages on ${c.grafanaUrl.origin} are rendered`);
  }
  if (url.username || url.password) throw badRequest('url must not contain a user name or password');
  if (url.origin !== c.grafanaUrl.origin) {
    throw forbiddenUrl(`url is not on Grafana's origin: only pages on ${c.grafanaUrl.origin} (GRAFANA_URL) are rendered, not ${url.origin}`);
  }
  return url;
}

export function parseTimezone(raw: string | undefined): string | undefined {
  const tz = raw?.trim();
  // Grafana sends an empty value, or "browser" for "whatever the viewer uses": no override.
  if (!tz || tz === 'browser') return undefined;
  if (tz.length > 64 || !/^[A-Za-z0-9_+\-/]+$/.test(tz)) throw badRequest('timezone is malformed: expected an IANA name such as Europe/Berlin');
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: tz }).resolvedOptions().timeZone;
  } catch {
    throw badRequest(`timezone ${quoteInput(tz)} is unknown: expected an IANA name such as Europe/Berlin or UTC`);
  }
}

/** The single string value of a parameter; repeated or structured values are refused. */
export function one(query: Query, name: string): string | undefined {
  const v = query[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw badRequest(`${name} is given more than once`);
  return v;
}

export function integer(query: Query, name: string, fallback: number, min: number, max: number, what = 'a whole number of CSS pixels'): number {
  const raw = one(query, name)?.trim();
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d{1,9}$/.test(raw)) throw badRequest(`${name} must be ${what} between ${min} and ${max}, got "${quoteInput(raw)}"`);
  const n = Number(raw);
  if (n < min || n > max) throw badRequest(`${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

export function decimal(query: Query, name: string, fallback: number, min: number, max: number): number {
  const raw = one(query, name)?.trim();
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d{1,6}(\.\d{1,9})?$/.test(raw)) throw badRequest(`${name} must be a number between ${min} and ${max}, got "${quoteInput(raw)}"`);
  const n = Number(raw);
  if (n < min || n > max) throw badRequest(`${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

/** RFC 6265 domain matching: would a cookie for `domain` be sent to `host`? */
function cookieDomainMatches(host: string, domain: string): boolean {
  const d = domain.toLowerCase().replace(/^\./, '').replace(/\.$/, '');
  const h = host.toLowerCase();
  return h === d || (h.endsWith(`.${d}`) && !/^\d+(\.\d+){3}$/.test(h));
}

// Signed image links (docs/adr/0008-signed-link-token.md): a link carries the canonical
// render request and its expiry, and an HMAC-SHA256 over exactly those bytes. No
// credentials ever: the render uses panelshot's own Grafana session or token.
//
//   token   = base64url(payload) "." base64url(HMAC-SHA256(secret, "panelshot-link-v1." + base64url(payload)))
//   payload = JSON object with sorted keys: the render parameters below, and `exp` (unix seconds)
import crypto from 'node:crypto';
import { linkRejected } from '../errors';

/** The parameters a link may carry, with the names /render uses. Nothing else is signed or honoured. */
export const LINK_PARAMS = ['url', 'width', 'height', 'deviceScaleFactor', 'timezone', 'encoding', 'quality', 'timeout'] as const;
export type LinkParams = Partial<Record<(typeof LINK_PARAMS)[number], string>>;

const DOMAIN = 'panelshot-link-v1.';
/** Tokens larger than this are not even decoded. */
const MAX_TOKEN_LENGTH = 12_000;

function mac(secret: string, payloadB64: string): Buffer {
  return crypto.createHmac('sha256', secret).update(DOMAIN + payloadB64).digest();
}

/** The canonical bytes: only known parameters, as strings, keys sorted, plus `exp`. */
function canonical(params: LinkParams, exp: number): string {
  const entries: [string, string | number][] = LINK_PARAMS.filter((k) => params[k] !== undefined && params[k] !== '').map((k) => [k, params[k]!]);
  entries.push(['exp', exp]);
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify(Object.fromEntries(entries));
}

export function signLink(params: LinkParams, secret: string, expiresAtS: number): string {
  const payload = Buffer.from(canonical(params, expiresAtS)).toString('base64url');
  return `${payload}.${mac(secret, payload).toString('base64url')}`;
}

/**
 * The parameters of a genuine, unexpired token; a 403 otherwise. Every secret is tried in
 * constant time (timingSafeEqual), so neither the token nor which secret matched leaks.
 */
export function verifyLink(token: string, secrets: string[], maxTtlS: number, nowMs = Date.now()): { params: LinkParams; exp: number } {
  const parts = token.length <= MAX_TOKEN_LENGTH ? token.split('.') : [];
  if (parts.length !== 2 || !/^[A-Za-z0-9_-]+$/.test(parts[0]!) || !/^[A-Za-z0-9_-]{43}$/.test(parts[1]!)) {
    throw linkRejected('the link is malformed (not a token panelshot signed)');
  }
  const [payload, sig] = parts as [string, string];
  const given = Buffer.from(sig, 'base64url');
  let ok = false;
  for (const s of secrets) ok = crypto.timingSafeEqual(mac(s, payload), given) || ok;
  if (!ok) throw linkRejected('the link signature does not match: it was changed, or signed with a secret that is no longer in LINK_SECRET');
  let decoded: Record<string, unknown>;
  try {
    decoded = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    throw linkRejected('the link payload is unreadable');
  }
  const exp = decoded.exp;
  if (typeof exp !== 'number' || !Number.isInteger(exp)) throw linkRejected('the link has no expiry');
  const nowS = Math.floor(nowMs / 1000);
  if (exp < nowS) throw linkRejected(`the link expired ${nowS - exp} s ago`);
  if (exp > nowS + maxTtlS + 60) throw linkRejected(`the link lives longer than LINK_MAX_TTL_S (${maxTtlS} s) allows`);
  const params: LinkParams = {};
  for (const [k, v] of Object.entries(decoded)) {
    if (k === 'exp') continue;
    if (!(LINK_PARAMS as readonly string[]).includes(k) || typeof v !== 'string') throw linkRejected(`the link carries an unknown parameter (${k.slice(0, 30)})`);
    params[k as keyof LinkParams] = v;
  }
  return { params, exp };
}

/** For logs: which link, without the link (a link is a bearer capability until it expires). */
export function linkFingerprint(token: string): string {
  return crypto.createHash('sha256').update(token).digest('hex').slice(0, 10);
}

/** "15m", "2h", "7d", "90s" or plain seconds. */
export function parseDuration(raw: string): number | undefined {
  const m = /^(\d{1,9})([smhd]?)$/.exec(raw.trim());
  if (!m) return undefined;
  return Number(m[1]) * { '': 1, s: 1, m: 60, h: 3600, d: 86_400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
}

// Signed links to archived files (e-mails and webhooks of scheduled runs): readers without
// Grafana access or an AUTH_TOKEN open one file of the archive until the link expires. The
// same LINK_SECRET as /i/ links, under its own domain string, so an image-link signature can
// never pass as an archive link or the reverse.
//
//   <PUBLIC_URL>/archive/<job>/<run>/<file>?exp=<unix s>&sig=base64url(HMAC-SHA256(secret, "panelshot-archive-v1." + path + "." + exp))
import crypto from 'node:crypto';
import { linkRejected } from '../errors';

const DOMAIN = 'panelshot-archive-v1.';

function mac(secret: string, relPath: string, exp: number): Buffer {
  return crypto.createHmac('sha256', secret).update(`${DOMAIN}${relPath}.${exp}`).digest();
}

/** `relPath` is the file's path below the archive, e.g. `morning/2026-12-07T0100Z/report.pdf`. */
export function signArchiveLink(publicUrl: string, relPath: string, secret: string, expiresAtS: number): string {
  const sig = mac(secret, relPath, expiresAtS).toString('base64url');
  return `${publicUrl}/archive/${relPath.split('/').map(encodeURIComponent).join('/')}?exp=${expiresAtS}&sig=${sig}`;
}

/** Accepts a genuine, unexpired signature for exactly `relPath`; a 403 otherwise. */
export function verifyArchiveLink(relPath: string, exp: string, sig: string, secrets: string[], maxTtlS: number, nowMs = Date.now()): void {
  if (!/^\d{1,12}$/.test(exp) || !/^[A-Za-z0-9_-]{43}$/.test(sig)) throw linkRejected('the archive link is malformed');
  const given = Buffer.from(sig, 'base64url');
  let ok = false;
  for (const s of secrets) ok = crypto.timingSafeEqual(mac(s, relPath, Number(exp)), given) || ok;
  if (!ok) throw linkRejected('the archive link signature does not match: it was changed, or signed with a secret that is no longer in LINK_SECRET');
  const nowS = Math.floor(nowMs / 1000);
  if (Number(exp) < nowS) throw linkRejected(`the archive link expired ${nowS - Number(exp)} s ago`);
  if (Number(exp) > nowS + maxTtlS + 60) throw linkRejected(`the archive link lives longer than LINK_MAX_TTL_S (${maxTtlS} s) allows`);
}

// One JSON logger for the whole service (pino). Secrets never reach it: we log no headers,
// no cookies and no query strings as given; `safeUrl` drops everything that can carry a
// credential, and the redact list is a second net for fields someone adds later.
import pino from 'pino';

export type Logger = pino.Logger;

export function createLogger(level = 'info', destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'panelshot' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: ['password', 'token', 'cookie', 'cookies', 'renderKey', 'authorization', '*.password', '*.token', '*.cookie', '*.renderKey', '*.authorization'],
        censor: '[redacted]',
      },
    },
    destination,
  );
}

/** Query parameters that may carry a credential: their values are never logged. */
const SECRET_PARAMS = /^(renderkey|auth_?token|token|api_?key|access_token|password|pass|session)$/i;

/** Names of the query parameters of `raw` that could carry a credential. */
export function secretParams(raw: URL): string[] {
  return [...new Set([...raw.searchParams.keys()].filter((k) => SECRET_PARAMS.test(k)))];
}

/** A URL fit for a log line: no user info, secret-looking parameters blanked, capped length. */
export function safeUrl(raw: string): string {
  try {
    const u = new URL(raw);
    u.username = '';
    u.password = '';
    for (const key of [...u.searchParams.keys()]) if (SECRET_PARAMS.test(key)) u.searchParams.set(key, 'redacted');
    return u.toString().slice(0, 500);
  } catch {
    return '(unparsable url)';
  }
}

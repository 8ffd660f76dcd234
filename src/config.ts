// Every setting panelshot reads, with its default and meaning, lives in this one table.
// The README table, `.env.example` and `--help` are written from the same descriptions;
// test/config.test.ts fails if `.env.example` misses a key that is defined here.
import fs from 'node:fs';
import path from 'node:path';
import dotenv from 'dotenv';
import { z } from 'zod';

/** Thrown when the configuration is unusable; main.ts prints the message and exits non-zero. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Grafana's default renderer_token is "-": anyone who can reach the port could render any
 * dashboard with our credentials, so only loopback may run with it. Checked on HTTP_HOST at
 * load, and again on the address of a socket systemd hands over (panelshot.socket).
 */
export function assertListenAllowed(what: string, host: string, authTokens: string[]): void {
  if (!isLoopback(host) && authTokens.some((t) => t === '-' || t.length < 8)) {
    throw new ConfigError(
      `invalid configuration: ${what} is not a loopback address, so AUTH_TOKEN must be a secret of at least 8 characters (not the default "-"); set the same value as grafana.ini [rendering] renderer_token`,
    );
  }
}

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', ''], { message: 'must be true or false' })
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const int = (min: number, max: number) =>
  z.coerce.number({ message: `must be a whole number from ${min} to ${max}` }).int(`must be a whole number from ${min} to ${max}`).min(min, `must be at least ${min}`).max(max, `must be at most ${max}`);
const num = (min: number, max: number) =>
  z.coerce.number({ message: `must be a number from ${min} to ${max}` }).min(min, `must be at least ${min}`).max(max, `must be at most ${max}`);
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

function isHttpUrl(v: string): boolean {
  try {
    return /^https?:$/.test(new URL(v).protocol);
  } catch {
    return false;
  }
}

/** An IANA zone Intl knows (for config keys and jobs files alike). */
export function isValidTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

interface KeyDoc {
  schema: z.ZodType;
  default?: string;
  doc: string;
  /** Shown commented out in .env.example when there is no default worth writing. */
  example?: string;
}

/** The table. Order is the order of `.env.example`, the README and `--help`. */
export const KEYS = {
  GRAFANA_URL: {
    schema: z
      .string({ message: 'is required (the base URL of Grafana, e.g. http://127.0.0.1:3000)' })
      .trim()
      .refine(isHttpUrl, 'must be an absolute http:// or https:// URL, e.g. http://127.0.0.1:3000'),
    doc: 'Base URL of Grafana as the browser reaches it, sub-path included (required). Only pages on its origin are rendered.',
    example: 'http://127.0.0.1:3000',
  },
  GRAFANA_USER: { schema: optionalString, doc: 'Grafana user panelshot logs in as for direct calls (with GRAFANA_PASS).', example: 'renderer' },
  GRAFANA_PASS: { schema: optionalString, doc: 'Password of GRAFANA_USER. Never logged.', example: 'change-me' },
  GRAFANA_TOKEN: {
    schema: optionalString,
    doc: 'Service-account token, sent as Authorization: Bearer to Grafana\'s origin only; used instead of the login when set. Never logged.',
    example: 'glsa_xxxxxxxx',
  },
  GRAFANA_CA_FILE: {
    schema: optionalString.refine((v) => v === undefined || fs.existsSync(v), 'must name a readable PEM file'),
    doc: 'PEM file of the CA that signed Grafana\'s certificate (internal CA); trusted by the login client and by Chrome (needs certutil from libnss3-tools).',
    example: '/etc/panelshot/grafana-ca.pem',
  },
  GRAFANA_INSECURE_TLS: {
    schema: bool,
    default: 'false',
    doc: 'Accept any certificate from Grafana (no verification). Only for tests; logged as a warning at start.',
  },
  GRAFANA_LOGIN_BACKOFF_MS: {
    schema: int(1000, 86_400_000),
    default: '60000',
    doc: 'After Grafana rejects the password, wait this long before trying again (5 bad logins lock the Grafana account).',
  },
  HTTP_HOST: { schema: z.string().trim().min(1), default: '127.0.0.1', doc: 'Address the HTTP server listens on. Not used under systemd with panelshot.socket: its ListenStream= sets the address (systemctl edit panelshot.socket).' },
  HTTP_PORT: { schema: int(0, 65535), default: '8081', doc: 'Port the HTTP server listens on (0 = any free port). Not used under systemd with panelshot.socket, like HTTP_HOST.' },
  BASE_PATH: {
    schema: z
      .string()
      .trim()
      .refine((v) => v === '' || /^\/[A-Za-z0-9._~\-/]*[^/]$/.test(v), 'must be empty or a path such as /renderer (leading slash, no trailing slash)'),
    default: '',
    doc: 'Path prefix all endpoints are served under, for a reverse proxy that forwards /renderer/... unchanged (then server_url = https://proxy/renderer/render).',
  },
  TRUST_PROXY: {
    schema: z.string().trim(),
    default: 'loopback',
    doc: 'Which proxies may set X-Forwarded-For/-Proto (express "trust proxy": loopback, a CIDR list, a hop count, true or false); the client address in the log comes from it.',
  },
  TLS_CERT_FILE: {
    schema: optionalString.refine((v) => v === undefined || fs.existsSync(v), 'must name a readable PEM file'),
    doc: 'Serve HTTPS with this certificate (PEM, chain included) instead of HTTP; needs TLS_KEY_FILE.',
    example: '/etc/panelshot/tls.crt',
  },
  TLS_KEY_FILE: {
    schema: optionalString.refine((v) => v === undefined || fs.existsSync(v), 'must name a readable PEM file'),
    doc: 'Private key (PEM) for TLS_CERT_FILE. Never logged.',
    example: '/etc/panelshot/tls.key',
  },
  AUTH_TOKEN: {
    schema: z.string(),
    default: '-',
    doc: 'Accepted X-Auth-Token values on /render, comma-separated; must match grafana.ini [rendering] renderer_token. Never logged.',
  },
  CHROME_BIN: { schema: optionalString, doc: 'Chrome/Chromium binary. Default: chromium-headless-shell (Debian: its real binary in /usr/lib/chromium, not the /usr/bin wrapper), then chromium, chromium-browser, google-chrome on PATH.', example: '/usr/lib/chromium/chromium-headless-shell' },
  CHROMEDRIVER_PATH: {
    schema: optionalString,
    doc: 'chromedriver binary. Default: chromedriver on PATH, then the npm chromedriver package\'s download.',
    example: '/usr/bin/chromedriver',
  },
  SELENIUM_REMOTE_URL: {
    schema: optionalString.refine((v) => v === undefined || /^https?:\/\//.test(v), 'must be an http(s) URL'),
    doc: 'Selenium Grid 4 URL (e.g. http://127.0.0.1:4444). When set, Chrome sessions come from the Grid instead of a local chromedriver.',
    example: 'http://127.0.0.1:4444',
  },
  GRID_REGISTRATION_SECRET: {
    schema: z.string(),
    default: '',
    doc: 'The Grid nodes\' --registration-secret, if set: after a hub restart panelshot deletes its old sessions on the nodes with it (DELETE /se/grid/node/session/<id>). Never logged.',
  },
  CHROME_ARGS: { schema: z.string(), default: '', doc: 'Extra Chrome command-line flags, space-separated. V8 flags given as --js-flags=... join panelshot\'s own (Chrome reads only one --js-flags).' },
  POOL_SIZE: { schema: int(1, 64), default: '2', doc: 'Warm Chrome sessions kept ready; renders beyond this wait in the queue.' },
  TABS_PER_CHROME: {
    schema: int(1, 16),
    default: '4',
    doc: 'Sessions that share one Chrome process tree, each in its own browser context (cookies and storage apart). A Chrome costs ~240 MiB before its tabs; 1 gives every session its own Chrome. Ignored with SELENIUM_REMOTE_URL.',
  },
  QUEUE_MAX: { schema: int(0, 10_000), default: '20', doc: 'Renders allowed to wait for a free Chrome; more are answered 429 at once.' },
  QUEUE_WAIT_MS: { schema: int(0, 600_000), default: '30000', doc: 'Longest a render waits in the queue before it is answered 429.' },
  RECYCLE_AFTER: {
    schema: int(0, 1_000_000),
    default: '100',
    doc: 'Replace a session (its tab and browser context) after this many renders; a Chrome is replaced after serving 2*TABS_PER_CHROME such sessions (0 = never).',
  },
  RECYCLE_MEMORY_MB: {
    schema: int(0, 100_000),
    default: '0',
    doc: 'Memory ceiling for the whole process tree (panelshot, chromedrivers, every Chrome process), in MiB PSS; 0 = none. Checked between renders (a reading at most every second): over it, the session just released (or an idle one) gets a fresh tab and browser context in the same Chrome, one at a time; if fresh sessions cannot meet it, memory_ceiling_unmet is logged. Renders never fail or wait for it; a swell during a render is not capped. Local Chrome only.',
  },
  RENDER_TIMEOUT_S: { schema: int(1, 600), default: '30', doc: 'Render timeout in seconds when the request gives none.' },
  RENDER_TIMEOUT_MAX_S: { schema: int(1, 3600), default: '120', doc: 'Largest timeout a request may ask for, in seconds.' },
  ON_TIMEOUT: {
    schema: z.enum(['best-frame', 'error'], { message: 'must be best-frame or error' }),
    default: 'best-frame',
    doc: 'When the page has not settled by the timeout: best-frame answers 200 with the last frame and X-Panelshot-Settled: false; error answers 408.',
  },
  STABLE_INTERVAL_MS: {
    schema: int(0, 5000),
    default: '20',
    doc: 'Pause between the screenshots that are compared (each capture itself takes 20-60 ms). Screenshots start only once the page is quiet: no fetch/XHR or script/stylesheet load in flight, no loading indicator, no animation frame requested and not yet drawn, no running CSS animation, no timer due within 1 s (the last three for at most 3 s each).',
  },
  STABLE_FRAMES: {
    schema: int(2, 50),
    default: '2',
    doc: 'Consecutive equal screenshots that make a page stable. Raise to 3-4 for panels that redraw in steps without network or animation activity.',
  },
  STABLE_TOLERANCE: {
    schema: num(0, 1),
    default: '0',
    doc: 'Share of pixels (0..1) that may differ between two screenshots that still count as equal (e.g. 0.001 for a blinking cursor).',
  },
  MAX_WIDTH: { schema: int(16, 16384), default: '4000', doc: 'Largest width in CSS pixels.' },
  MAX_HEIGHT: { schema: int(16, 16384), default: '8000', doc: 'Largest height in CSS pixels (also caps height=-1 full-page renders).' },
  MAX_SCALE: { schema: num(0.1, 8), default: '4', doc: 'Largest deviceScaleFactor.' },
  MAX_PIXELS: { schema: int(10_000, 400_000_000), default: '40000000', doc: 'Largest image in device pixels (width*scale*height*scale).' },
  MAX_PDF_PAGES: {
    schema: int(1, 10_000),
    default: '100',
    doc: 'Largest PDF in pages (encoding=pdf); a longer page is cut after this many pages unless pdf.pageRanges asks for more, which is refused (413).',
  },
  MAX_PDF_BYTES: { schema: int(100_000, 2_000_000_000), default: '50000000', doc: 'Largest PDF in bytes; a bigger one is refused with 413.' },
  MAX_CSV_BYTES: {
    schema: int(1000, 2_000_000_000),
    default: '50000000',
    doc: 'Largest CSV download (GET /render/csv) in bytes; a bigger one is cancelled in Chrome and refused with 413.',
  },
  DEFAULT_TIMEZONE: {
    schema: optionalString.refine((v) => v === undefined || isValidTimezone(v), 'must be an IANA timezone such as Europe/Berlin'),
    doc: 'Timezone for renders whose request names none. Default: the browser\'s (the host\'s).',
    example: 'Europe/Berlin',
  },
  MAX_PANELS: {
    schema: int(1, 10_000),
    default: '100',
    doc: 'Most panels one GET /render/dashboard (or `panelshot shoot` of a dashboard) may render, after rows and repeats are expanded; more is a 400.',
  },
  CACHE_TTL_S: {
    schema: int(0, 86_400),
    default: '0',
    doc: 'Keep finished images of direct and signed-link renders this many seconds; an identical request within it gets the same image with an Age header (0 = off). Never used for Grafana\'s renderKey requests.',
  },
  CACHE_MAX_BYTES: {
    schema: int(1024, 4_294_967_296),
    default: '67108864',
    doc: 'Most bytes of images the render cache holds; the least recently used go first.',
  },
  LINK_SECRET: {
    schema: optionalString.refine((v) => v === undefined || v.split(',').every((t) => t.trim().length >= 16), 'must be one or more secrets of at least 16 characters, comma-separated'),
    doc: 'Secret(s) for signed image links (GET /i/<token>.<ext>, `panelshot sign`), comma-separated: the first signs, all verify (rotation). Unset = no /i/ route. Never logged.',
    example: 'a-long-random-secret-from-openssl-rand-hex-32',
  },
  PUBLIC_URL: {
    schema: optionalString.refine((v) => v === undefined || isHttpUrl(v), 'must be an absolute http:// or https:// URL'),
    doc: 'panelshot\'s external base URL as message readers reach it, BASE_PATH included; `panelshot sign` prints links under it.',
    example: 'https://renderer.example.com/renderer',
  },
  LINK_MAX_TTL_S: {
    schema: int(60, 31_536_000),
    default: '604800',
    doc: 'Longest lifetime of a signed link in seconds; longer ones are not signed, nor honoured when they arrive.',
  },
  STATUS_PAGE: {
    schema: z.enum(['on', 'off'], { message: 'must be on or off' }),
    default: 'on',
    doc: 'The status page at / (pool, recent renders, a render form). Beyond loopback it asks for an AUTH_TOKEN value by HTTP Basic auth (any user name).',
  },
  JOBS_FILE: {
    schema: optionalString.refine((v) => v === undefined || fs.existsSync(v), 'must name a readable YAML file'),
    doc: 'Scheduled captures (README "Scheduled captures"): a YAML file of jobs, checked at start (exit 78 when invalid) and reloaded on SIGHUP. Unset = no scheduler.',
    example: '/etc/panelshot/jobs.yaml',
  },
  ARCHIVE_DIR: {
    schema: z.string().trim().min(1, 'must name a directory'),
    default: '/var/lib/panelshot/archive',
    doc: 'Where scheduled runs are kept, as <job>/<UTC start>/ (report, panel images, manifest.json); served at GET /archive.',
  },
  SMTP_URL: {
    schema: optionalString.refine((v) => v === undefined || /^smtps?:\/\/[^/]/.test(v), 'must be an smtp:// (STARTTLS) or smtps:// URL'),
    doc: 'Mail server for job deliveries, e.g. smtp://user:password@mail.example.com:587 (STARTTLS is required on smtp://). Never logged.',
    example: 'smtp://panelshot:secret@mail.example.com:587',
  },
  SMTP_FROM: { schema: optionalString, doc: 'Sender address of job e-mails.', example: 'panelshot <panelshot@example.com>' },
  SMTP_CA_FILE: {
    schema: optionalString.refine((v) => v === undefined || fs.existsSync(v), 'must name a readable PEM file'),
    doc: 'Extra CA certificate (PEM) that the mail server\'s certificate is checked against (a private CA).',
    example: '/etc/panelshot/mail-ca.pem',
  },
  MAIL_ATTACH_MAX_BYTES: {
    schema: int(0, 100_000_000),
    default: '10000000',
    doc: 'Largest report attached to a job e-mail; a bigger one is sent as a signed link only.',
  },
  WEBHOOK_ALLOW: {
    schema: z.string(),
    default: '',
    doc: 'Hosts (host or host:port, comma-separated) that job webhooks may call; any other is refused when the jobs file is read.',
  },
  DELIVERY_RETRIES: { schema: int(0, 20), default: '5', doc: 'How often a failed e-mail or webhook delivery is tried again.' },
  DELIVERY_BACKOFF_MS: {
    schema: int(1, 3_600_000),
    default: '30000',
    doc: 'Wait before the first retry of a delivery; it doubles with each retry.',
  },
  LOG_LEVEL: {
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { message: 'must be one of fatal, error, warn, info, debug, trace, silent' }),
    default: 'info',
    doc: 'Log level of the JSON log on stdout.',
  },
} satisfies Record<string, KeyDoc>;

export type ConfigKey = keyof typeof KEYS;

export interface Config {
  grafanaUrl: URL;
  grafanaUser?: string;
  grafanaPass?: string;
  grafanaToken?: string;
  grafanaCaFile?: string;
  grafanaInsecureTls: boolean;
  loginBackoffMs: number;
  basePath: string;
  trustProxy: boolean | number | string;
  tls?: { certFile: string; keyFile: string };
  httpHost: string;
  httpPort: number;
  authTokens: string[];
  chromeBin?: string;
  chromedriverPath?: string;
  seleniumRemoteUrl?: string;
  gridRegistrationSecret: string;
  chromeArgs: string[];
  poolSize: number;
  tabsPerChrome: number;
  queueMax: number;
  queueWaitMs: number;
  recycleAfter: number;
  recycleMemoryMb: number;
  renderTimeoutS: number;
  renderTimeoutMaxS: number;
  onTimeout: 'best-frame' | 'error';
  stableIntervalMs: number;
  stableFrames: number;
  stableTolerance: number;
  maxWidth: number;
  maxHeight: number;
  maxScale: number;
  maxPixels: number;
  maxPdfPages: number;
  maxPdfBytes: number;
  maxCsvBytes: number;
  defaultTimezone?: string;
  maxPanels: number;
  cacheTtlS: number;
  cacheMaxBytes: number;
  /** Empty when signed links are off. The first one signs. */
  linkSecrets: string[];
  /** Without a trailing slash. */
  publicUrl?: string;
  linkMaxTtlS: number;
  statusPage: boolean;
  logLevel: string;
  jobsFile?: string;
  archiveDir: string;
  /** Carries the mail password: never logged. */
  smtpUrl?: string;
  smtpFrom?: string;
  smtpCaFile?: string;
  mailAttachMaxBytes: number;
  /** Lower-case hosts (host or host:port). */
  webhookAllow: string[];
  deliveryRetries: number;
  deliveryBackoffMs: number;
}

/**
 * Reads `env` (process.env by default, after loading `.env` from the working directory
 * without overriding what the environment already sets) and validates every key.
 * Throws ConfigError naming each bad key.
 */
export function loadConfig(env: NodeJS.ProcessEnv = loadDotenv()): Config {
  const values: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, spec] of Object.entries(KEYS) as [ConfigKey, KeyDoc][]) {
    const raw = env[key] ?? spec.default;
    const parsed = spec.schema.safeParse(raw);
    if (parsed.success) values[key] = parsed.data;
    else problems.push(`${key} ${parsed.error.issues.map((i) => i.message).join('; ')}`);
  }
  if (problems.length) throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);

  const v = values as { [K in ConfigKey]: z.infer<(typeof KEYS)[K]['schema']> };
  if ((v.GRAFANA_USER === undefined) !== (v.GRAFANA_PASS === undefined)) {
    throw new ConfigError('invalid configuration: GRAFANA_USER and GRAFANA_PASS must be set together');
  }
  const authTokens = v.AUTH_TOKEN.split(',').map((t) => t.trim()).filter((t) => t !== '');
  if (authTokens.length === 0) throw new ConfigError('invalid configuration: AUTH_TOKEN must hold at least one token (the default is "-")');
  if (v.RENDER_TIMEOUT_S > v.RENDER_TIMEOUT_MAX_S) {
    throw new ConfigError('invalid configuration: RENDER_TIMEOUT_S must not exceed RENDER_TIMEOUT_MAX_S');
  }
  assertListenAllowed(`HTTP_HOST=${v.HTTP_HOST}`, v.HTTP_HOST, authTokens);
  if ((v.TLS_CERT_FILE === undefined) !== (v.TLS_KEY_FILE === undefined)) {
    throw new ConfigError('invalid configuration: TLS_CERT_FILE and TLS_KEY_FILE must be set together');
  }
  const grafanaUrl = new URL(v.GRAFANA_URL);
  if (!grafanaUrl.pathname.endsWith('/')) grafanaUrl.pathname += '/';

  return {
    grafanaUrl,
    grafanaUser: v.GRAFANA_USER,
    grafanaPass: v.GRAFANA_PASS,
    grafanaToken: v.GRAFANA_TOKEN,
    grafanaCaFile: v.GRAFANA_CA_FILE,
    grafanaInsecureTls: v.GRAFANA_INSECURE_TLS,
    loginBackoffMs: v.GRAFANA_LOGIN_BACKOFF_MS,
    basePath: v.BASE_PATH,
    trustProxy: parseTrustProxy(v.TRUST_PROXY),
    tls: v.TLS_CERT_FILE && v.TLS_KEY_FILE ? { certFile: v.TLS_CERT_FILE, keyFile: v.TLS_KEY_FILE } : undefined,
    httpHost: v.HTTP_HOST,
    httpPort: v.HTTP_PORT,
    authTokens,
    chromeBin: v.CHROME_BIN,
    chromedriverPath: v.CHROMEDRIVER_PATH,
    seleniumRemoteUrl: v.SELENIUM_REMOTE_URL,
    gridRegistrationSecret: v.GRID_REGISTRATION_SECRET,
    chromeArgs: v.CHROME_ARGS.split(/\s+/).filter(Boolean),
    poolSize: v.POOL_SIZE,
    tabsPerChrome: v.TABS_PER_CHROME,
    queueMax: v.QUEUE_MAX,
    queueWaitMs: v.QUEUE_WAIT_MS,
    recycleAfter: v.RECYCLE_AFTER,
    recycleMemoryMb: v.RECYCLE_MEMORY_MB,
    renderTimeoutS: v.RENDER_TIMEOUT_S,
    renderTimeoutMaxS: v.RENDER_TIMEOUT_MAX_S,
    onTimeout: v.ON_TIMEOUT,
    stableIntervalMs: v.STABLE_INTERVAL_MS,
    stableFrames: v.STABLE_FRAMES,
    stableTolerance: v.STABLE_TOLERANCE,
    maxWidth: v.MAX_WIDTH,
    maxHeight: v.MAX_HEIGHT,
    maxScale: v.MAX_SCALE,
    maxPixels: v.MAX_PIXELS,
    maxPdfPages: v.MAX_PDF_PAGES,
    maxPdfBytes: v.MAX_PDF_BYTES,
    maxCsvBytes: v.MAX_CSV_BYTES,
    defaultTimezone: v.DEFAULT_TIMEZONE,
    maxPanels: v.MAX_PANELS,
    cacheTtlS: v.CACHE_TTL_S,
    cacheMaxBytes: v.CACHE_MAX_BYTES,
    linkSecrets: (v.LINK_SECRET ?? '').split(',').map((t) => t.trim()).filter((t) => t !== ''),
    publicUrl: v.PUBLIC_URL?.replace(/\/+$/, ''),
    linkMaxTtlS: v.LINK_MAX_TTL_S,
    statusPage: v.STATUS_PAGE === 'on',
    logLevel: v.LOG_LEVEL,
    jobsFile: v.JOBS_FILE,
    archiveDir: path.resolve(v.ARCHIVE_DIR),
    smtpUrl: v.SMTP_URL,
    smtpFrom: v.SMTP_FROM,
    smtpCaFile: v.SMTP_CA_FILE,
    mailAttachMaxBytes: v.MAIL_ATTACH_MAX_BYTES,
    webhookAllow: v.WEBHOOK_ALLOW.split(',').map((h) => h.trim().toLowerCase()).filter(Boolean),
    deliveryRetries: v.DELIVERY_RETRIES,
    deliveryBackoffMs: v.DELIVERY_BACKOFF_MS,
  };
}

function loadDotenv(): NodeJS.ProcessEnv {
  const file = path.resolve('.env');
  if (fs.existsSync(file)) dotenv.config({ path: file, quiet: true });
  return process.env;
}

/** express's "trust proxy" accepts booleans, hop counts and address lists. */
function parseTrustProxy(v: string): boolean | number | string {
  if (v === 'true') return true;
  if (v === 'false' || v === '') return false;
  if (/^\d+$/.test(v)) return Number(v);
  return v;
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** The `--help` text and the `.env.example` body come from KEYS. */
export function describeKeys(): { key: ConfigKey; default?: string; doc: string; example?: string }[] {
  return (Object.entries(KEYS) as [ConfigKey, KeyDoc][]).map(([key, s]) => ({ key, default: s.default, doc: s.doc, example: s.example }));
}

// Wires config → logger → metrics → Grafana session → browser pool → renderer → HTTP, and
// takes them down again in order. main.ts runs one; tests run several in one process.
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import axios from 'axios';
import type { AddressInfo } from 'node:net';
import { assertListenAllowed, ConfigError, isLoopback, type Config } from './config';
import { GridError, gridStatus, whyNoChromeSlot } from './browser/grid';
import { BrowserPool } from './browser/pool';
import { findBinaries, type Binaries } from './browser/binaries';
import { GrafanaLogin } from './grafana/login';
import { createApp } from './http/app';
import { createLogger, type Logger } from './logger';
import { createMetrics } from './metrics';
import { Renderer } from './render/renderer';
import { BatchGate } from './render/batch';
import { RenderCache } from './render/cache';
import { prepareDownloadsParent } from './render/csv';
import { watchdog } from './browser/watchdog';
import { chromeHomeTrusting } from './browser/trust';
import { checkArchiveDir, createScheduling, type Scheduling } from './schedule';
import { loadJobs } from './schedule/jobs';
import { startTracing } from './tracing';

export const VERSION: string = require('../package.json').version;

/**
 * The listening socket systemd passes under socket activation (panelshot.socket), if any.
 * systemd keeps that socket open across restarts, so connections made while panelshot
 * restarts (an upgrade) wait in its backlog instead of being refused. The LISTEN_*
 * variables are removed so that Chrome and chromedriver do not take them as theirs.
 */
function systemdSocket(): number | undefined {
  const mine = process.env.LISTEN_PID === String(process.pid) && Number(process.env.LISTEN_FDS) >= 1;
  delete process.env.LISTEN_PID;
  delete process.env.LISTEN_FDS;
  delete process.env.LISTEN_FDNAMES;
  return mine ? 3 : undefined; // SD_LISTEN_FDS_START
}

export interface Service {
  url: string;
  port: number;
  pool: BrowserPool;
  logger: Logger;
  binaries: Binaries;
  /** Scheduled captures, when JOBS_FILE is set. */
  scheduling?: Scheduling;
  /** Stops accepting, lets in-flight renders finish within `graceMs`, quits every Chrome. */
  stop(graceMs?: number): Promise<void>;
}

/** `schedule: false`: jobs are read and can be run (`panelshot jobs run`), but none starts on its own. */
export async function startService(config: Config, logger: Logger = createLogger(config.logLevel), opts: { schedule?: boolean } = {}): Promise<Service> {
  // A bad jobs file stops the start (exit 78) before any Chrome is started.
  const jobs = config.jobsFile ? loadJobs(config.jobsFile, config) : undefined;
  if (jobs) checkArchiveDir(config.archiveDir);
  // With a Grid, Chrome and chromedriver live on its nodes; CHROME_BIN, if set, names the
  // binary there.
  const binaries: Binaries = config.seleniumRemoteUrl
    ? { chrome: config.chromeBin ?? '', chromedriver: '', chromeVersion: 'grid', chromedriverVersion: 'grid' }
    : findBinaries(config.chromeBin, config.chromedriverPath);
  logger.info({ event: 'binaries', chrome: binaries.chrome, chromeVersion: binaries.chromeVersion, chromedriver: binaries.chromedriver, grid: config.seleniumRemoteUrl && redactUrl(config.seleniumRemoteUrl) }, 'found Chrome and chromedriver');
  if (config.seleniumRemoteUrl) await checkGrid(config.seleniumRemoteUrl);
  const metrics = createMetrics();
  metrics.memoryCeiling.set(config.recycleMemoryMb * 1024 * 1024);
  // Traces only when OTEL_* asks for them (a wrong OTEL_* stops the start here, exit 78);
  // otherwise nothing of OpenTelemetry is loaded.
  const tracing = await startTracing(VERSION, logger);

  // TLS towards Grafana: the same trust for the login client and for Chrome.
  const ca = config.grafanaCaFile ? fs.readFileSync(config.grafanaCaFile) : undefined;
  const chromeEnv: Record<string, string> = {};
  const chromeArgs = [...config.chromeArgs];
  if (config.grafanaCaFile) chromeEnv.HOME = chromeHomeTrusting(config.grafanaCaFile);
  if (config.grafanaInsecureTls) {
    chromeArgs.push('--ignore-certificate-errors');
    logger.warn({ event: 'insecure_tls' }, 'GRAFANA_INSECURE_TLS=true: Grafana\'s certificate is not verified; anyone between panelshot and Grafana can read its credentials');
  }
  const grafanaHttp = axios.create({ httpsAgent: new https.Agent({ ca, rejectUnauthorized: !config.grafanaInsecureTls, keepAlive: true }) });

  const login =
    config.grafanaUser && config.grafanaPass
      ? new GrafanaLogin({
          grafanaUrl: config.grafanaUrl,
          user: config.grafanaUser,
          password: config.grafanaPass,
          backoffMs: config.loginBackoffMs,
          logger,
          http: grafanaHttp,
          events: { onLogin: (r) => metrics.grafanaLogins.inc({ result: r }), onRotate: (r) => metrics.grafanaRotations.inc({ result: r }) },
        })
      : undefined;

  const pool = new BrowserPool({
    size: config.poolSize,
    queueMax: config.queueMax,
    queueWaitMs: config.queueWaitMs,
    recycleAfter: config.recycleAfter,
    recycleMemoryMb: config.recycleMemoryMb,
    driver: { chromeBin: binaries.chrome, chromedriverPath: binaries.chromedriver, seleniumRemoteUrl: config.seleniumRemoteUrl, extraArgs: chromeArgs,
      env: chromeEnv,
      startTimeoutMs: 30_000,
      gridRegistrationSecret: config.gridRegistrationSecret,
      tabsPerChrome: Math.min(config.tabsPerChrome, config.poolSize),
      sessionsPerChrome: config.recycleAfter > 0 ? 2 * Math.min(config.tabsPerChrome, config.poolSize) : 0,
    },
    logger,
    onReplace: (reason) => metrics.chromeRestarts.inc({ reason }),
  });
  const started = Date.now();
  // The orphan guard is shared by every service in this process; this one holds it until stop().
  watchdog.retain();
  await pool.start();
  if (pool.warm) logger.info({ event: 'pool_warm', sessions: config.poolSize, ms: Date.now() - started }, 'Chrome pool is warm');

  const cache = config.cacheTtlS > 0 ? new RenderCache(config.cacheTtlS, config.cacheMaxBytes) : undefined;
  // CSV downloads go to one directory per render under a parent of ours; what a crashed
  // panelshot left there goes now.
  const downloads = prepareDownloadsParent();
  const renderer = new Renderer({ config, pool, login, cache, downloads });
  const grafana = { grafanaUrl: config.grafanaUrl, http: grafanaHttp, login, token: config.grafanaToken };
  const batchGate = new BatchGate(Math.max(1, config.poolSize - 1));
  const scheduling = jobs && createScheduling({ config, renderer, grafana, gate: batchGate, logger, timers: opts.schedule !== false }, jobs);

  /** Grafana reachable, and accepting whatever credentials direct calls will use. */
  async function grafanaReady(): Promise<string | undefined> {
    if (login) {
      await login.check();
      return undefined;
    }
    const token = config.grafanaToken;
    const url = new URL(token ? 'api/user' : 'api/health', config.grafanaUrl).toString();
    const res = await grafanaHttp
      .get(url, { headers: token ? { Authorization: `Bearer ${token}` } : {}, timeout: 5000, validateStatus: () => true, maxRedirects: 0 })
      .catch((e: { code?: string }) => ({ status: 0, code: e.code }));
    if (res.status === 200) return undefined;
    if (res.status === 0) return `cannot reach Grafana at ${config.grafanaUrl.origin} (${(res as { code?: string }).code ?? 'error'})`;
    return token && res.status === 401 ? 'Grafana rejects GRAFANA_TOKEN (401)' : `Grafana answered ${res.status} to GET ${new URL(url).pathname}`;
  }
  const app = createApp({
    trace: tracing?.middleware,
    config,
    logger,
    metrics,
    renderer,
    grafana,
    batchGate,
    scheduling,
    version: VERSION,
    status: () => ({ pool: pool.stats(), warm: pool.warm }),
    snapshot: async () => ({
      pool: pool.stats(),
      chromeMemoryMiB: Math.round(pool.memoryMiB()),
      recycles: (await metrics.chromeRestarts.get()).values.reduce((n, v) => n + v.value, 0),
      cache: cache?.stats(),
      jobs: scheduling?.scheduler.status(),
    }),
    ready: async () => (await pool.notReady()) ?? grafanaReady(),
    refreshMetrics: () => {
      const s = pool.stats();
      metrics.poolSessions.set({ state: 'busy' }, s.busy);
      metrics.poolSessions.set({ state: 'idle' }, s.idle);
      metrics.poolSessions.set({ state: 'queued' }, s.queued);
      // Sessions the pool wants but has not got (a full or unreachable Grid).
      metrics.poolSessions.set({ state: 'missing' }, Math.max(0, s.target - s.live));
      metrics.chromeMemory.set(pool.memoryMiB() * 1024 * 1024);
    },
  });

  const server = config.tls
    ? https.createServer({ cert: fs.readFileSync(config.tls.certFile), key: fs.readFileSync(config.tls.keyFile) }, app)
    : http.createServer(app);
  // Requests Node's parser rejects (oversized headers, garbage) still get a JSON answer.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return void socket.destroy();
    const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
    const body = JSON.stringify({ error: tooLarge ? 'the request line or headers are too large' : 'malformed HTTP request', code: 'bad_request' });
    socket.end(
      `HTTP/1.1 ${tooLarge ? '431 Request Header Fields Too Large' : '400 Bad Request'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
  // Renders take seconds; the request timeout is bounded by RENDER_TIMEOUT_MAX_S plus slack.
  server.requestTimeout = (config.renderTimeoutMaxS + 30) * 1000;
  server.headersTimeout = 30_000;
  server.keepAliveTimeout = 65_000;
  const fd = systemdSocket();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if (fd !== undefined) server.listen({ fd }, () => resolve());
    else server.listen(config.httpPort, config.httpHost, () => resolve());
  });
  const bound = server.address() as AddressInfo;
  // systemd's socket, not HTTP_HOST, decides who can reach us: check it like HTTP_HOST.
  if (fd !== undefined) assertListenAllowed(`the socket from systemd (${bound.address})`, bound.address, config.authTokens);
  // An env file from before panelshot.socket may still name another address: say so, or
  // the operator wonders why Grafana can no longer reach it.
  if (fd !== undefined && (bound.port !== config.httpPort || (bound.address !== config.httpHost && !(isLoopback(bound.address) && isLoopback(config.httpHost))))) {
    logger.warn(
      { event: 'listen_address_ignored', httpHost: config.httpHost, httpPort: config.httpPort, socket: `${bound.address}:${bound.port}` },
      `HTTP_HOST/HTTP_PORT (${config.httpHost}:${config.httpPort}) are not used: systemd passed a socket on ${bound.address}:${bound.port}; change it with systemctl edit panelshot.socket`,
    );
  }
  const port = bound.port;
  const listenHost = fd !== undefined ? bound.address : config.httpHost;
  const host = listenHost.includes(':') ? `[${listenHost}]` : listenHost;
  const address = `${config.tls ? 'https' : 'http'}://${host}:${port}${config.basePath}`;
  logger.info({ event: 'listening', address, socket: fd !== undefined ? 'systemd' : 'own', version: VERSION }, 'panelshot is listening');
  if (scheduling && opts.schedule !== false) scheduling.scheduler.start();

  let stopping: Promise<void> | undefined;
  return {
    url: address,
    port,
    pool,
    logger,
    binaries,
    scheduling,
    stop(graceMs = 10_000) {
      stopping ??= (async () => {
        logger.info({ event: 'stopping', graceMs }, 'stopping: no new requests, draining');
        const closed = new Promise<void>((r) => server.close(() => r()));
        // A proxy's keep-alive connections would hold the drain open until the grace ends:
        // requests already on them are served, then each connection is closed.
        server.prependListener('request', (_req, res: http.ServerResponse) => {
          res.shouldKeepAlive = false;
        });
        server.closeIdleConnections();
        const grace = new Promise<void>((r) => setTimeout(r, graceMs).unref());
        await Promise.race([closed, grace]);
        server.closeAllConnections();
        // A run in flight is cancelled: its staged files go, nothing half-written is archived.
        await scheduling?.scheduler.stop();
        await Promise.race([pool.stop(), new Promise<void>((r) => setTimeout(r, 5000).unref())]);
        watchdog.release();
        await tracing?.shutdown();
        if (chromeEnv.HOME) fs.rmSync(chromeEnv.HOME, { recursive: true, force: true });
        logger.info({ event: 'stopped' }, 'panelshot stopped');
      })();
      return stopping;
    },
  };
}

/**
 * A Grid that cannot be reached, or offers no Chrome at all, is a configuration problem:
 * start-up stops with the reason (main.ts exits 78). A Grid that is only full or busy (its
 * /status slow to answer) is not: the pool fills once it can.
 */
async function checkGrid(url: string): Promise<void> {
  const status = await gridStatus(url).catch((e: Error) => {
    if (e instanceof GridError && e.kind === 'full') return undefined;
    throw new ConfigError(`${e.message}; check SELENIUM_REMOTE_URL`);
  });
  if (!status) return;
  const why = whyNoChromeSlot(status, url);
  if (why?.kind === 'no_chrome') throw new ConfigError(why.message);
}

/** A URL for the log: basic-auth credentials (a Grid behind a proxy) are never written. */
function redactUrl(u: string): string {
  try {
    const url = new URL(u);
    if (url.username || url.password) [url.username, url.password] = ['***', ''];
    return url.toString();
  } catch {
    return '(unparsable URL)';
  }
}

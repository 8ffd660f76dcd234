// Wires config → logger → metrics → Grafana session → browser pool → renderer → HTTP, and
// takes them down again in order. main.ts runs one; tests run several in one process.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from './config';
import { BrowserPool } from './browser/pool';
import { findBinaries, type Binaries } from './browser/binaries';
import { GrafanaLogin } from './grafana/login';
import { createApp } from './http/app';
import { createLogger, type Logger } from './logger';
import { createMetrics } from './metrics';
import { Renderer } from './render/renderer';
import { watchdog } from './browser/watchdog';

export const VERSION: string = require('../package.json').version;

export interface Service {
  url: string;
  port: number;
  pool: BrowserPool;
  logger: Logger;
  binaries: Binaries;
  /** Stops accepting, lets in-flight renders finish within `graceMs`, quits every Chrome. */
  stop(graceMs?: number): Promise<void>;
}

export async function startService(config: Config, logger: Logger = createLogger(config.logLevel)): Promise<Service> {
  const binaries = findBinaries(config.chromeBin, config.chromedriverPath);
  logger.info({ event: 'binaries', chrome: binaries.chrome, chromeVersion: binaries.chromeVersion, chromedriver: binaries.chromedriver, grid: config.seleniumRemoteUrl }, 'found Chrome and chromedriver');
  const metrics = createMetrics();

  const login =
    config.grafanaUser && config.grafanaPass
      ? new GrafanaLogin({
          grafanaUrl: config.grafanaUrl,
          user: config.grafanaUser,
          password: config.grafanaPass,
          backoffMs: config.loginBackoffMs,
          logger,
          events: { onLogin: (r) => metrics.grafanaLogins.inc({ result: r }), onRotate: (r) => metrics.grafanaRotations.inc({ result: r }) },
        })
      : undefined;

  const pool = new BrowserPool({
    size: config.poolSize,
    queueMax: config.queueMax,
    queueWaitMs: config.queueWaitMs,
    recycleAfter: config.recycleAfter,
    recycleMemoryMb: config.recycleMemoryMb,
    driver: { chromeBin: binaries.chrome, chromedriverPath: binaries.chromedriver, seleniumRemoteUrl: config.seleniumRemoteUrl, extraArgs: config.chromeArgs, startTimeoutMs: 30_000 },
    logger,
    onReplace: (reason) => metrics.chromeRestarts.inc({ reason }),
  });
  const started = Date.now();
  await pool.start();
  logger.info({ event: 'pool_warm', sessions: config.poolSize, ms: Date.now() - started }, 'Chrome pool is warm');

  const renderer = new Renderer({ config, pool, login });
  const app = createApp({
    config,
    logger,
    metrics,
    renderer,
    version: VERSION,
    status: () => ({ pool: pool.stats(), warm: pool.warm }),
    ready: async () => {
      if (!pool.warm) return 'the Chrome pool is not warm';
      if (login) await login.check();
      return undefined;
    },
    refreshMetrics: () => {
      const s = pool.stats();
      metrics.poolSessions.set({ state: 'busy' }, s.busy);
      metrics.poolSessions.set({ state: 'idle' }, s.idle);
      metrics.poolSessions.set({ state: 'queued' }, s.queued);
    },
  });

  const server = http.createServer(app);
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
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.httpPort, config.httpHost, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = config.httpHost.includes(':') ? `[${config.httpHost}]` : config.httpHost;
  logger.info({ event: 'listening', address: `http://${host}:${port}` }, 'panelshot is listening');

  let stopping: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    port,
    pool,
    logger,
    binaries,
    stop(graceMs = 10_000) {
      stopping ??= (async () => {
        logger.info({ event: 'stopping', graceMs }, 'stopping: no new requests, draining');
        const closed = new Promise<void>((r) => server.close(() => r()));
        server.closeIdleConnections();
        const grace = new Promise<void>((r) => setTimeout(r, graceMs).unref());
        await Promise.race([closed, grace]);
        server.closeAllConnections();
        await Promise.race([pool.stop(), new Promise<void>((r) => setTimeout(r, 5000).unref())]);
        watchdog.stop();
        logger.info({ event: 'stopped' }, 'panelshot stopped');
      })();
      return stopping;
    },
  };
}

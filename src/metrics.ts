// Prometheus metrics (prom-client), one registry per service instance so tests can run
// several. Labels never carry URLs, users or secrets: only small fixed sets of values.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type Metrics = ReturnType<typeof createMetrics>;

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'panelshot_' });
  const seconds = [0.05, 0.1, 0.25, 0.5, 1, 1.5, 2, 3, 5, 8, 13, 20, 30, 60];
  return {
    registry,
    renderDuration: new Histogram({
      name: 'panelshot_render_duration_seconds',
      help: 'Time from request arrival to answer, by outcome (ok, unsettled, or the error code).',
      labelNames: ['outcome'],
      buckets: seconds,
      registers: [registry],
    }),
    queueWait: new Histogram({ name: 'panelshot_queue_wait_seconds', help: 'Time a render waited for a free Chrome.', buckets: seconds, registers: [registry] }),
    stabilityWait: new Histogram({
      name: 'panelshot_stability_wait_seconds',
      help: 'Time from the page going quiet (data loaded) to its last equal frame.',
      buckets: seconds,
      registers: [registry],
    }),
    framesCompared: new Counter({ name: 'panelshot_frames_compared_total', help: 'Screenshots compared for stability.', registers: [registry] }),
    poolSessions: new Gauge({ name: 'panelshot_pool_sessions', help: 'Chrome sessions by state (busy, idle, queued renders, missing: wanted by POOL_SIZE but not got).', labelNames: ['state'], registers: [registry] }),
    chromeMemory: new Gauge({
      name: 'panelshot_chrome_memory_bytes',
      help: 'Proportional set size of all local Chrome and chromedriver processes (read from /proc at scrape time).',
      registers: [registry],
    }),
    memoryCeiling: new Gauge({
      name: 'panelshot_memory_ceiling_bytes',
      help: 'RECYCLE_MEMORY_MB in bytes (0 = no ceiling): between renders the process tree (panelshot, chromedrivers, Chrome) is brought under it.',
      registers: [registry],
    }),
    chromeRestarts: new Counter({
      name: 'panelshot_chrome_restarts_total',
      help: 'Chrome sessions replaced, by reason (recycle_renders, recycle_memory, retired, crashed, reset_failed).',
      labelNames: ['reason'],
      registers: [registry],
    }),
    grafanaLogins: new Counter({ name: 'panelshot_grafana_logins_total', help: 'Grafana logins by result (ok, rejected, error).', labelNames: ['result'], registers: [registry] }),
    grafanaRotations: new Counter({ name: 'panelshot_grafana_rotations_total', help: 'Grafana session rotations by result.', labelNames: ['result'], registers: [registry] }),
    httpErrors: new Counter({ name: 'panelshot_http_errors_total', help: '4xx/5xx answers by status and reason code.', labelNames: ['status', 'code'], registers: [registry] }),
  };
}

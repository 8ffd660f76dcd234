// GET /render/dashboard?url=<dashboard URL>&format=zip|ndjson — every panel of a dashboard,
// streamed as each finishes: a ZIP of panel-<id>.<ext> plus manifest.json, or NDJSON with one
// line per panel (its image base64-encoded) and a last summary line. Errors before the first
// byte (bad URL, unknown dashboard, too many panels) are JSON 4xx; after it, a failing panel
// is an entry with its error. A client that goes away stops the batch.
import type { RequestHandler } from 'express';
import yazl from 'yazl';
import type { Config } from '../../config';
import { badRequest } from '../../errors';
import { dashboardUid, expandPanels, fetchDashboard, type GrafanaApiDeps } from '../../grafana/dashboards';
import type { Logger } from '../../logger';
import { safeUrl } from '../../logger';
import type { Metrics } from '../../metrics';
import { runBatch, type BatchGate, type PanelOutcome } from '../../render/batch';
import { encodingLabel } from '../../render/encode';
import type { Renderer } from '../../render/renderer';
import { one, parseRenderParams } from '../renderParams';
import type { RecentRenders } from '../sendImage';

export interface DashboardDeps {
  config: Config;
  renderer: Renderer;
  metrics: Metrics;
  grafana: GrafanaApiDeps;
  batchGate: BatchGate;
  recent?: RecentRenders;
}

export function renderDashboardGet(deps: DashboardDeps): RequestHandler {
  return async (req, res, next) => {
    const startedAt = Date.now();
    let log = res.locals.log as Logger;
    const query = req.query as Record<string, unknown>;
    let base, uid, format: 'zip' | 'ndjson';
    try {
      const f = (one(query, 'format') ?? 'zip').trim().toLowerCase();
      if (f !== 'zip' && f !== 'ndjson') throw badRequest(`format=${f.slice(0, 20)} is not served: use zip (default) or ndjson`);
      format = f;
      if (one(query, 'renderKey') !== undefined) throw badRequest('renderKey is not accepted here: a batch renders with panelshot\'s own Grafana credentials, not a user\'s key');
      base = parseRenderParams(query, req.header('accept-language'), deps.config);
      uid = dashboardUid(base.url, deps.config.grafanaUrl);
    } catch (e) {
      return next(e);
    }
    const page = safeUrl(base.url.toString());
    res.locals.page = page;
    let jobs;
    let title: string;
    try {
      const model = await fetchDashboard(deps.grafana, uid, base.url.searchParams.get('orgId'));
      title = String(model.dashboard.title ?? uid);
      const slug = model.meta?.slug || base.url.pathname.split('/')[3] || 'dashboard';
      jobs = expandPanels(model.dashboard, base.url, deps.config.grafanaUrl, uid, slug, deps.config.maxPanels);
    } catch (e) {
      return next(e);
    }
    log = log.child({ batch: uid.slice(0, 40) });
    log.info({ event: 'batch_start', page, panels: jobs.length, format }, 'rendering every panel of a dashboard');

    const abort = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) abort.abort(new Error('client went away'));
    });
    const outcomes: PanelOutcome[] = [];
    const safeName = uid.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 60) || 'dashboard';
    res.set({ 'Cache-Control': 'no-store', 'X-Panelshot-Panels': String(jobs.length) });
    const fmt = encodingLabel(base.output ?? { format: 'png' });
    const noteRecent = (o: PanelOutcome) =>
      deps.recent?.note({ at: Date.now() - o.ms, via: 'batch', page: safeUrl(jobs!.find((j) => j.id === o.id)?.url.toString() ?? ''), outcome: o.error ? (o.code ?? 'error') : o.settled ? 'ok' : 'unsettled', bytes: o.bytes, format: fmt, width: base.width, height: base.height });

    let zip: yazl.ZipFile | undefined;
    if (format === 'zip') {
      zip = new yazl.ZipFile();
      res.set({ 'Content-Type': 'application/zip', 'Content-Disposition': `attachment; filename="${safeName}.zip"` });
      zip.outputStream.pipe(res);
    } else {
      res.set({ 'Content-Type': 'application/x-ndjson; charset=utf-8' });
      res.flushHeaders();
    }
    await runBatch(deps.renderer, deps.batchGate, base, jobs, abort.signal, (_job, outcome, img) => {
      outcomes.push(outcome);
      noteRecent(outcome);
      if (zip) {
        if (img && outcome.file) zip.addBuffer(img.body, outcome.file, { compress: false, mtime: new Date() });
      } else {
        res.write(`${JSON.stringify({ kind: 'panel', ...outcome, ...(img ? { contentType: img.contentType, image: img.body.toString('base64') } : {}) })}\n`);
      }
    });
    const failed = outcomes.filter((o) => o.error).length;
    if (abort.signal.aborted) {
      log.info({ event: 'batch_cancelled', page, done: outcomes.length, panels: jobs.length, ms: Date.now() - startedAt }, 'the client went away: the rest of the batch was not rendered');
      zip?.outputStream.unpipe(res);
      return;
    }
    const summary = { dashboard: { uid, title: title! }, panels: jobs.length, failed, ms: Date.now() - startedAt, format: fmt, width: base.width, height: base.height };
    if (zip) {
      // The manifest lists panels in the dashboard's order, whatever order they finished in.
      const order = new Map(jobs.map((j, i) => [`${j.id}|${JSON.stringify(j.vars)}`, i]));
      outcomes.sort((a, b) => order.get(`${a.id}|${JSON.stringify(a.vars ?? {})}`)! - order.get(`${b.id}|${JSON.stringify(b.vars ?? {})}`)!);
      zip.addBuffer(Buffer.from(`${JSON.stringify({ ...summary, entries: outcomes }, null, 2)}\n`), 'manifest.json', { mtime: new Date() });
      zip.end();
    } else {
      res.end(`${JSON.stringify({ kind: 'summary', ...summary })}\n`);
    }
    log.info({ event: 'batch_done', page, panels: jobs.length, failed, ms: summary.ms }, 'rendered every panel of a dashboard');
  };
}

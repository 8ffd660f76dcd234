// One run of a job: every dashboard's report and panels, through the same Renderer as
// /report and /render/dashboard, into a staged folder that the archive renames into place
// when complete. Renders take slots of the batch gate (docs/adr/0007-batch-fairness.md) like
// a batch does, the report included, so a morning's inspection never holds every Chrome
// and Grafana's alert renders find a session at once.
import fs from 'node:fs';
import path from 'node:path';
import { DateTime } from 'luxon';
import type { Config } from '../config';
import { PanelshotError } from '../errors';
import { dashboardUid, expandPanels, fetchDashboard, type GrafanaApiDeps } from '../grafana/dashboards';
import type { Logger } from '../logger';
import { safeUrl } from '../logger';
import { runBatch, type BatchGate, type PanelOutcome } from '../render/batch';
import { safeFileStem } from '../render/encode';
import { prepareReport } from '../render/report';
import type { Renderer } from '../render/renderer';
import { resolveRange } from '../render/timeRange';
import type { Archive, Claim } from './archive';
import type { Job } from './jobs';

/** A4 landscape is 1123 CSS px wide: /report's default width. */
const REPORT_WIDTH = 1200;

export type Trigger = 'schedule' | 'catch-up' | 'manual';
export type Outcome = 'ok' | 'partial' | 'failed';

export interface DeliveryRecord {
  kind: 'email' | 'webhook';
  /** The addresses, or the webhook's host (never its path: it often is the secret). */
  target: string;
  outcome: 'pending' | 'delivered' | 'failed';
  attempts: number;
  error?: string;
  at?: string;
}

export interface DashboardRecord {
  url: string;
  uid?: string;
  title?: string;
  version?: number;
  /** The folder below the run that holds this dashboard's files. */
  folder?: string;
  report?: { file: string | null; bytes?: number; ms: number; settled?: boolean; error?: string };
  panels?: PanelOutcome[];
  error?: string;
}

export interface Manifest {
  job: string;
  run: string;
  trigger: Trigger;
  /** The occurrence this run is for (the schedule's time, UTC). */
  scheduledAt: string;
  startedAt: string;
  finishedAt: string;
  ms: number;
  timezone: string;
  range: { from: string; to: string; fromMs: number; toMs: number };
  outcome: Outcome;
  errors: string[];
  dashboards: DashboardRecord[];
  deliveries: DeliveryRecord[];
}

export interface RunDeps {
  config: Config;
  renderer: Renderer;
  grafana: GrafanaApiDeps;
  gate: BatchGate;
  archive: Archive;
  logger: Logger;
}

export interface RunResult {
  dir: string;
  manifest: Manifest;
}

/** A message for the manifest and the log: ours as they are, anything else without its stack. */
function why(e: unknown): string {
  if (e instanceof PanelshotError) return e.message;
  const err = e as NodeJS.ErrnoException;
  return err?.code ? `${err.code}: ${String(err.message).slice(0, 200)}` : String(err?.message ?? e).slice(0, 300);
}

/**
 * Runs `job` for the occurrence `at` and commits it to the archive. Undefined when the
 * occurrence is already done or claimed by another process. A run whose dashboards all fail
 * (Grafana down) is still archived, as failed, with the cause; only when the archive cannot
 * be written (a full disk) is nothing kept, and that is thrown.
 */
export async function runJob(d: RunDeps, job: Job, at: Date, trigger: Trigger, signal: AbortSignal): Promise<RunResult | undefined> {
  const claim = d.archive.claim(job.name, at);
  if (!claim) return undefined;
  const log = d.logger.child({ job: job.name, run: claim.run });
  try {
    const manifest = await capture(d, job, at, trigger, claim, signal, log);
    if (signal.aborted) throw signal.reason ?? new Error('stopped');
    fs.writeFileSync(path.join(claim.staging, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    d.archive.commit(claim);
    fs.rmSync(claim.lockFile, { force: true });
    return { dir: claim.final, manifest };
  } catch (e) {
    d.archive.release(claim);
    throw e;
  }
}

async function capture(d: RunDeps, job: Job, at: Date, trigger: Trigger, claim: Claim, signal: AbortSignal, log: Logger): Promise<Manifest> {
  const started = DateTime.now().setZone(job.timezone) as DateTime<true>;
  const errors: string[] = [];
  const dashboards: DashboardRecord[] = [];
  let range = { from: '', to: '', fromMs: 0, toMs: 0 };
  const timeoutMs = job.timeoutS * 1000;
  log.info({ event: 'job_run_start', trigger, dashboards: job.dashboards.length }, 'scheduled capture started');
  for (const [i, dash] of job.dashboards.entries()) {
    const rec: DashboardRecord = { url: safeUrl(dash.url.toString()) };
    dashboards.push(rec);
    try {
      const r = resolveRange(dash.from, dash.to, job.timezone, started);
      if (i === 0) range = { from: r.from.toISO()!, to: r.to.toISO()!, fromMs: r.from.toMillis(), toMs: r.to.toMillis() };
      const uid = dashboardUid(dash.url, d.config.grafanaUrl);
      rec.uid = uid;
      const model = await fetchDashboard(d.grafana, uid, dash.url.searchParams.get('orgId'));
      const m = model.dashboard as { title?: string; version?: number };
      rec.title = String(m.title ?? uid);
      if (typeof m.version === 'number') rec.version = m.version;
      // Each dashboard's files in a folder of its own: two dashboards may share panel ids.
      const folder = `${String(i + 1).padStart(2, '0')}-${safeFileStem(model.meta?.slug || uid, 'dashboard')}`;
      rec.folder = folder;
      fs.mkdirSync(path.join(claim.staging, folder));
      // Every render of this dashboard shows exactly the manifest's range.
      const page = new URL(dash.url);
      page.searchParams.set('from', String(r.from.toMillis()));
      page.searchParams.set('to', String(r.to.toMillis()));
      page.searchParams.set('timezone', job.timezone);
      page.searchParams.delete('tz');

      if (job.output.includes('report')) {
        const t = Date.now();
        await d.gate.enter(signal);
        try {
          const report = await prepareReport(d, { url: page, width: REPORT_WIDTH, pdf: { format: 'a4', landscape: true, printBackground: true }, timezone: job.timezone, timeoutMs, expandRows: true }, started);
          const img = await d.renderer.image({ ...report.request, signal });
          fs.writeFileSync(path.join(claim.staging, folder, 'report.pdf'), img.body);
          rec.report = { file: `${folder}/report.pdf`, bytes: img.body.length, ms: Date.now() - t, settled: img.settled };
        } catch (e) {
          if (signal.aborted || isDiskError(e)) throw e;
          rec.report = { file: null, ms: Date.now() - t, error: why(e) };
          errors.push(`${rec.title}: report: ${why(e)}`);
        } finally {
          d.gate.leave();
        }
      }
      if (job.output.includes('panels')) {
        const slug = model.meta?.slug || dash.url.pathname.split('/')[3] || 'dashboard';
        const panels = expandPanels(model.dashboard, page, d.config.grafanaUrl, uid, slug, d.config.maxPanels);
        const outcomes: PanelOutcome[] = [];
        const base = { url: page, width: job.width, height: job.height, deviceScaleFactor: 1, timeoutMs, timezone: job.timezone };
        let writeError: unknown;
        await runBatch(d.renderer, d.gate, base, panels, signal, (_p, o, img) => {
          if (img && o.file) {
            try {
              fs.writeFileSync(path.join(claim.staging, folder, o.file), img.body);
            } catch (e) {
              writeError ??= e;
            }
            o.file = `${folder}/${o.file}`;
          }
          outcomes.push(o);
        });
        // A full disk ends the run: a run with pictures missing for want of space is no record.
        if (writeError) throw writeError;
        if (signal.aborted) throw signal.reason;
        const order = new Map(panels.map((p, k) => [`${p.id}|${JSON.stringify(p.vars)}`, k]));
        outcomes.sort((a, b) => order.get(`${a.id}|${JSON.stringify(a.vars ?? {})}`)! - order.get(`${b.id}|${JSON.stringify(b.vars ?? {})}`)!);
        rec.panels = outcomes;
        const failed = outcomes.filter((o) => o.error);
        if (failed.length) errors.push(`${rec.title}: ${failed.length} of ${outcomes.length} panels failed (first: ${failed[0]!.error})`);
      }
    } catch (e) {
      if (signal.aborted || isDiskError(e)) throw e;
      rec.error = why(e);
      errors.push(`${rec.title ?? rec.url}: ${rec.error}`);
    }
  }
  const made = dashboards.flatMap((r) => [...(r.report?.file ? [1] : []), ...(r.panels ?? []).filter((p) => p.file).map(() => 1)]).length;
  const outcome: Outcome = errors.length === 0 ? 'ok' : made > 0 ? 'partial' : 'failed';
  const finished = DateTime.now();
  log[outcome === 'ok' ? 'info' : 'warn']({ event: 'job_run_done', outcome, files: made, errors: errors.length, ms: finished.toMillis() - started.toMillis() }, `scheduled capture ${outcome}`);
  return {
    job: job.name,
    run: claim.run,
    trigger,
    scheduledAt: at.toISOString(),
    startedAt: started.toUTC().toISO()!,
    finishedAt: finished.toUTC().toISO()!,
    ms: finished.toMillis() - started.toMillis(),
    timezone: job.timezone,
    range,
    outcome,
    errors,
    dashboards,
    deliveries: [
      ...(job.deliver.email ? [{ kind: 'email' as const, target: job.deliver.email.to.join(', '), outcome: 'pending' as const, attempts: 0 }] : []),
      ...(job.deliver.webhook ? [{ kind: 'webhook' as const, target: job.deliver.webhook.url.host, outcome: 'pending' as const, attempts: 0 }] : []),
    ],
  };
}

function isDiskError(e: unknown): boolean {
  return ['ENOSPC', 'EDQUOT', 'EROFS', 'EIO', 'EACCES'].includes((e as NodeJS.ErrnoException)?.code ?? '');
}

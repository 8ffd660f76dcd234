// Scheduled captures, wired: the jobs file, the archive, the clock, and what a run is (capture
// and commit, prune, deliver, record the deliveries in the manifest). service.ts makes one
// when JOBS_FILE is set; `panelshot jobs run` uses the same without timers.
import fs from 'node:fs';
import { ConfigError, type Config } from '../config';
import type { GrafanaApiDeps } from '../grafana/dashboards';
import type { Logger } from '../logger';
import type { BatchGate } from '../render/batch';
import type { Renderer } from '../render/renderer';
import { Archive } from './archive';
import { deliver } from './deliver';
import { loadJobs, type Job } from './jobs';
import { runJob, type RunResult, type Trigger } from './run';
import { Scheduler, type Clock } from './scheduler';

export interface Scheduling {
  scheduler: Scheduler;
  archive: Archive;
  /** Re-reads JOBS_FILE; a bad file is logged and the jobs in force stay. */
  reload(): void;
  /** Deliveries still retrying (tests and shutdown wait for them). */
  deliveries(): Promise<void>;
}

export type ScheduledRun = RunResult & { delivered: Promise<void> };

export interface SchedulingDeps {
  config: Config;
  renderer: Renderer;
  grafana: GrafanaApiDeps;
  gate: BatchGate;
  logger: Logger;
  clock?: Clock;
  timers?: boolean;
}

/** An archive that cannot be written is a configuration problem: start-up stops (exit 78). */
export function checkArchiveDir(dir: string): void {
  try {
    fs.mkdirSync(dir, { recursive: true });
    fs.accessSync(dir, fs.constants.W_OK);
  } catch (e) {
    throw new ConfigError(`invalid configuration: ARCHIVE_DIR ${dir} cannot be written (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/** Reads the jobs (a ConfigError when invalid) and prepares the archive; start() arms the clock. */
export function createScheduling(d: SchedulingDeps, jobs: Job[] = loadJobs(d.config.jobsFile!, d.config)): Scheduling {
  checkArchiveDir(d.config.archiveDir);
  const archive = new Archive(d.config.archiveDir);
  const removed = archive.cleanLeftovers();
  if (removed.length) d.logger.info({ event: 'archive_cleaned', removed: removed.length, paths: removed.slice(0, 20) }, 'removed what an interrupted run left in the archive');
  const pending = new Set<Promise<void>>();
  const runDeps = { config: d.config, renderer: d.renderer, grafana: d.grafana, gate: d.gate, archive, logger: d.logger };

  async function run(job: Job, at: Date, trigger: Trigger, signal: AbortSignal): Promise<ScheduledRun | undefined> {
    const r = await runJob(runDeps, job, at, trigger, signal);
    if (!r) return undefined;
    if (job.keep) {
      try {
        const pruned = archive.prune(job.name, job.keep, new Date(), r.manifest.run);
        if (pruned.length) d.logger.info({ event: 'archive_pruned', job: job.name, runs: pruned }, `pruned ${pruned.length} old runs`);
      } catch (e) {
        d.logger.warn({ event: 'archive_prune_failed', job: job.name, err: String((e as Error).message).slice(0, 200) }, 'could not prune old runs');
      }
    }
    let delivered: Promise<void> = Promise.resolve();
    if (r.manifest.deliveries.length) {
      delivered = deliver({ config: d.config, logger: d.logger }, job, r.manifest, r.dir)
        .then(() => archive.replaceFile(r.dir, 'manifest.json', `${JSON.stringify(r.manifest, null, 2)}\n`))
        .catch((e: unknown) => d.logger.error({ event: 'delivery_record_failed', job: job.name, err: String((e as Error)?.message).slice(0, 200) }, 'could not record the deliveries in the manifest'));
      pending.add(delivered);
      delivered.finally(() => pending.delete(delivered));
    }
    return { ...r, delivered };
  }

  const scheduler = new Scheduler({ archive, logger: d.logger, clock: d.clock, timers: d.timers, run }, jobs);
  return {
    scheduler,
    archive,
    reload() {
      try {
        scheduler.reload(loadJobs(d.config.jobsFile!, d.config));
      } catch (e) {
        d.logger.error({ event: 'jobs_reload_failed', err: String((e as Error).message).slice(0, 500) }, 'the jobs file was not reloaded: the jobs in force stay');
      }
    },
    async deliveries() {
      await Promise.allSettled([...pending]);
    },
  };
}

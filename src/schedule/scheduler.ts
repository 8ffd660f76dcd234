// The clock: when each job is due, in its own timezone (croner, DST included: a time that
// does not exist on the spring-forward day runs at the first minute that does, a time that
// exists twice on the fall-back day runs once). One run per job at a time: an occurrence
// due while the job's previous run still goes is skipped and logged. After downtime, the
// latest missed occurrence is run once at start (never every missed one). The clock is
// injectable, and `tick()` is the whole decision, so tests drive it without waiting.
import { Cron } from 'croner';
import type { Logger } from '../logger';
import type { Archive } from './archive';
import type { Job } from './jobs';
import type { Outcome, RunResult, Trigger } from './run';

export interface Clock {
  now(): number;
}

export interface JobStatus {
  name: string;
  schedule: string;
  timezone: string;
  next: string | null;
  running: boolean;
  last?: { run: string; outcome: Outcome | 'error'; at: string; error?: string };
}

export interface SchedulerDeps {
  archive: Archive;
  logger: Logger;
  clock?: Clock;
  /** Runs one occurrence; undefined when another process has it. */
  run(job: Job, at: Date, trigger: Trigger, signal: AbortSignal): Promise<RunResult | undefined>;
  /** Arms real timers (off in clock tests, which call tick()). */
  timers?: boolean;
}

interface State {
  job: Job;
  cron: Cron;
  next: Date | null;
  running?: Promise<unknown>;
  last?: JobStatus['last'];
}

/** The first occurrence strictly after `after`. */
export function nextOccurrence(job: Pick<Job, 'schedule' | 'timezone'>, after: Date): Date | null {
  return new Cron(job.schedule, { timezone: job.timezone, paused: true }).nextRun(after);
}

/**
 * The occurrence to catch up at start: the latest one due by `now`, when it is later than
 * the newest run in the archive. A job that has never run has nothing to catch up (it may
 * just have been added).
 */
export function missedOccurrence(job: Pick<Job, 'schedule' | 'timezone'>, lastRun: Date | undefined, now: Date): Date | undefined {
  if (!lastRun) return undefined;
  const prev = new Cron(job.schedule, { timezone: job.timezone, paused: true }).previousRuns(1, now)[0];
  return prev && prev.getTime() > lastRun.getTime() ? prev : undefined;
}

export class Scheduler {
  private states = new Map<string, State>();
  private timer?: NodeJS.Timeout;
  private readonly abort = new AbortController();
  private readonly clock: Clock;
  private stopped = false;

  constructor(
    private readonly d: SchedulerDeps,
    jobs: Job[],
  ) {
    this.clock = d.clock ?? { now: () => Date.now() };
    this.setJobs(jobs);
  }

  private setJobs(jobs: Job[]): void {
    const now = new Date(this.clock.now());
    const old = this.states;
    this.states = new Map();
    for (const job of jobs) {
      const cron = new Cron(job.schedule, { timezone: job.timezone, paused: true });
      const prev = old.get(job.name);
      const newest = this.d.archive.runs(job.name)[0];
      const manifest = newest && this.d.archive.manifest(job.name, newest.run);
      const last = prev?.last ?? (newest ? { run: newest.run, outcome: (manifest?.outcome as Outcome) ?? 'error', at: String(manifest?.finishedAt ?? newest.at.toISOString()) } : undefined);
      this.states.set(job.name, { job, cron, next: cron.nextRun(now), running: prev?.running, last });
    }
  }

  /** Catch-up, then the timers. */
  start(): void {
    const now = new Date(this.clock.now());
    for (const s of this.states.values()) {
      const missed = missedOccurrence(s.job, this.d.archive.runs(s.job.name)[0]?.at, now);
      if (missed) {
        this.d.logger.info({ event: 'job_catch_up', job: s.job.name, missed: missed.toISOString() }, 'running a missed occurrence once');
        this.launch(s, missed, 'catch-up');
      }
    }
    this.arm();
  }

  /** A new jobs file (SIGHUP): runs in flight go on; next runs follow the new schedules. */
  reload(jobs: Job[]): void {
    this.setJobs(jobs);
    this.d.logger.info({ event: 'jobs_reloaded', jobs: jobs.map((j) => j.name) }, `jobs file reloaded: ${jobs.length} jobs`);
    this.arm();
  }

  /** Starts every occurrence due by now; returns the runs it started (tests await them). */
  tick(): Promise<unknown>[] {
    const now = this.clock.now();
    const started: Promise<unknown>[] = [];
    for (const s of this.states.values()) {
      if (!s.next || s.next.getTime() > now) continue;
      const due = s.next;
      s.next = s.cron.nextRun(new Date(now));
      if (s.running) {
        this.d.logger.warn({ event: 'job_skipped', job: s.job.name, due: due.toISOString() }, 'skipped: the previous run of this job is still going');
        continue;
      }
      started.push(this.launch(s, due, 'schedule'));
    }
    this.arm();
    return started;
  }

  /** `panelshot jobs run` and tests: the job now, whatever its schedule. */
  runNow(name: string): Promise<RunResult | undefined> {
    const s = this.states.get(name);
    if (!s) throw new Error(`no job named ${name}`);
    if (s.running) throw new Error(`job ${name} is running already`);
    return this.launch(s, new Date(this.clock.now()), 'manual');
  }

  private launch(s: State, at: Date, trigger: Trigger): Promise<RunResult | undefined> {
    const p = this.d
      .run(s.job, at, trigger, this.abort.signal)
      .then(
        (r) => {
          if (!r) this.d.logger.info({ event: 'job_skipped', job: s.job.name, due: at.toISOString() }, 'skipped: this occurrence is done or running in another panelshot');
          else s.last = { run: r.manifest.run, outcome: r.manifest.outcome, at: r.manifest.finishedAt };
          return r;
        },
        (e: unknown) => {
          const error = String((e as Error)?.message ?? e).slice(0, 300);
          s.last = { run: '', outcome: 'error', at: new Date(this.clock.now()).toISOString(), error };
          if (!this.stopped) this.d.logger.error({ event: 'job_run_failed', job: s.job.name, due: at.toISOString(), err: error }, 'scheduled capture could not be archived: nothing kept');
          throw e;
        },
      )
      .finally(() => {
        if (s.running === p) s.running = undefined;
      });
    s.running = p;
    p.catch(() => undefined);
    return p;
  }

  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.d.timers === false || this.stopped) return;
    const nexts = [...this.states.values()].map((s) => s.next?.getTime()).filter((t): t is number => t !== undefined);
    if (!nexts.length) return;
    // At most a minute at a time: a clock that jumps (NTP, suspend) is noticed within one.
    const wait = Math.max(0, Math.min(60_000, Math.min(...nexts) - this.clock.now()));
    this.timer = setTimeout(() => this.tick(), wait);
    this.timer.unref();
  }

  status(): JobStatus[] {
    return [...this.states.values()].map((s) => ({ name: s.job.name, schedule: s.job.schedule, timezone: s.job.timezone, next: s.next?.toISOString() ?? null, running: Boolean(s.running), ...(s.last ? { last: s.last } : {}) }));
  }

  /** No new runs; runs in flight are cancelled (their staged files removed) and awaited. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.abort.abort(new Error('panelshot is stopping'));
    await Promise.allSettled([...this.states.values()].map((s) => s.running).filter(Boolean));
  }
}

// `panelshot jobs list | run <name> | check [FILE]`: the scheduled captures of JOBS_FILE
// (environment or ./.env). `check` validates a file (one line naming the job and the field
// when it is wrong, exit 78); `list` prints each job's next run and its newest archived run;
// `run` runs a job now in this process (a panelshot of its own, on a private port, like
// `shoot`) and prints the run's folder.
import pino from 'pino';
import { ConfigError, loadConfig } from '../config';
import { createLogger } from '../logger';
import { Archive } from '../schedule/archive';
import type { ScheduledRun } from '../schedule';
import { loadJobs } from '../schedule/jobs';
import { nextOccurrence } from '../schedule/scheduler';
import { startService } from '../service';
import { parseFlags, UsageError } from './args';

export const JOBS_USAGE = 'panelshot jobs list | run <name> | check [FILE]';

export async function jobs(argv: string[], out: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Promise<number> {
  const { positionals } = parseFlags(argv, {}, 2);
  const [sub, arg] = positionals;
  if (sub !== 'list' && sub !== 'run' && sub !== 'check') throw new UsageError(`expected list, run <name> or check [FILE]: ${JOBS_USAGE}`);
  const config = loadConfig();
  const file = sub === 'check' && arg ? arg : config.jobsFile;
  if (!file) throw new ConfigError('JOBS_FILE is not set (in the environment or ./.env), and no file was given');
  if (sub !== 'check' && sub !== 'run' && arg) throw new UsageError(`unexpected argument ${arg}`);
  const list = loadJobs(file, config);

  if (sub === 'check') {
    out(`${file}: ${list.length} job${list.length === 1 ? '' : 's'} valid (${list.map((j) => j.name).join(', ')})`);
    return 0;
  }
  if (sub === 'list') {
    const archive = new Archive(config.archiveDir);
    const now = new Date();
    for (const j of list) {
      const next = nextOccurrence(j, now);
      const newest = archive.runs(j.name)[0];
      const outcome = newest ? String(archive.manifest(j.name, newest.run)?.outcome ?? '?') : '';
      out(`${j.name}\t${j.schedule}\t${j.timezone}\tnext ${next ? next.toISOString() : 'never'}\tlast ${newest ? `${newest.run} ${outcome}` : 'none'}`);
    }
    return 0;
  }
  if (!arg) throw new UsageError(`a job name is required: ${JOBS_USAGE}`);
  if (!list.some((j) => j.name === arg)) throw new UsageError(`no job named ${arg.slice(0, 63)} in ${file} (${list.map((j) => j.name).join(', ')})`);
  config.httpHost = '127.0.0.1';
  config.httpPort = 0;
  config.tls = undefined;
  config.jobsFile = file;
  const service = await startService(config, createLogger(config.logLevel === 'debug' || config.logLevel === 'trace' ? config.logLevel : 'warn', pino.destination(2)), { schedule: false });
  try {
    const r = (await service.scheduling!.scheduler.runNow(arg)) as ScheduledRun | undefined;
    if (!r) {
      process.stderr.write(`panelshot jobs: ${arg} is running in another panelshot right now\n`);
      return 1;
    }
    await r.delivered;
    out(r.dir);
    const failedDeliveries = r.manifest.deliveries.filter((x) => x.outcome !== 'delivered');
    for (const e of r.manifest.errors) process.stderr.write(`panelshot jobs: ${e}\n`);
    for (const x of failedDeliveries) process.stderr.write(`panelshot jobs: ${x.kind} delivery failed: ${x.error ?? x.outcome}\n`);
    return r.manifest.outcome === 'ok' && !failedDeliveries.length ? 0 : 1;
  } finally {
    await service.stop(2000);
  }
}

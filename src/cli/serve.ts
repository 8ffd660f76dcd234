// `panelshot serve` (or no subcommand: systemd's `node dist/main.js`): the service itself,
// with an orderly shutdown on SIGTERM/SIGINT, and the jobs file reloaded on SIGHUP.
import type { Config } from '../config';
import type { Logger } from '../logger';
import { startService } from '../service';

/** `drainGraceMs`: time in-flight renders get to finish after SIGTERM (main.ts's DRAIN_GRACE_MS). */
export async function serve(config: Config, logger: Logger, drainGraceMs: number): Promise<void> {
  const service = await startService(config, logger);

  let signals = 0;
  const stop = (signal: string) => {
    if (++signals > 1) {
      logger.warn({ event: 'stop_forced', signal }, 'second signal: exiting now');
      process.exit(1);
    }
    logger.info({ event: 'signal', signal }, 'shutting down');
    service.stop(drainGraceMs).then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // systemctl reload (ExecReload=): the jobs file is read again; a bad one keeps the jobs in force.
  process.on('SIGHUP', () => {
    logger.info({ event: 'signal', signal: 'SIGHUP' }, service.scheduling ? 'reloading the jobs file' : 'SIGHUP: no JOBS_FILE, nothing to reload');
    service.scheduling?.reload();
  });
  process.on('unhandledRejection', (e) => logger.error({ event: 'unhandled_rejection', err: String((e as Error)?.message ?? e).slice(0, 500) }, 'unhandled rejection'));
}

#!/usr/bin/env node
// Entry point: `node dist/main.js` (npm start, systemd). Reads the configuration once,
// refuses to start with one clear JSON log line when it is wrong, and shuts down in order
// on SIGTERM/SIGINT. Everything it writes is a JSON log line (journald and log shippers
// parse it), except the human text of --help and --version.
import { ConfigError, describeKeys, loadConfig } from './config';
import { createLogger, type Logger } from './logger';
import { startService, VERSION } from './service';

const HELP = `panelshot ${VERSION} — renders Grafana panels and dashboards to PNG with warm headless Chrome.

Usage: panelshot [--help] [--version]

Configuration comes from the environment and from ./.env (the environment wins).
Endpoints: GET /render (Grafana's remote-renderer protocol), /render/version, /healthz, /readyz, /metrics.

Settings:
${describeKeys()
  .map((k) => `  ${k.key.padEnd(26)} ${k.doc}${k.default !== undefined ? ` (default: ${k.default === '' ? '""' : k.default})` : ''}`)
  .join('\n')}
`;

/** Time in-flight renders get to finish after SIGTERM; systemd's TimeoutStopSec must exceed it. */
const DRAIN_GRACE_MS = 20_000;

/**
 * Logs until the configuration is read (and for errors that escape everything): its level
 * cannot come from LOG_LEVEL yet, and a start-up failure must be logged whatever it says.
 */
let logger: Logger = createLogger('info');

// Node prints warnings (deprecations, MaxListeners, ...) and uncaught errors as plain text
// on stderr; route them through the logger so the journal holds nothing but JSON.
process.removeAllListeners('warning');
process.on('warning', (w) => logger.warn({ event: 'node_warning', name: w.name, code: (w as NodeJS.ErrnoException).code, err: w.message }, w.message));
process.on('uncaughtException', (e) => {
  logger.fatal({ event: 'uncaught_exception', err: errText(e), stack: e.stack?.slice(0, 2000) }, `uncaught exception: ${errText(e)}`);
  process.exit(1);
});

function errText(e: unknown): string {
  return String((e as Error)?.message ?? e).slice(0, 500);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(HELP);
    return;
  }
  if (args.includes('--version')) {
    process.stdout.write(`${VERSION}\n`);
    return;
  }
  if (args.length) {
    logger.fatal({ event: 'bad_argument', arg: args[0] }, `unknown argument ${args[0]}; see --help`);
    process.exit(2);
  }

  const config = loadConfig();
  logger = createLogger(config.logLevel);
  const service = await startService(config, logger);

  let signals = 0;
  const stop = (signal: string) => {
    if (++signals > 1) {
      logger.warn({ event: 'stop_forced', signal }, 'second signal: exiting now');
      process.exit(1);
    }
    logger.info({ event: 'signal', signal }, 'shutting down');
    service.stop(DRAIN_GRACE_MS).then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('unhandledRejection', (e) => logger.error({ event: 'unhandled_rejection', err: errText(e) }, 'unhandled rejection'));
}

// pino writes stdout synchronously, so each line is out before process.exit().
main().catch((e: unknown) => {
  if (e instanceof ConfigError) {
    logger.fatal({ event: 'config_invalid', exitCode: 78 }, e.message);
    process.exit(78); // EX_CONFIG: systemd's RestartPreventExitStatus keeps it from looping
  }
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === 'EADDRINUSE' || code === 'EACCES') {
    logger.fatal({ event: 'listen_failed', code, exitCode: 1, err: errText(e) }, `cannot listen: ${errText(e)}`);
    process.exit(1);
  }
  logger.fatal({ event: 'start_failed', exitCode: 1, err: errText(e) }, `failed to start: ${errText(e)}`);
  process.exit(1);
});

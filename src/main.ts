#!/usr/bin/env node
// Entry point: `node dist/main.js` (npm start, systemd). Reads the configuration once,
// refuses to start with a clear one-line message when it is wrong, and shuts down in order
// on SIGTERM/SIGINT.
import { ConfigError, describeKeys, loadConfig } from './config';
import { createLogger } from './logger';
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
    process.stderr.write(`panelshot: unknown argument ${args[0]}; see --help\n`);
    process.exit(2);
  }

  const config = loadConfig();
  const logger = createLogger(config.logLevel);
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
  process.on('unhandledRejection', (e) => logger.error({ event: 'unhandled_rejection', err: String((e as Error)?.message ?? e).slice(0, 500) }, 'unhandled rejection'));
}

main().catch((e: unknown) => {
  if (e instanceof ConfigError) {
    process.stderr.write(`panelshot: ${e.message}\n`);
    process.exit(78); // EX_CONFIG: systemd's RestartPreventExitStatus keeps it from looping
  }
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === 'EADDRINUSE' || code === 'EACCES') {
    process.stderr.write(`panelshot: cannot listen: ${(e as Error).message}\n`);
    process.exit(1);
  }
  process.stderr.write(`panelshot: failed to start: ${(e as Error)?.message ?? e}\n`);
  process.exit(1);
});

#!/usr/bin/env node
// Entry point of the `panelshot` command and of `node dist/main.js` (npm start, systemd).
// No subcommand (or `serve`) runs the service: it reads the configuration once, refuses to
// start with one clear JSON log line when it is wrong, and shuts down in order on
// SIGTERM/SIGINT; everything it writes is a JSON log line (journald and log shippers parse
// it), except the human text of --help and --version. `shoot`, `sign` and `jobs` are the CLI
// (src/cli/, one file per subcommand): a person reads them, so their errors are one plain
// line on stderr (exit 2 for a bad flag).
import { ConfigError, describeKeys, loadConfig } from './config';
import { UsageError } from './cli/args';
import { jobs, JOBS_USAGE } from './cli/jobs';
import { serve } from './cli/serve';
import { shoot, SHOOT_USAGE } from './cli/shoot';
import { sign, SIGN_USAGE } from './cli/sign';
import { createLogger, type Logger } from './logger';
import { VERSION } from './service';

const SHOOT_HELP = `  ${SHOOT_USAGE}
                             every panel of a dashboard (or one panel) into a directory, with manifest.json;
                             exits 1 when any panel failed; without --server it runs panelshot in-process`;
const SIGN_HELP = `  ${SIGN_USAGE}
                             print a signed image link <PUBLIC_URL>/i/<token>.<ext> (needs LINK_SECRET, PUBLIC_URL)`;
const JOBS_HELP = `  ${JOBS_USAGE}
                             scheduled captures of JOBS_FILE: next runs, a run now (prints its archive folder), validation`;

const HELP = `panelshot ${VERSION} — renders Grafana panels and dashboards to PNG, JPEG, WebP or PDF with warm headless Chrome.

Usage:
  panelshot [serve]          run the service (what systemd runs as \`node dist/main.js\`)
${SHOOT_HELP}
${SIGN_HELP}
${JOBS_HELP}
  panelshot --help | --version
  panelshot shoot --help | panelshot sign --help | panelshot jobs --help

Configuration comes from the environment and from ./.env (the environment wins).
Endpoints: GET /render (Grafana's remote-renderer protocol; encoding=pdf for a PDF), /render/csv (its CSV export),
/render/dashboard, /report (a dashboard as a PDF report), /archive (scheduled captures), /i/<token>.<ext>,
/render/version, /healthz, /readyz, /metrics, and the status page at /.
Traces: set OTEL_EXPORTER_OTLP_ENDPOINT (and the other standard OTEL_* variables) to export OpenTelemetry spans over OTLP/HTTP.

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

/** A CLI subcommand: a plain line on stderr for what goes wrong. */
async function cli(command: 'shoot' | 'sign' | 'jobs', args: string[]): Promise<void> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`Usage:\n${{ shoot: SHOOT_HELP, sign: SIGN_HELP, jobs: JOBS_HELP }[command]}\n\nConfiguration comes from the environment and from ./.env (the environment wins); see panelshot --help.\n`);
    return;
  }
  try {
    if (command === 'sign') process.stdout.write(`${sign(args)}\n`);
    else if (command === 'jobs') process.exitCode = await jobs(args);
    else process.exitCode = await shoot(args);
  } catch (e) {
    process.stderr.write(`panelshot ${command}: ${e instanceof UsageError || e instanceof ConfigError ? e.message : `failed: ${errText(e)}`}\n`);
    process.exit(e instanceof UsageError ? 2 : e instanceof ConfigError ? 78 : 1);
  }
}

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  if (command === 'shoot' || command === 'sign' || command === 'jobs') return cli(command, rest);
  const args = command === 'serve' ? rest : process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h') || command === 'help') {
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
  await serve(config, logger, DRAIN_GRACE_MS);
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

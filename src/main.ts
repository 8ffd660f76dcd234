#!/usr/bin/env node
// Entry point of the `panelshot` command and of `node dist/main.js` (npm start, systemd):
// no subcommand (or `serve`) runs the service; `shoot` and `sign` are the CLI
// (src/cli/, one file per subcommand). Reads the configuration once and refuses to start
// with a clear one-line message when it is wrong.
import { ConfigError, describeKeys } from './config';
import { UsageError } from './cli/args';
import { serve } from './cli/serve';
import { shoot, SHOOT_USAGE } from './cli/shoot';
import { sign, SIGN_USAGE } from './cli/sign';
import { VERSION } from './service';

const HELP = `panelshot ${VERSION} — renders Grafana panels and dashboards to PNG, JPEG or WebP with warm headless Chrome.

Usage:
  panelshot [serve]          run the service (what systemd runs as \`node dist/main.js\`)
  ${SHOOT_USAGE}
                             every panel of a dashboard (or one panel) into a directory, with manifest.json;
                             exits 1 when any panel failed; without --server it runs panelshot in-process
  ${SIGN_USAGE}
                             print a signed image link <PUBLIC_URL>/i/<token>.<ext> (needs LINK_SECRET, PUBLIC_URL)
  panelshot --help | --version

Configuration comes from the environment and from ./.env (the environment wins).
Endpoints: GET /render (Grafana's remote-renderer protocol), /render/dashboard, /i/<token>.<ext>,
/render/version, /healthz, /readyz, /metrics, and the status page at /.

Settings:
${describeKeys()
  .map((k) => `  ${k.key.padEnd(26)} ${k.doc}${k.default !== undefined ? ` (default: ${k.default === '' ? '""' : k.default})` : ''}`)
  .join('\n')}
`;

/** Time in-flight renders get to finish after SIGTERM; systemd's TimeoutStopSec must exceed it. */
const DRAIN_GRACE_MS = 20_000;

let serving = false;

async function main(): Promise<number | undefined> {
  const [command, ...rest] = process.argv.slice(2);
  if (command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  if (command === '--version') {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  if (command === undefined || command === 'serve') {
    if (rest.includes('--help') || rest.includes('-h')) {
      process.stdout.write(HELP);
      return 0;
    }
    if (rest.length) throw new UsageError(`serve takes no arguments (settings come from the environment and ./.env), got ${rest[0]}`);
    serving = true;
    await serve(DRAIN_GRACE_MS);
    return undefined;
  }
  if (command === 'shoot') return shoot(rest);
  if (command === 'sign') {
    process.stdout.write(`${sign(rest)}\n`);
    return 0;
  }
  throw new UsageError(`unknown command or argument ${command}; see panelshot --help`);
}

main().then(
  (code) => {
    if (code !== undefined) process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof UsageError) {
      process.stderr.write(`panelshot: ${e.message}\n`);
      process.exit(2);
    }
    if (e instanceof ConfigError) {
      process.stderr.write(`panelshot: ${e.message}\n`);
      process.exit(78); // EX_CONFIG: systemd's RestartPreventExitStatus keeps it from looping
    }
    const code = (e as NodeJS.ErrnoException)?.code;
    if (code === 'EADDRINUSE' || code === 'EACCES') {
      process.stderr.write(`panelshot: cannot listen: ${(e as Error).message}\n`);
      process.exit(1);
    }
    process.stderr.write(`panelshot: ${serving ? 'failed to start' : 'failed'}: ${(e as Error)?.message ?? e}\n`);
    process.exit(1);
  },
);

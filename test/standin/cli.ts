/**
 * Run the Grafana stand-in on its own (demo, benchmark, poking at it with a browser):
 *
 *   node --import tsx test/standin/cli.ts [--port 3000] [--host 127.0.0.1] [--user admin]
 *     [--password admin] [--token glsa_…] [--data-delay 300] [--animation 500]
 *     [--rotate-after <ms>] [--session-expiry <s>]
 *
 * Prints one JSON line `{"url":"http://127.0.0.1:PORT"}` once listening, so a script can
 * start it with port 0 and read where it went.
 */
import { parseArgs } from 'node:util';
import { startStandin, type StandinOptions } from './grafana';

function num(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) {
    process.stderr.write(`standin: --${name} needs a non-negative number, got ${JSON.stringify(v)}\n`);
    process.exit(2);
  }
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      user: { type: 'string' },
      password: { type: 'string' },
      token: { type: 'string' },
      'data-delay': { type: 'string' },
      animation: { type: 'string' },
      'rotate-after': { type: 'string' },
      'session-expiry': { type: 'string' },
    },
  });
  const opts: StandinOptions = {};
  if (values.host !== undefined) opts.host = values.host;
  if (values.user !== undefined) opts.user = values.user;
  if (values.password !== undefined) opts.password = values.password;
  if (values.token !== undefined) opts.token = values.token;
  const port = num('port', values.port);
  if (port !== undefined) opts.port = port;
  const dataDelay = num('data-delay', values['data-delay']);
  if (dataDelay !== undefined) opts.dataDelayMs = dataDelay;
  const animation = num('animation', values.animation);
  if (animation !== undefined) opts.animationMs = animation;
  const rotateAfter = num('rotate-after', values['rotate-after']);
  if (rotateAfter !== undefined) opts.rotateAfterMs = rotateAfter;
  const expiry = num('session-expiry', values['session-expiry']);
  if (expiry !== undefined) opts.sessionExpirySeconds = expiry;

  const standin = await startStandin(opts);
  process.stdout.write(JSON.stringify({ url: standin.url }) + '\n');

  let closing = false;
  const stop = () => {
    if (closing) return;
    closing = true;
    standin.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`standin: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

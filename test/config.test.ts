// Configuration: validated once, clear one-line messages, and documentation that cannot
// drift from the code (.env.example, --help and the README table all list every key).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ConfigError, KEYS, loadConfig } from '../src/config';
import { envExample } from '../scripts/env-example';
import { chromeFlags, GC_FUNCTION } from '../src/browser/chromeFlags';

const root = path.resolve(__dirname, '..');
/** Runs src/main.ts from any working directory (tsx resolved from here, not from cwd). */
const MAIN = ['--require', require.resolve('tsx/cjs'), path.join(root, 'src/main.ts')];
const base = { GRAFANA_URL: 'http://127.0.0.1:3000' };

function problem(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    return e.message;
  }
  assert.fail(`expected ${JSON.stringify(env)} to be refused`);
}

test('defaults are the documented ones', () => {
  const c = loadConfig(base);
  assert.equal(c.httpHost, '127.0.0.1');
  assert.equal(c.httpPort, 8081);
  assert.deepEqual(c.authTokens, ['-']);
  assert.equal(c.poolSize, 2);
  assert.equal(c.grafanaUrl.toString(), 'http://127.0.0.1:3000/');
});

test('each invalid value is refused with a message naming the key', () => {
  assert.match(problem({}), /GRAFANA_URL is required/);
  assert.match(problem({ GRAFANA_URL: 'grafana:3000' }), /GRAFANA_URL must be an absolute http/);
  assert.match(problem({ GRAFANA_URL: 'ftp://x' }), /GRAFANA_URL must be an absolute http/);
  assert.match(problem({ ...base, HTTP_PORT: '70000' }), /HTTP_PORT must be at most 65535/);
  assert.match(problem({ ...base, POOL_SIZE: 'two' }), /POOL_SIZE must be a whole number/);
  assert.match(problem({ ...base, POOL_SIZE: '0' }), /POOL_SIZE must be at least 1/);
  assert.match(problem({ ...base, STABLE_TOLERANCE: '2' }), /STABLE_TOLERANCE must be at most 1/);
  assert.match(problem({ ...base, DEFAULT_TIMEZONE: 'Mars/Base' }), /DEFAULT_TIMEZONE must be an IANA timezone/);
  assert.match(problem({ ...base, ON_TIMEOUT: 'maybe' }), /ON_TIMEOUT must be best-frame or error/);
  assert.match(problem({ ...base, GRAFANA_USER: 'admin' }), /GRAFANA_USER and GRAFANA_PASS must be set together/);
  assert.match(problem({ ...base, AUTH_TOKEN: ' , ' }), /AUTH_TOKEN must hold at least one token/);
  assert.match(problem({ ...base, RENDER_TIMEOUT_S: '100', RENDER_TIMEOUT_MAX_S: '50' }), /RENDER_TIMEOUT_S must not exceed/);
});

test('a non-loopback address needs a real AUTH_TOKEN; loopback works with the default', () => {
  assert.match(problem({ ...base, HTTP_HOST: '0.0.0.0' }), /not a loopback address, so AUTH_TOKEN must be a secret/);
  assert.match(problem({ ...base, HTTP_HOST: '0.0.0.0', AUTH_TOKEN: 'short' }), /AUTH_TOKEN must be a secret/);
  assert.equal(loadConfig({ ...base, HTTP_HOST: '0.0.0.0', AUTH_TOKEN: 'a-long-shared-secret' }).httpHost, '0.0.0.0');
  for (const host of ['127.0.0.1', 'localhost', '::1']) assert.equal(loadConfig({ ...base, HTTP_HOST: host }).httpHost, host);
});

/** The JSON log lines a run of main.ts wrote, with every line checked to be JSON. */
function logLines(out: string): Array<Record<string, unknown>> {
  return out
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        assert.fail(`not a JSON log line: ${line}`);
      }
    });
}

test('the service refuses a bad configuration with one JSON log line and exit status 78, no stack trace', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'panelshot-cfg-'));
  const r = spawnSync(process.execPath, MAIN, {
    cwd: dir,
    env: { PATH: process.env.PATH, GRAFANA_URL: 'http://127.0.0.1:3000', HTTP_HOST: '0.0.0.0' },
    encoding: 'utf8',
  });
  fs.rmSync(dir, { recursive: true, force: true });
  assert.equal(r.status, 78, r.stdout + r.stderr);
  assert.equal(r.stderr, '', 'nothing but JSON on stdout');
  const lines = logLines(r.stdout);
  assert.equal(lines.length, 1, r.stdout);
  const [line] = lines;
  assert.equal(line!.level, 60);
  assert.equal(line!.event, 'config_invalid');
  assert.equal(line!.service, 'panelshot');
  assert.equal(typeof line!.time, 'string');
  assert.match(String(line!.msg), /^invalid configuration: HTTP_HOST=0\.0\.0\.0 is not a loopback address/);
  assert.doesNotMatch(r.stdout, /\n\s+at /);
});

test('an unknown argument exits 2 with a JSON log line; --version stays plain text', () => {
  const r = spawnSync(process.execPath, [...MAIN, '--bogus'], { env: { PATH: process.env.PATH }, encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.equal(r.stderr, '');
  const lines = logLines(r.stdout);
  assert.equal(lines.length, 1);
  assert.equal(lines[0]!.event, 'bad_argument');
  assert.match(String(lines[0]!.msg), /unknown argument --bogus; see --help/);
  const v = spawnSync(process.execPath, [...MAIN, '--version'], { encoding: 'utf8' });
  assert.equal(v.status, 0);
  assert.match(v.stdout, /^\d+\.\d+\.\d+\S*\n$/);
});

test('.env in the working directory is read, and the environment wins over it', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'panelshot-env-'));
  fs.writeFileSync(path.join(dir, '.env'), 'GRAFANA_URL=http://127.0.0.1:3000\nPOOL_SIZE=0\n');
  const run = (extra: Record<string, string>) =>
    spawnSync(process.execPath, MAIN, { cwd: dir, env: { PATH: process.env.PATH, ...extra }, encoding: 'utf8' });
  assert.match(run({}).stdout, /POOL_SIZE must be at least 1/, 'POOL_SIZE=0 comes from .env');
  assert.match(run({ POOL_SIZE: '1', HTTP_PORT: 'x' }).stdout, /HTTP_PORT/);
  assert.doesNotMatch(run({ POOL_SIZE: '1', HTTP_PORT: 'x' }).stdout, /POOL_SIZE/, 'the environment overrides .env');
  fs.rmSync(dir, { recursive: true, force: true });
});

test('.env.example is generated from the config table and lists every key', () => {
  const committed = fs.readFileSync(path.join(root, '.env.example'), 'utf8');
  assert.equal(committed, envExample(), 'run: node --import tsx scripts/env-example.ts > .env.example');
  for (const key of Object.keys(KEYS)) assert.match(committed, new RegExp(`^#?${key}=`, 'm'), key);
});

test('--help and the README document every key', () => {
  const help = spawnSync(process.execPath, [...MAIN, '--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0);
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  for (const key of Object.keys(KEYS)) {
    assert.match(help.stdout, new RegExp(`\\b${key}\\b`), `--help lacks ${key}`);
    assert.match(readme, new RegExp(`\\| \`${key}\` \\|`), `README table lacks ${key}`);
  }
});

test("V8 flags in CHROME_ARGS join panelshot's own (Chrome reads only the last --js-flags)", () => {
  const own = chromeFlags([]).filter((f) => f.startsWith('--js-flags='));
  assert.deepEqual(own, [`--js-flags=--expose-gc-as=${GC_FUNCTION}`]);
  const flags = chromeFlags(['--js-flags=--max-old-space-size=512', '--lang=de']);
  assert.deepEqual(flags.filter((f) => f.startsWith('--js-flags=')), [`--js-flags=--expose-gc-as=${GC_FUNCTION} --max-old-space-size=512`]);
  assert.ok(flags.includes('--lang=de'));
});

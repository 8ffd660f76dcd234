// The CLI: `panelshot shoot` against a running panelshot and in-process, its exit codes,
// and one clear line for each bad flag. The child processes run src/main.ts through tsx.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BROKEN_PANEL_ID } from './standin/dashboards';
import { startStandin, type Standin } from './standin/grafana';
import { pngSize, startStack, type Stack } from './support/stack';

const root = path.resolve(__dirname, '..');

/** Runs `panelshot <args>` asynchronously (the stand-in lives in this process). */
function panelshot(args: string[], opts: { env?: Record<string, string>; cwd?: string } = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--require', require.resolve('tsx/cjs'), path.join(root, 'src/main.ts'), ...args], {
      cwd: opts.cwd ?? os.tmpdir(),
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...opts.env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

const made: string[] = [];
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'panelshot-shoot-'));
  made.push(d);
  return d;
};
// The output directories shoot wrote, gone with the test (they piled up in /tmp).
after(() => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});

describe('panelshot shoot', () => {
  let st: Stack;
  before(async () => {
    st = await startStack({ POOL_SIZE: '2', AUTH_TOKEN: 'cli-test-token-123' });
  });
  after(() => st?.stop());

  test('a dashboard through --server: images and manifest; a failed panel makes the exit code 1', async () => {
    const out = tmp();
    const r = await panelshot(['shoot', `${st.g.url}/d/flaky/x?orgId=1`, '--out', out, '--server', st.s.url, '--token', 'cli-test-token-123', '--width', '300', '--height', '150']);
    assert.equal(r.status, 1, r.stderr);
    const manifest = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    assert.equal(manifest.entries.length, 4);
    assert.equal(manifest.failed, 1);
    assert.match(manifest.entries.find((e: { id: number }) => e.id === BROKEN_PANEL_ID).error, /HTTP 500/);
    const files = fs.readdirSync(out).sort();
    assert.deepEqual(files, ['manifest.json', 'panel-1.png', 'panel-2.png', 'panel-4.png']);
    assert.deepEqual(await pngSize(fs.readFileSync(path.join(out, 'panel-2.png'))), { width: 300, height: 150, format: 'png' });
    // Not a terminal: one plain line per panel, no progress bar.
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 4);
    assert.ok(lines.every((l) => /^\d\/4 (ok panel-\d\.png \d+ ms|FAILED panel 500 )/.test(l)), r.stdout);
    assert.doesNotMatch(r.stdout + r.stderr, /\r|\x1b\[/);
    assert.match(r.stderr, /3 of 4 panels written.*1 failed/);
  });

  test('a wrong token or an unknown dashboard is one line and exit code 1', async () => {
    const wrong = await panelshot(['shoot', `${st.g.url}/d/abc/x`, '--out', tmp(), '--server', st.s.url, '--token', 'nope']);
    assert.equal(wrong.status, 1);
    assert.match(wrong.stderr, /^panelshot: HTTP 401: missing or wrong X-Auth-Token/);
    const missing = await panelshot(['shoot', `${st.g.url}/d/missing-x/x`, '--out', tmp(), '--server', st.s.url, '--token', 'cli-test-token-123']);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /HTTP 404: dashboard missing-x does not exist/);
  });

  test('bad flags: one line naming the problem, exit code 2', async () => {
    const cases: [string[], RegExp][] = [
      [['shoot'], /a panel or dashboard URL is required/],
      [['shoot', `${st.g.url}/d/abc/x`], /--out <dir> is required/],
      [['shoot', `${st.g.url}/d/abc/x`, '--out', '/tmp/x', '--bogus'], /Unknown option '--bogus'/],
      [['shoot', `${st.g.url}/d/abc/x`, '--out', '/tmp/x', '--format', 'gif'], /--format must be png, jpeg or webp/],
      [['shoot', `${st.g.url}/d/abc/x`, '--out', '/tmp/x', '--width', 'wide'], /--width must be a whole number/],
      [['shoot', `${st.g.url}/d/abc/x`, '--out', '/tmp/x', '--quality', '-1'], /--quality|Option '-1/],
      [['shoot', `${st.g.url}/login`, '--out', '/tmp/x'], /must be a Grafana panel .* or dashboard/],
      [['shoot', `${st.g.url}/d/abc/x`, '--out', '/tmp/x', '--server', 'localhost:8081'], /--server must be an http\(s\) URL/],
      [['sign'], /a panel URL is required/],
    ];
    for (const [args, message] of cases) {
      const r = await panelshot(args, { env: { GRAFANA_URL: st.g.url } });
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, message, args.join(' '));
    }
  });

  test('an unknown command is the service\'s unknown argument: a JSON line, exit code 2', async () => {
    const r = await panelshot(['explode']);
    assert.equal(r.status, 2);
    assert.equal(JSON.parse(r.stdout.trim()).event, 'bad_argument');
    assert.match(r.stdout, /unknown argument explode; see --help/);
  });

  test('--help lists every subcommand', async () => {
    const r = await panelshot(['--help']);
    assert.equal(r.status, 0);
    for (const word of ['panelshot [serve]', 'panelshot shoot', 'panelshot sign', '--out', '--server', '--token', '--ttl', '/report', 'PDF', 'OTEL_EXPORTER_OTLP_ENDPOINT']) assert.ok(r.stdout.includes(word), word);
  });

  test('shoot --help and sign --help print their usage and exit 0 (no configuration needed)', async () => {
    for (const [cmd, flag] of [['shoot', '--out'], ['sign', '--ttl']] as const) {
      for (const help of ['--help', '-h']) {
        const r = await panelshot([cmd, help]);
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stderr, '');
        assert.match(r.stdout, new RegExp(`^Usage:\\n  panelshot ${cmd} `));
        assert.ok(r.stdout.includes(flag), flag);
      }
    }
  });
});

describe('panelshot shoot in-process', () => {
  let g: Standin;
  before(async () => {
    g = await startStandin();
  });
  after(() => g?.close());

  test('without --server it runs panelshot from ./.env and writes the panel', async () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, '.env'), `GRAFANA_URL=${g.url}\nGRAFANA_USER=admin\nGRAFANA_PASS=admin\nPOOL_SIZE=1\n`);
    const r = await panelshot(['shoot', `${g.url}/d-solo/abc/x?panelId=3`, '--out', 'shots', '--format', 'jpeg', '--width', '500', '--height', '250'], { cwd: dir });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(await pngSize(fs.readFileSync(path.join(dir, 'shots', 'panel-3.jpg'))), { width: 500, height: 250, format: 'jpeg' });
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'shots', 'manifest.json'), 'utf8'));
    assert.equal(manifest.entries[0].file, 'panel-3.jpg');
    assert.deepEqual([...new Set(g.stats.pageLoads.map((p) => p.auth))], ['session']);
  });
});

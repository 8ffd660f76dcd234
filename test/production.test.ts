// The three places panelshot is used, each as a whole: Grafana calling it (requests
// replayed exactly as Grafana builds them), behind Debian's real nginx under a path
// prefix, and TLS on both sides. Plus what an operator watches: logs, metrics, /readyz.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startStandin, type Standin } from './standin/grafana';
import { makePki } from './support/pki';
import { waitFor } from './support/processes';
import { nginxBin } from './support/nginx';
import { pngSize, startStack, type Stack } from './support/stack';
import { freePort } from '../src/browser/driver';

const PANEL = '/d-solo/abc123/node-exporter?orgId=1&panelId=2';

/** Go's url.QueryEscape, which Grafana's url.Values.Encode uses. */
function goQueryEscape(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`).replace(/%20/g, '+');
}

/** Go's url.Values.Encode: keys sorted, each value query-escaped. */
function goEncode(values: Record<string, string>): string {
  return Object.keys(values)
    .sort()
    .map((k) => `${goQueryEscape(k)}=${goQueryEscape(values[k]!)}`)
    .join('&');
}

describe('Grafana calling panelshot', () => {
  let st: Stack;
  before(async () => {
    st = await startStack({ POOL_SIZE: '1', AUTH_TOKEN: 'grafana-renderer-token-1,rotated-token-2' });
  });
  after(() => st?.stop());

  test('a render request exactly as Grafana 11 sends it gets the PNG Grafana expects', async () => {
    const key = st.g.issueRenderKey();
    const query = goEncode({
      deviceScaleFactor: '1.000000',
      domain: '127.0.0.1',
      encoding: 'png',
      height: '500',
      renderKey: key,
      timeout: '60',
      timezone: 'Europe/Berlin',
      url: `${st.g.url}/d-solo/a1b2c3/node-exporter?orgId=1&panelId=2&from=1795219200000&to=1795240800000&width=1000&height=500&tz=Europe%2FBerlin&render=1`,
      width: '1000',
    });
    st.g.resetStats();
    const res = await fetch(`${st.s.url}/render?${query}`, {
      headers: {
        'X-Auth-Token': 'grafana-renderer-token-1',
        'User-Agent': 'Grafana/11.5.2',
        'Accept-Language': 'fr-FR,fr;q=0.9,en;q=0.8',
        'X-Tenant-ID': '7',
      },
    });
    const body = Buffer.from(await res.arrayBuffer());
    assert.equal(res.status, 200, body.toString().slice(0, 300));
    assert.equal(res.headers.get('content-type'), 'image/png');
    assert.deepEqual(await pngSize(body), { width: 1000, height: 500, format: 'png' });
    const q = st.g.stats.queries.at(-1)!;
    assert.equal(q.auth, 'renderKey');
    assert.equal(q.timezone, 'Europe/Berlin');
    assert.equal(q.language, 'fr-FR');

    // The second of the comma-separated tokens works too (token rotation on Grafana's side).
    const again = await fetch(`${st.s.url}/render?${goEncode({ url: st.g.url + PANEL, renderKey: st.g.issueRenderKey(), domain: '127.0.0.1', encoding: '', timezone: '' })}`, {
      headers: { 'X-Auth-Token': 'rotated-token-2', 'User-Agent': 'Grafana/12.1.0' },
    });
    assert.equal(again.status, 200);
  });

  test('/render/version answers Grafana without a token', async () => {
    const res = await fetch(`${st.s.url}/render/version`, { headers: { 'User-Agent': 'Grafana/11.5.2' } });
    assert.equal(res.status, 200);
    assert.equal((await res.json()).version, '3.10.0');
  });

  test('an alert screenshot request (capture_timeout 10 s, from=now-1h) answers within its timeout', async () => {
    const started = Date.now();
    const res = await fetch(`${st.s.url}/render?${goEncode({ url: `${st.g.url}/d-solo/a/b?orgId=1&panelId=3&from=now-1h&to=now&render=1`, renderKey: st.g.issueRenderKey(), domain: '127.0.0.1', width: '1000', height: '500', timeout: '10', deviceScaleFactor: '1.000000', encoding: 'png', timezone: '' })}`, {
      headers: { 'X-Auth-Token': 'grafana-renderer-token-1' },
    });
    assert.equal(res.status, 200);
    assert.ok(Date.now() - started < 10_000);
  });

  test('each render is one log line with request id, outcome and timings; the id comes back', async () => {
    const r = await st.render({ url: PANEL }, { 'X-Auth-Token': 'grafana-renderer-token-1', 'X-Request-Id': 'alert-42.abc' });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-request-id'), 'alert-42.abc');
    const lines = st.logs.map((l) => JSON.parse(l)).filter((l) => l.reqId === 'alert-42.abc' && l.event === 'render');
    assert.equal(lines.length, 1);
    for (const field of ['outcome', 'page', 'auth', 'queueMs', 'navigateMs', 'dataMs', 'stableMs', 'totalMs', 'client']) assert.ok(field in lines[0], field);
    assert.equal(lines[0].outcome, 'ok');
    const generated = await st.render({ url: PANEL }, { 'X-Auth-Token': 'grafana-renderer-token-1', 'X-Request-Id': 'bad id\twith spaces' });
    assert.match(generated.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/, 'an unusable id is replaced');
  });

  test('/metrics reports renders, queue, stability, pool, Chrome restarts and logins', async () => {
    assert.equal((await st.render({ url: PANEL }, { 'X-Auth-Token': 'grafana-renderer-token-1' })).status, 200);
    await st.render({ url: PANEL }, { 'X-Auth-Token': 'nope' });
    const text = await (await st.get('/metrics')).text();
    for (const name of [
      'panelshot_render_duration_seconds_bucket{le="5",outcome="ok"}',
      'panelshot_queue_wait_seconds_count',
      'panelshot_stability_wait_seconds_count',
      'panelshot_frames_compared_total',
      'panelshot_pool_sessions{state="idle"}',
      'panelshot_grafana_logins_total{result="ok"}',
      'panelshot_http_errors_total{status="401",code="unauthorized"}',
      'panelshot_process_resident_memory_bytes',
      'panelshot_chrome_memory_bytes',
    ]) {
      assert.ok(text.includes(name), `missing ${name}`);
    }
    assert.match(text, /panelshot_render_duration_seconds_count\{outcome="ok"\} [1-9]/);
  });

  test('/readyz is 200 when warm and Grafana works, 503 with the reason when Grafana is down', async () => {
    assert.equal((await st.get('/readyz')).status, 200);
    st.g.setDown(503);
    const down = await st.get('/readyz');
    assert.equal(down.status, 503);
    assert.match((await down.json()).error, /Grafana/);
    assert.equal((await st.get('/healthz')).status, 200, 'liveness does not depend on Grafana');
    st.g.setDown(null);
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal((await st.get('/readyz')).status, 200);
  });

  test('DEFAULT_TIMEZONE applies to calls that name none', async () => {
    const tz = await startStack({ POOL_SIZE: '1', DEFAULT_TIMEZONE: 'America/Sao_Paulo' });
    try {
      assert.equal((await tz.render({ url: PANEL })).status, 200);
      assert.equal(tz.g.stats.queries.at(-1)!.timezone, 'America/Sao_Paulo');
      assert.equal((await tz.render({ url: PANEL, timezone: 'UTC' })).status, 200);
      assert.equal(tz.g.stats.queries.at(-1)!.timezone, 'UTC');
    } finally {
      await tz.stop();
    }
  });
});

describe('behind Debian\'s nginx under /renderer/', () => {
  let st: Stack;
  let nginx: ChildProcess;
  let dir: string;
  let nginxPort: number;
  before(async () => {
    st = await startStack({ POOL_SIZE: '1', BASE_PATH: '/renderer' });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'panelshot-nginx-'));
    nginxPort = await freePort();
    const location = path.resolve(__dirname, '../docs/nginx/panelshot-location.conf');
    fs.writeFileSync(
      path.join(dir, 'nginx.conf'),
      `worker_processes 1;
events { worker_connections 64; }
http {
  access_log off;
  upstream panelshot { server 127.0.0.1:${st.s.port}; keepalive 8; }
  server {
    listen 127.0.0.1:${nginxPort};
    include ${location};
  }
}
`,
    );
    nginx = spawn(nginxBin(), ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', 'stderr', '-g', `daemon off; pid ${dir}/nginx.pid;`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    nginx.stderr!.on('data', (d) => (err += d));
    const up = await waitFor(() => fs.existsSync(path.join(dir, 'nginx.pid')), 10_000);
    assert.ok(up, `nginx did not start: ${err}`);
  });
  after(async () => {
    nginx?.kill('SIGQUIT');
    if (nginx) await new Promise((r) => nginx.once('exit', r));
    fs.rmSync(dir, { recursive: true, force: true });
    await st?.stop();
  });

  test('renders through the proxy, and the log shows the real client address', async () => {
    const q = new URLSearchParams({ url: st.g.url + PANEL, width: '400', height: '200' });
    const res = await fetch(`http://127.0.0.1:${nginxPort}/renderer/render?${q}`, { headers: { 'X-Auth-Token': '-', 'X-Forwarded-For': '203.0.113.7' } });
    const body = Buffer.from(await res.arrayBuffer());
    assert.equal(res.status, 200, body.toString().slice(0, 300));
    assert.deepEqual(await pngSize(body), { width: 400, height: 200, format: 'png' });
    const id = res.headers.get('x-request-id');
    assert.match(id ?? '', /^[0-9a-f]{32}$/, 'nginx\'s $request_id reached panelshot and came back');
    const line = st.logs.map((l) => JSON.parse(l)).find((l) => l.reqId === id && l.event === 'render');
    assert.equal(line?.client, '203.0.113.7');

    const version = await fetch(`http://127.0.0.1:${nginxPort}/renderer/render/version`);
    assert.equal((await version.json()).version, '3.10.0');
    assert.equal((await fetch(`http://127.0.0.1:${nginxPort}/renderer/healthz`)).status, 200);
    const outside = await fetch(`${st.s.url.replace('/renderer', '')}/render/version`);
    assert.equal(outside.status, 404, 'without the prefix nothing is served');
  });
});

describe('TLS', () => {
  let dir: string;
  let pki: { ca: string; cert: string; key: string };
  let tlsGrafana: Standin;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'panelshot-tls-'));
    pki = makePki(dir);
    tlsGrafana = await startStandin({ tls: { key: fs.readFileSync(pki.key), cert: fs.readFileSync(pki.cert) } });
  });
  after(async () => {
    await tlsGrafana?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('panelshot serves HTTPS with TLS_CERT_FILE/TLS_KEY_FILE', async () => {
    const st = await startStack({ POOL_SIZE: '1', TLS_CERT_FILE: pki.cert, TLS_KEY_FILE: pki.key });
    try {
      assert.match(st.s.url, /^https:/);
      const { status, body } = await httpsGet(`${st.s.url}/render/version`, pki.ca);
      assert.equal(status, 200);
      assert.equal(JSON.parse(body.toString()).version, '3.10.0');
    } finally {
      await st.stop();
    }
  });

  test('Grafana behind an internal CA: trusted with GRAFANA_CA_FILE, refused without, accepted with GRAFANA_INSECURE_TLS', async () => {
    const base = { POOL_SIZE: '1', GRAFANA_URL: tlsGrafana.url };
    const trusted = await startStack({ ...base, GRAFANA_CA_FILE: pki.ca });
    try {
      const r = await trusted.render({ url: tlsGrafana.url + PANEL });
      assert.equal(r.status, 200, r.body.toString().slice(0, 300));
      const keyed = await trusted.render({ url: tlsGrafana.url + PANEL, renderKey: tlsGrafana.issueRenderKey(), domain: '127.0.0.1' });
      assert.equal(keyed.status, 200, 'Chrome trusts the CA too');
    } finally {
      await trusted.stop();
    }
    const untrusted = await startStack(base, {}, { ready: false });
    try {
      const r = await untrusted.render({ url: tlsGrafana.url + PANEL });
      assert.equal(r.status, 502);
      assert.match(r.json().error, /cannot reach Grafana/);
      const keyed = await untrusted.render({ url: tlsGrafana.url + PANEL, renderKey: tlsGrafana.issueRenderKey(), domain: '127.0.0.1' });
      assert.equal(keyed.status, 502);
      assert.match(keyed.json().error, /CERT/);
    } finally {
      await untrusted.stop();
    }
    const insecure = await startStack({ ...base, GRAFANA_INSECURE_TLS: 'true' });
    try {
      assert.equal((await insecure.render({ url: tlsGrafana.url + PANEL })).status, 200);
      assert.ok(insecure.logs.some((l) => l.includes('"event":"insecure_tls"') && l.includes('"level":40')), 'a warning is logged');
    } finally {
      await insecure.stop();
    }
  });
});



function httpsGet(url: string, caFile: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca: fs.readFileSync(caFile) }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      })
      .on('error', reject);
  });
}

describe('under a supervisor (systemd)', () => {
  const root = path.resolve(__dirname, '..');
  const MAIN = ['--require', require.resolve('tsx/cjs'), path.join(root, 'src/main.ts')];
  const env = { ...process.env, GRAFANA_URL: 'http://127.0.0.1:9/', POOL_SIZE: '1' };

  /** Runs main.ts to its exit (or until `until` sees its lines); every line must be JSON. */
  function runMain(opts: { env: NodeJS.ProcessEnv; fd3?: number; shell?: string; until?: (lines: Array<Record<string, unknown>>) => boolean }) {
    const child = opts.shell
      ? spawn('sh', ['-c', opts.shell, process.execPath, ...MAIN], { env: opts.env, stdio: ['ignore', 'pipe', 'pipe', opts.fd3 ?? 'ignore'] })
      : spawn(process.execPath, MAIN, { env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const lines: Array<Record<string, unknown>> = [];
    child.stderr!.on('data', (d) => (err += d));
    const seen = new Promise<void>((resolve) => {
      child.stdout!.on('data', (d) => {
        out += d;
        const complete = out.split('\n');
        out = complete.pop()!;
        for (const line of complete) lines.push(JSON.parse(line) as Record<string, unknown>);
        if (opts.until?.(lines)) resolve();
      });
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    return { child, lines, seen, exited, stderr: () => err };
  }

  test('a port in use: exit 1 with a JSON listen_failed line, nothing else on stderr', async () => {
    const busy = (await import('node:net')).createServer().listen(0, '127.0.0.1');
    await new Promise((r) => busy.once('listening', r));
    try {
      const run = runMain({ env: { ...env, HTTP_PORT: String((busy.address() as { port: number }).port) } });
      assert.equal(await run.exited, 1);
      assert.equal(run.stderr(), '');
      const last = run.lines.at(-1)!;
      assert.equal(last.event, 'listen_failed');
      assert.equal(last.code, 'EADDRINUSE');
      assert.equal(last.level, 60);
      assert.match(String(last.msg), /^cannot listen: .*EADDRINUSE/);
    } finally {
      busy.close();
    }
  });

  /** A listening socket as systemd would pass it: fd 3, LISTEN_FDS=1, LISTEN_PID=<the child>. */
  async function activated(host: string, extraEnv: Record<string, string> = {}) {
    const net = await import('node:net');
    const sock = net.createServer().listen(0, host);
    await new Promise((r) => sock.once('listening', r));
    const port = (sock.address() as { port: number }).port;
    const fd = (sock as unknown as { _handle: { fd: number } })._handle.fd;
    const run = runMain({
      env: { ...env, HTTP_PORT: '1', ...extraEnv },
      fd3: fd,
      shell: 'LISTEN_FDS=1 LISTEN_PID=$$ exec "$0" "$@"',
      until: (lines) => lines.some((l) => l.event === 'listening'),
    });
    // The child holds its own copy; ours must not accept its connections.
    sock.close();
    return { run, port };
  }

  test('socket activation: serves on the socket systemd passes, HTTP_PORT unused', async () => {
    const { run, port } = await activated('127.0.0.1');
    try {
      await Promise.race([run.seen, run.exited.then((c) => assert.fail(`exited ${c}: ${run.stderr()}`))]);
      const listening = run.lines.find((l) => l.event === 'listening')!;
      assert.equal(listening.socket, 'systemd');
      assert.equal(listening.address, `http://127.0.0.1:${port}`);
      assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
      // HTTP_PORT=1 in the env is not where it listens: the log says so.
      assert.ok(run.lines.some((l) => l.event === 'listen_address_ignored' && l.level === 40), 'a warning names the unused HTTP_PORT');
    } finally {
      run.child.kill('SIGTERM');
      assert.equal(await run.exited, 0);
    }
  });

  test('socket activation on a non-loopback address with the default AUTH_TOKEN: exit 78', async () => {
    const { run } = await activated('0.0.0.0');
    assert.equal(await run.exited, 78);
    const last = run.lines.at(-1)!;
    assert.equal(last.event, 'config_invalid');
    assert.match(String(last.msg), /the socket from systemd \(0\.0\.0\.0\) is not a loopback address/);
  });
});

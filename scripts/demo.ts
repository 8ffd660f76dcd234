// The demo behind scripts/demo.sh: a Grafana stand-in on 127.0.0.1, panelshot started as
// its own process (`node dist/main.js`, configured through the environment like any
// deployment), one panel rendered over HTTP the way a script would ask, both stopped.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startStandin } from '../test/standin/grafana';
import { freePort } from '../src/browser/driver';


async function main(): Promise<void> {
  const out = path.resolve(process.argv[2] ?? 'out/demo-panel.png');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const grafana = await startStandin();
  console.log(`demo: Grafana stand-in at ${grafana.url} (user admin, password admin)`);

  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const log: string[] = [];
  const service = spawn(process.execPath, ['dist/main.js'], {
    env: { ...process.env, GRAFANA_URL: grafana.url, GRAFANA_USER: 'admin', GRAFANA_PASS: 'admin', HTTP_PORT: String(port), POOL_SIZE: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  service.stdout.on('data', (d) => log.push(String(d)));
  service.stderr.on('data', (d) => log.push(String(d)));
  try {
    const started = Date.now();
    while (!(await fetch(`${base}/healthz`).then((r) => r.ok).catch(() => false))) {
      if (service.exitCode !== null || Date.now() - started > 60_000) throw new Error(`panelshot did not start:\n${log.join('')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    console.log(`demo: panelshot at ${base} (warm in ${Date.now() - started} ms)`);

    const panel = `${grafana.url}/d-solo/demo/node-exporter?orgId=1&panelId=2&from=now-6h&to=now`;
    const query = new URLSearchParams({ url: panel, width: '1000', height: '500', timezone: 'UTC' });
    const t = Date.now();
    const res = await fetch(`${base}/render?${query}`, { headers: { 'X-Auth-Token': '-' } });
    const body = Buffer.from(await res.arrayBuffer());
    if (res.status !== 200) throw new Error(`render failed with HTTP ${res.status}: ${body.toString()}`);
    fs.writeFileSync(out, body);
    console.log(`demo: rendered in ${Date.now() - t} ms (${res.headers.get('server-timing')})`);
    console.log(`demo: wrote ${out} (${body.length} bytes)`);
  } finally {
    service.kill('SIGTERM');
    await new Promise((r) => service.once('exit', r));
    await grafana.close();
  }
}

main().catch((e) => {
  console.error(`demo: ${(e as Error).message}`);
  process.exit(1);
});

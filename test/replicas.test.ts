// Three panelshot processes behind Debian's nginx, configured by the shipped
// docs/deploy/nginx-replicas.conf (least_conn; a refused, failed, 429 or 503 request goes to
// the next replica). One Grafana stand-in for all: each replica logs in once on its own; a
// rolling restart (SIGTERM, drain, start again) under steady load fails no request; a
// replica that is not warm (its Grid is full) is passed over.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort } from '../src/browser/driver';
import { startStandin, type Standin } from './standin/grafana';
import { fakeGrid, type FakeGrid } from './support/fakeGrid';
import { startNginx } from './support/nginx';
import { spawnService, waitForAsync, type SpawnedService } from './support/service';

const PANEL = '/d-solo/abc123/node-exporter?orgId=1&panelId=2';
const REPLICA_ENV = { POOL_SIZE: '1', TABS_PER_CHROME: '1', QUEUE_WAIT_MS: '20000' };

/** docs/deploy/nginx-replicas.conf with the upstream servers and the port of this test. */
function nginxConf(ports: number[], listen: number): string {
  const shipped = fs.readFileSync(path.resolve(__dirname, '../docs/deploy/nginx-replicas.conf'), 'utf8');
  // The shipped server parameters (max_fails=0), on each replica's port.
  const params = /server panelshot:8081([^;]*);/.exec(shipped)?.[1] ?? '';
  const servers = ports.map((p) => `server 127.0.0.1:${p}${params};`).join('\n    ');
  const site = shipped.replace(/server panelshot:8081[^;]*;/, servers).replace('listen 8080;', `listen 127.0.0.1:${listen};`);
  assert.notEqual(site, shipped);
  return site;
}

async function renderCount(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/panelshot_render_duration_seconds_count\{outcome="ok"\} (\d+)/.exec(text)?.[1] ?? 0);
}

describe('three replicas behind nginx', () => {
  let g: Standin;
  let replicas: SpawnedService[] = [];
  let extra: SpawnedService | undefined;
  let grid: FakeGrid | undefined;
  let nginx: { stop(): Promise<void>; errorLog(): string };
  let front: string;
  let ports: number[];
  before(async () => {
    g = await startStandin();
    replicas = await Promise.all([0, 1, 2].map(() => spawnService(g.url, undefined, REPLICA_ENV)));
    ports = replicas.map((r) => r.port);
    extra = undefined;
    // A fourth upstream, started later and kept not warm, must be passed over.
    ports.push(await freePort());
    const listen = await freePort();
    nginx = await startNginx(nginxConf(ports, listen));
    front = `http://127.0.0.1:${listen}`;
  });
  after(async () => {
    await nginx?.stop();
    for (const r of [...replicas, ...(extra ? [extra] : [])]) r.proc.kill('SIGTERM');
    await Promise.all([...replicas, ...(extra ? [extra] : [])].map((r) => r.exited));
    await grid?.close();
    await g?.close();
  });

  const render = () => fetch(`${front}/render?url=${encodeURIComponent(g.url + PANEL)}&width=400&height=200`, { headers: { 'X-Auth-Token': '-' } });

  test('renders spread over the replicas; each logs in to Grafana once, with no shared state', async () => {
    const results = await Promise.all(Array.from({ length: 9 }, () => render()));
    assert.deepEqual(results.map((r) => r.status), Array(9).fill(200));
    const counts = await Promise.all(replicas.map((r) => renderCount(r.url)));
    assert.ok(counts.every((c) => c >= 1), `renders per replica: ${counts}`);
    assert.equal(g.stats.logins, 3, 'one login per replica');
  });

  test('a replica that is not warm (its Grid is full) answers 429 and nginx passes it over', async () => {
    grid = await fakeGrid({ browser: 'chrome', busy: true });
    extra = await spawnService(g.url, ports[3], { ...REPLICA_ENV, SELENIUM_REMOTE_URL: grid.url });
    const ready = await fetch(`${extra.url}/readyz`);
    assert.equal(ready.status, 503, 'not ready: a load balancer with health checks takes it out of rotation');
    const direct = await fetch(`${extra.url}/render?url=${encodeURIComponent(g.url + PANEL)}`, { headers: { 'X-Auth-Token': '-' } });
    assert.equal(direct.status, 429);
    const results = await Promise.all(Array.from({ length: 8 }, () => render()));
    assert.deepEqual(results.map((r) => r.status), Array(8).fill(200));
  });

  test('a rolling restart (SIGTERM, drain, start again) under steady load fails no request', async () => {
    let running = true;
    const statuses: number[] = [];
    /** The first few answers that were not a picture, with their body, for the message. */
    const bodies: string[] = [];
    const loop = async () => {
      while (running) {
        statuses.push(
          await render().then(
            async (r) => {
              const body = Buffer.from(await r.arrayBuffer());
              if (r.status !== 200 && bodies.length < 3) bodies.push(`${r.status} ${r.headers.get('server') ?? ''}: ${body.toString('utf8').slice(0, 200)}`);
              return r.status;
            },
            (e) => (bodies.push(String(e)), 0),
          ),
        );
      }
    };
    const loops = [loop(), loop()];
    await new Promise((r) => setTimeout(r, 1500));
    for (let i = 0; i < replicas.length; i++) {
      const old = replicas[i]!;
      old.proc.kill('SIGTERM');
      assert.equal(await old.exited, 0, old.stderr());
      replicas[i] = await spawnService(g.url, old.port, REPLICA_ENV);
      assert.ok(await waitForAsync(async () => (await fetch(`${replicas[i]!.url}/readyz`)).status === 200, 30_000));
    }
    await new Promise((r) => setTimeout(r, 1500));
    running = false;
    await Promise.all(loops);
    const failed = statuses.filter((s) => s !== 200);
    assert.ok(statuses.length >= 10, `${statuses.length} renders during the restart`);
    assert.deepEqual(failed, [], `${failed.length} of ${statuses.length} failed, first: ${bodies.join(' | ')}; nginx: ${nginx.errorLog().split('\n').filter((l) => /\[(error|warn)\]/.test(l)).slice(0, 6).join(' / ')}`);
  });
});

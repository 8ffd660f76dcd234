// panelshot as a deployment runs it: its own process, `node dist/main.js` (what `npm start`
// runs), configured through the environment. Plus the HTTP client the bench renders with.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { ownedProcesses, waitFor } from '../../test/support/processes';
import { panelshotProcesses } from './memory';
import { freePort } from '../../src/browser/driver';

const ROOT = path.resolve(__dirname, '../..');
const MAIN = path.join(ROOT, 'dist/main.js');

/** Builds dist/ when it is missing or older than any source file; returns the build time. */
export function ensureBuilt(): number | undefined {
  const built = fs.existsSync(MAIN) ? fs.statSync(MAIN).mtimeMs : 0;
  const newest = Math.max(...[...walk(path.join(ROOT, 'src')), path.join(ROOT, 'tsconfig.json'), path.join(ROOT, 'package.json')].map((f) => fs.statSync(f).mtimeMs));
  if (built >= newest) return undefined;
  const t = Date.now();
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
  // tsc only writes files whose output changed; the next run must not build again.
  const now = new Date();
  fs.utimesSync(MAIN, now, now);
  return Date.now() - t;
}

function* walk(dir: string): Generator<string> {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* walk(p);
    else yield p;
  }
}


export interface Panelshot {
  pid: number;
  url: string;
  /** Spawn → first /healthz 200 that says the pool is warm. */
  startupMs: number;
  /** Last lines of its log, for a diagnosis when something broke. */
  logTail(): string;
  /** Its whole log (JSON lines), written next to the results. */
  log: string[];
  /** Screenshot comparisons per rendered panel id, from its JSON log ('render' events). */
  framesCompared: Map<number, number>;
  /** SIGTERM, wait for an orderly exit, then make sure no Chrome of it is left. */
  stop(): Promise<{ leftover: number }>;
}

/**
 * `main`: another build's dist/main.js (--baseline); by default this checkout's.
 * `onSpawn`: called with the pid as soon as it runs (to sample its start-up too).
 */
export async function startPanelshot(grafanaUrl: string, poolSize: number, extraEnv: Record<string, string>, main = MAIN, onSpawn?: (pid: number) => void): Promise<Panelshot> {
  // The port is picked free before panelshot starts, and it listens only once its pool is
  // warm: a Chrome or chromedriver started meanwhile may have taken it. Then again.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(grafanaUrl, poolSize, extraEnv, main, onSpawn);
    } catch (e) {
      if (attempt >= 3 || !/EADDRINUSE/.test((e as Error).message)) throw e;
    }
  }
}

async function startOnce(grafanaUrl: string, poolSize: number, extraEnv: Record<string, string>, main: string, onSpawn?: (pid: number) => void): Promise<Panelshot> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const log: string[] = [];
  const started = Date.now();
  const child = spawn(process.execPath, [main], {
    cwd: ROOT,
    env: {
      ...process.env,
      GRAFANA_URL: grafanaUrl,
      GRAFANA_USER: 'admin',
      GRAFANA_PASS: 'admin',
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: String(port),
      POOL_SIZE: String(poolSize),
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const framesCompared = new Map<number, number>();
  const keep = (line: string) => {
    log.push(line);
    const e = parseLogLine(line);
    if (e?.event === 'render' && typeof e.page === 'string' && typeof e.framesCompared === 'number') {
      const id = Number(new URL(e.page).searchParams.get('panelId'));
      if (id) framesCompared.set(id, e.framesCompared);
    }
  };
  readline.createInterface({ input: child.stdout! }).on('line', keep);
  readline.createInterface({ input: child.stderr! }).on('line', keep);
  const pid = child.pid!;
  onSpawn?.(pid);
  const ps: Panelshot = {
    pid,
    url,
    startupMs: 0,
    framesCompared,
    log,
    logTail: () => log.slice(-20).join('\n'),
    stop: () => stopChild(child, pid),
  };
  try {
    ps.startupMs = (await waitWarm(url, child, 90_000)) - started;
  } catch (e) {
    await ps.stop();
    throw new Error(`${(e as Error).message}\n--- panelshot log ---\n${ps.logTail()}`);
  }
  return ps;
}

function parseLogLine(line: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(line);
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

async function waitWarm(url: string, child: ChildProcess, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`panelshot exited with status ${child.exitCode} during start-up`);
    try {
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) });
      const at = Date.now();
      if (res.ok && ((await res.json()) as { warm?: boolean }).warm === true) return at;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`panelshot was not warm within ${timeoutMs} ms`);
}

async function stopChild(child: ChildProcess, pid: number): Promise<{ leftover: number }> {
  // Every Chrome process it has now (renderers and zygotes included: they lack the
  // environment marker) must be gone after its orderly exit.
  const before = panelshotProcesses(pid).filter((p) => p !== pid);
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  }
  const alive = () => [...new Set([...before.filter(isAlive), ...ownedProcesses(pid).map((p) => p.pid)])];
  await waitFor(() => alive().length === 0, 5000);
  // Anything left is a leak worth reporting; remove it so the machine stays clean.
  const left = alive();
  for (const p of left) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      /* gone meanwhile */
    }
  }
  return { leftover: left.length };
}

/** Still running (not a zombie); a pid reused within seconds is not worth guarding against here. */
function isAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

export interface RenderAnswer {
  panelId: number;
  status: number;
  png: Buffer;
  clientMs: number;
  settled: boolean;
  shared: boolean;
  /** Server-Timing phases in ms: queue, auth, navigate, data, stable, encode, total. */
  phases: Record<string, number>;
  error?: string;
}

/** height -1: the whole page; scale: deviceScaleFactor. */
export async function render(base: string, pageUrl: string, panelId: number, width: number, height: number, scale = 1): Promise<RenderAnswer> {
  const q = new URLSearchParams({ url: pageUrl, width: String(width), height: String(height), ...(scale !== 1 ? { deviceScaleFactor: String(scale) } : {}) });
  const t = performance.now();
  const res = await fetch(`${base}/render?${q}`, { headers: { 'X-Auth-Token': '-' } });
  const body = Buffer.from(await res.arrayBuffer());
  const clientMs = performance.now() - t;
  return {
    panelId,
    status: res.status,
    png: body,
    clientMs,
    settled: res.headers.get('x-panelshot-settled') === 'true',
    shared: res.headers.get('x-panelshot-shared') === 'true',
    phases: parseServerTiming(res.headers.get('server-timing') ?? ''),
    ...(res.status === 200 ? {} : { error: body.toString('utf8').slice(0, 300) }),
  };
}

export function parseServerTiming(header: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of header.split(',')) {
    const m = /^\s*([\w-]+)\s*;\s*dur=([\d.]+)/.exec(part);
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}

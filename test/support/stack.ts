// A whole panelshot under test: the Grafana stand-in, the service in this process with a
// real Chrome pool, and its JSON log captured line by line (for the secrets checks).
import http from 'node:http';
import https from 'node:https';
import { Writable } from 'node:stream';
import sharp from 'sharp';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import { startService, type Service } from '../../src/service';
import { startStandin, type Standin, type StandinOptions } from '../standin/grafana';

export interface Stack {
  g: Standin;
  s: Service;
  logs: string[];
  /** GET /render with these query parameters (url is made absolute on the stand-in when it starts with '/'). */
  render(params: Record<string, string>, headers?: Record<string, string>): Promise<Rendered>;
  /** GET /render/csv, likewise. */
  csv(params: Record<string, string>, headers?: Record<string, string>): Promise<Rendered>;
  get(path: string, headers?: Record<string, string>): Promise<Response>;
  stop(): Promise<void>;
}

export interface Rendered {
  status: number;
  headers: Headers;
  body: Buffer;
  json(): { error: string; code: string };
}

export interface StackOptions {
  /**
   * Wait until GET /readyz answers 200 before the first render (default): a render asked
   * before the pool is warm and Grafana accepts our login meets a start-up state, not the
   * behaviour under test, and on a busy machine that state lasts. false for tests of a
   * service that is not ready on purpose (a full Grid, Grafana down).
   */
  ready?: boolean;
  /** Settings that need the stand-in's URL (a jobs file naming its dashboards). */
  envOf?: (g: Standin) => Record<string, string>;
}

/** How long a stack may take to become ready: Chrome start-up on a loaded 2-core machine. */
const READY_TIMEOUT_MS = 90_000;

export async function startStack(env: Record<string, string> = {}, standin: StandinOptions = {}, opts: StackOptions = {}): Promise<Stack> {
  const g = await startStandin(standin);
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logs.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
  const config = loadConfig({
    GRAFANA_URL: g.url,
    GRAFANA_USER: 'admin',
    GRAFANA_PASS: 'admin',
    HTTP_PORT: '0',
    POOL_SIZE: '1',
    LOG_LEVEL: 'debug',
    ...env,
    ...opts.envOf?.(g),
  });
  let s: Service;
  try {
    s = await startService(config, createLogger(config.logLevel, sink));
  } catch (e) {
    await g.close();
    throw e;
  }
  async function call(path: string, params: Record<string, string>, headers: Record<string, string> = { 'X-Auth-Token': '-' }): Promise<Rendered> {
    const q = new URLSearchParams({ ...params, ...(params.url?.startsWith('/') ? { url: g.url + params.url } : {}) });
    const res = await fetch(`${s.url}${path}?${q}`, { headers });
    const body = Buffer.from(await res.arrayBuffer());
    return { status: res.status, headers: res.headers, body, json: () => JSON.parse(body.toString()) };
  }
  const stack: Stack = {
    g,
    s,
    logs,
    render: (params, headers) => call('/render', params, headers),
    csv: (params, headers) => call('/render/csv', params, headers),
    get: (path, headers) => fetch(`${s.url}${path}`, { headers }),
    async stop() {
      await s.stop(2000);
      await g.close();
    },
  };
  if (opts.ready !== false) {
    try {
      await waitReady(`${s.url}/readyz`); // s.url ends with BASE_PATH
    } catch (e) {
      await stack.stop();
      throw e;
    }
  }
  return stack;
}

/**
 * Polls `readyzUrl` until it answers 200; throws with its last answer after `timeoutMs`.
 * Over node:https for a TLS listener with the test CA (a loopback check, not the test).
 */
export async function waitReady(readyzUrl: string, timeoutMs = READY_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { status, body } = await getLoopback(readyzUrl).catch((e: Error) => ({ status: 0, body: e.message }));
    if (status === 200) return;
    if (Date.now() > deadline) throw new Error(`the service did not become ready within ${timeoutMs} ms: ${status} ${body.slice(0, 300)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function getLoopback(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = (url.startsWith('https:') ? https : http).get(url, { rejectUnauthorized: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('no answer in 10 s')));
    req.on('error', reject);
  });
}

export async function pngSize(png: Buffer): Promise<{ width: number; height: number; format?: string }> {
  const m = await sharp(png).metadata();
  return { width: m.width ?? 0, height: m.height ?? 0, format: m.format };
}

/** Share of pixels (0..1) that are identical in two PNGs of the same size. */
export async function equalShare(a: Buffer, b: Buffer): Promise<number> {
  const [ra, rb] = await Promise.all([sharp(a).ensureAlpha().raw().toBuffer({ resolveWithObject: true }), sharp(b).ensureAlpha().raw().toBuffer({ resolveWithObject: true })]);
  if (ra.info.width !== rb.info.width || ra.info.height !== rb.info.height) return 0;
  let same = 0;
  for (let i = 0; i < ra.data.length; i += 4) if (ra.data.readUInt32LE(i) === rb.data.readUInt32LE(i)) same++;
  return same / (ra.data.length / 4);
}

/** Distinct colours in the picture: a blank or spinner-only frame has very few. */
export async function colourCount(png: Buffer): Promise<number> {
  const { data } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const seen = new Set<number>();
  for (let i = 0; i < data.length; i += 3) seen.add((data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!);
  return seen.size;
}

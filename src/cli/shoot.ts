// `panelshot shoot <panel or dashboard URL> --out <dir>`: one panel, or every panel of a
// dashboard, into a directory with manifest.json. Talks to a running panelshot (--server,
// --token) or starts one in this process from the same environment and ./.env. A progress
// bar on a terminal, one plain line per panel otherwise; exit code 1 when any panel failed.
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { Readable } from 'node:stream';
import pino from 'pino';
import { loadConfig } from '../config';
import { createLogger } from '../logger';
import type { PanelOutcome } from '../render/batch';
import { startService, type Service } from '../service';
import { intFlag, parseFlags, UsageError } from './args';

export const SHOOT_USAGE =
  'panelshot shoot <panel or dashboard URL> --out <dir> [--server http://127.0.0.1:8081] [--token T] [--width N] [--height N] [--scale N] [--format png|jpeg|webp] [--quality N] [--timeout S]';

interface Out {
  progress(done: number, total: number, o: PanelOutcome): void;
  end(): void;
}

function reporter(total: () => number): Out {
  if (process.stderr.isTTY) {
    return {
      progress(done, n, o) {
        const width = 30;
        const filled = Math.round((done / Math.max(1, n)) * width);
        const label = o.error ? `panel ${o.id} FAILED` : o.file;
        process.stderr.write(`\r\x1b[K[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${n} ${label}`);
      },
      end() {
        if (total() > 0) process.stderr.write('\n');
      },
    };
  }
  return {
    progress(done, n, o) {
      process.stdout.write(o.error ? `${done}/${n} FAILED panel ${o.id} (${o.title}): ${o.error}\n` : `${done}/${n} ok ${o.file} ${o.ms} ms${o.settled ? '' : ' (not settled)'}\n`);
    },
    end() {},
  };
}

export async function shoot(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    argv,
    {
      out: { type: 'string' },
      server: { type: 'string' },
      token: { type: 'string' },
      width: { type: 'string' },
      height: { type: 'string' },
      scale: { type: 'string' },
      format: { type: 'string' },
      quality: { type: 'string' },
      timeout: { type: 'string' },
    },
    1,
  );
  const target = positionals[0];
  if (!target) throw new UsageError(`a panel or dashboard URL is required: ${SHOOT_USAGE}`);
  if (!values.out) throw new UsageError('--out <dir> is required: where the images and manifest.json go');
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    throw new UsageError(`not an absolute URL: ${target.slice(0, 80)}`);
  }
  const kind = /\/d-solo\//.test(url.pathname) ? 'panel' : /\/d\//.test(url.pathname) ? 'dashboard' : undefined;
  if (!kind) throw new UsageError('the URL must be a Grafana panel (…/d-solo/<uid>/…?panelId=N) or dashboard (…/d/<uid>/…) URL');
  if (values.server !== undefined && !/^https?:\/\/[^/]/.test(values.server)) throw new UsageError(`--server must be an http(s) URL of a running panelshot, got "${values.server.slice(0, 60)}"`);
  intFlag('width', values.width, 1, 1_000_000);
  intFlag('height', values.height, 1, 1_000_000);
  intFlag('quality', values.quality, 1, 100);
  intFlag('timeout', values.timeout, 1, 86_400);
  if (values.format !== undefined && !['png', 'jpeg', 'jpg', 'webp'].includes(values.format)) throw new UsageError(`--format must be png, jpeg or webp, got "${values.format.slice(0, 20)}"`);

  const params = new URLSearchParams({ url: url.toString() });
  for (const [flag, param] of [
    ['width', 'width'],
    ['height', 'height'],
    ['scale', 'deviceScaleFactor'],
    ['format', 'encoding'],
    ['quality', 'quality'],
    ['timeout', 'timeout'],
  ] as const) {
    if (values[flag] !== undefined) params.set(param, values[flag]!);
  }

  let service: Service | undefined;
  let server = values.server?.replace(/\/+$/, '');
  let token = values.token;
  if (!server) {
    // In-process: the same configuration a `panelshot serve` here would use, on a private port.
    const config = loadConfig();
    config.httpHost = '127.0.0.1';
    config.httpPort = 0;
    config.tls = undefined;
    service = await startService(config, createLogger(config.logLevel === 'debug' || config.logLevel === 'trace' ? config.logLevel : 'warn', pino.destination(2)));
    server = service.url;
    token ??= config.authTokens[0];
  }
  fs.mkdirSync(values.out, { recursive: true });
  let total = 0;
  const out = reporter(() => total);
  try {
    const headers = { 'X-Auth-Token': token ?? '-' };
    const started = Date.now();
    const entries: PanelOutcome[] = [];
    let summary: Record<string, unknown> | undefined;
    if (kind === 'dashboard') {
      params.set('format', 'ndjson');
      const res = await fetch(`${server}/render/dashboard?${params}`, { headers });
      if (res.status !== 200) throw new ShootError(await failure(res));
      total = Number(res.headers.get('x-panelshot-panels') ?? 0);
      const lines = readline.createInterface({ input: Readable.fromWeb(res.body as never) });
      for await (const line of lines) {
        if (!line.trim()) continue;
        const m = JSON.parse(line);
        if (m.kind === 'summary') {
          summary = m;
          continue;
        }
        const { kind: _k, image, contentType: _c, ...entry } = m;
        if (image && entry.file) fs.writeFileSync(path.join(values.out, path.basename(entry.file)), Buffer.from(image, 'base64'));
        entries.push(entry);
        out.progress(entries.length, total, entry);
      }
      if (!summary) throw new ShootError(`the server ended the stream after ${entries.length} of ${total} panels`);
    } else {
      total = 1;
      const t = Date.now();
      const res = await fetch(`${server}/render?${params}`, { headers });
      const panelId = url.searchParams.get('panelId') ?? 'panel';
      const entry: PanelOutcome = { id: Number(panelId) || 0, title: '', type: '', file: null, settled: false, ms: 0, error: null };
      if (res.status === 200) {
        const ext = (res.headers.get('content-type') ?? 'image/png').split('/')[1]!.replace('jpeg', 'jpg');
        entry.file = `panel-${panelId.replace(/[^A-Za-z0-9._-]+/g, '_')}.${ext}`;
        const body = Buffer.from(await res.arrayBuffer());
        fs.writeFileSync(path.join(values.out, entry.file), body);
        entry.settled = res.headers.get('x-panelshot-settled') === 'true';
        entry.bytes = body.length;
      } else {
        entry.error = await failure(res);
      }
      entry.ms = Date.now() - t;
      entries.push(entry);
      out.progress(1, 1, entry);
      summary = { panels: 1, failed: entry.error ? 1 : 0 };
    }
    out.end();
    const failed = entries.filter((e) => e.error).length;
    fs.writeFileSync(path.join(values.out, 'manifest.json'), `${JSON.stringify({ ...summary, source: kind, ms: Date.now() - started, entries }, null, 2)}\n`);
    process.stderr.write(`panelshot: ${entries.length - failed} of ${entries.length} panels written to ${values.out}${failed ? `, ${failed} failed (see manifest.json)` : ''}\n`);
    return failed ? 1 : 0;
  } catch (e) {
    out.end();
    if (e instanceof ShootError) {
      process.stderr.write(`panelshot: ${e.message}\n`);
      return 1;
    }
    if ((e as { cause?: { code?: string } }).cause?.code) {
      process.stderr.write(`panelshot: cannot reach ${server} (${(e as { cause: { code: string } }).cause.code})\n`);
      return 1;
    }
    throw e;
  } finally {
    await service?.stop(2000);
  }
}

class ShootError extends Error {}

async function failure(res: Response): Promise<string> {
  const text = await res.text();
  try {
    return `HTTP ${res.status}: ${JSON.parse(text).error}`;
  } catch {
    return `HTTP ${res.status}: ${text.slice(0, 200)}`;
  }
}

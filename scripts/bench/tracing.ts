// --tracing: what OpenTelemetry costs (src/tracing.ts). Two panelshots side by side in one
// run, one without OTEL_* and one exporting to an OTLP/HTTP receiver on loopback (a plain
// HTTP server counting spans, as a collector would receive them), rendering the same panels
// alternately, one render at a time, so both see the same machine. Also their start-up time
// and the resident memory of panelshot's own node process once warm.
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Standin } from '../../test/standin/grafana';
import type { BenchArgs } from './args';
import { render, startPanelshot, type Panelshot } from './panelshot';
import { ms, type Row } from './report';
import { median, percentile } from './stats';

export interface TracingResult {
  renders: number;
  off: { medianMs: number; p90Ms: number; startupMs: number; rssMiB: number; failed: number };
  on: { medianMs: number; p90Ms: number; startupMs: number; rssMiB: number; failed: number; spans: number };
}

const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

export async function measureTracing(g: Standin, args: BenchArgs, log: (m: string) => void): Promise<TracingResult> {
  let spans = 0;
  const receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      spans += (body.match(/"spanId"/g) ?? []).length;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  const started: Panelshot[] = [];
  try {
    const off = await startPanelshot(g.url, 1, args.env);
    started.push(off);
    const on = await startPanelshot(g.url, 1, { ...args.env, OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_SERVICE_NAME: 'panelshot-bench' });
    started.push(on);
    const n = Math.max(4, args.renders);
    log(`tracing: ${n} renders each, alternating, without and with OTEL_EXPORTER_OTLP_ENDPOINT`);
    const times = { off: [] as number[], on: [] as number[] };
    const failed = { off: 0, on: 0 };
    for (let i = 0; i < n; i++) {
      const id = 1 + (i % 8);
      const page = `${g.url}/d-solo/bench/panel-${id}?orgId=1&panelId=${id}&from=now-6h&to=now`;
      // Alternate which goes first, so neither always follows the other's Chrome work.
      for (const which of i % 2 ? (['on', 'off'] as const) : (['off', 'on'] as const)) {
        const r = await render((which === 'on' ? on : off).url, page, id, args.width, args.height);
        if (r.status === 200) times[which].push(r.clientMs);
        else failed[which]++;
      }
    }
    const rss = { off: rssMiB(off.pid), on: rssMiB(on.pid) };
    await on.stop(); // flushes the last batch of spans
    started.pop();
    const summary = (which: 'off' | 'on', p: Panelshot) => ({ medianMs: median(times[which]), p90Ms: percentile(times[which], 90), startupMs: p.startupMs, rssMiB: rss[which], failed: failed[which] });
    return { renders: n, off: summary('off', off), on: { ...summary('on', on), spans } };
  } finally {
    for (const p of started) await p.stop();
    await new Promise((r) => receiver.close(r));
  }
}

export function tracingRows(r: TracingResult): Row[] {
  const pct = (a: number, b: number) => `${a >= b ? '+' : ''}${(((a - b) / b) * 100).toFixed(1)}%`;
  return [
    { metric: `render median, ${r.renders} renders (off / on)`, value: `${ms(r.off.medianMs)} / ${ms(r.on.medianMs)} (${pct(r.on.medianMs, r.off.medianMs)})` },
    { metric: 'render p90 (off / on)', value: `${ms(r.off.p90Ms)} / ${ms(r.on.p90Ms)}` },
    { metric: 'start-up to warm (off / on)', value: `${ms(r.off.startupMs)} / ${ms(r.on.startupMs)}` },
    { metric: 'panelshot node RSS when warm (off / on)', value: `${r.off.rssMiB.toFixed(0)} MiB / ${r.on.rssMiB.toFixed(0)} MiB` },
    { metric: 'spans received (on)', value: `${r.on.spans} (${(r.on.spans / r.renders).toFixed(1)} per render, health checks included)`, pass: r.on.spans >= 7 * r.renders },
    { metric: 'failed renders (off / on)', value: `${r.off.failed} / ${r.on.failed}`, pass: r.off.failed + r.on.failed === 0 },
  ];
}

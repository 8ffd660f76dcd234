// OpenTelemetry (src/tracing.ts): with OTEL_EXPORTER_OTLP_ENDPOINT a render's span reaches a
// real OTLP/HTTP receiver on loopback (a plain HTTP server taking POST /v1/traces, as a
// collector does), continuing the caller's W3C traceparent, with its steps as children; with
// no OTEL_* nothing of OpenTelemetry is loaded; what panelshot cannot honour is refused.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ConfigError } from '../src/config';
import { tracingWanted } from '../src/tracing';
import { pngSize, startStack, type Stack } from './support/stack';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: { key: string; value: Record<string, unknown> }[];
}
interface Received {
  resource: Record<string, unknown>;
  spans: OtlpSpan[];
  contentType: string;
}

/** An OTLP/HTTP receiver: collects what is POSTed to /v1/traces (JSON encoding). */
async function startReceiver(): Promise<{ url: string; got: Received[]; close(): Promise<void> }> {
  const got: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end();
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString());
      for (const rs of body.resourceSpans ?? []) {
        const resource = Object.fromEntries((rs.resource?.attributes ?? []).map((a: { key: string; value: Record<string, unknown> }) => [a.key, Object.values(a.value)[0]]));
        got.push({ resource, spans: rs.scopeSpans.flatMap((s: { spans: OtlpSpan[] }) => s.spans), contentType: String(req.headers['content-type']) });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, got, close: () => new Promise((r) => server.close(() => r())) };
}

const attr = (s: OtlpSpan, key: string) => {
  const v = s.attributes.find((a) => a.key === key)?.value;
  return v && Object.values(v)[0];
};

test('tracingWanted: only with an OTLP endpoint, not when disabled; what cannot be honoured is refused', () => {
  const ep = 'http://127.0.0.1:4318';
  assert.equal(tracingWanted({}), false);
  assert.equal(tracingWanted({ OTEL_SERVICE_NAME: 'x' }), false, 'no endpoint, no traces');
  assert.equal(tracingWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: ep }), true);
  assert.equal(tracingWanted({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${ep}/v1/traces` }), true);
  assert.equal(tracingWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: ep, OTEL_SDK_DISABLED: 'true' }), false);
  assert.equal(tracingWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: ep, OTEL_TRACES_EXPORTER: 'none' }), false);
  assert.throws(() => tracingWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: ep, OTEL_TRACES_EXPORTER: 'zipkin' }), (e: Error) => e instanceof ConfigError && /OTLP\/HTTP only/.test(e.message));
  assert.throws(() => tracingWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: ep, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }), (e: Error) => e instanceof ConfigError && /4318/.test(e.message));
  assert.throws(() => tracingWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: 'not a url' }), ConfigError);
});

test('without OTEL_* no OpenTelemetry module is loaded; with an endpoint the SDK is', () => {
  // A fresh process each: what a module cache holds says what was loaded.
  const probe = (env: Record<string, string>) => {
    const r = spawnSync(
      process.execPath,
      ['--require', require.resolve('tsx/cjs'), '-e', `
        const { startTracing } = require(${JSON.stringify(path.join(__dirname, '../src/tracing.ts'))});
        const logger = { info() {}, warn() {} };
        startTracing('test', logger, ${JSON.stringify(env)}).then(async (t) => {
          const loaded = Object.keys(require.cache).filter((k) => k.includes('@opentelemetry')).length;
          await t?.shutdown();
          console.log(JSON.stringify({ on: Boolean(t), loaded }));
        });`],
      { encoding: 'utf8', timeout: 20_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout.trim().split('\n').pop()!) as { on: boolean; loaded: number };
  };
  assert.deepEqual(probe({}), { on: false, loaded: 0 });
  const on = probe({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' });
  assert.equal(on.on, true);
  assert.ok(on.loaded > 10, `the SDK's modules are loaded when asked for (${on.loaded})`);
});

describe('a render with a traceparent, exported to an OTLP/HTTP receiver', () => {
  let st: Stack;
  let rx: Awaited<ReturnType<typeof startReceiver>>;
  before(async () => {
    rx = await startReceiver();
    // The SDK reads the standard variables from the environment, as in production.
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = rx.url;
    process.env.OTEL_SERVICE_NAME = 'panelshot-test';
    try {
      st = await startStack();
    } finally {
      delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
      delete process.env.OTEL_SERVICE_NAME;
    }
  });
  after(async () => {
    await st?.stop().catch(() => undefined);
    await rx?.close();
  });

  test('one SERVER span continuing the traceparent, children queue → encode in order, nothing secret', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const parentId = '00f067aa0ba902b7';
    const r = await st.render({ url: '/d-solo/abc123/node-exporter?orgId=1&panelId=2', width: '600', height: '300' }, {
      'X-Auth-Token': '-',
      traceparent: `00-${traceId}-${parentId}-01`,
    });
    assert.equal(r.status, 200, r.body.toString().slice(0, 300));
    assert.deepEqual(await pngSize(r.body), { width: 600, height: 300, format: 'png' });
    // A request without traceparent starts a trace of its own; a refused one says why.
    assert.equal((await st.get('/healthz')).status, 200);
    assert.equal((await st.render({ url: '/d-solo/abc123/node-exporter', width: 'wide' })).status, 400);
    await st.stop(); // flushes the batch

    const spans = rx.got.flatMap((g) => g.spans);
    assert.ok(rx.got.every((g) => g.resource['service.name'] === 'panelshot-test'), 'OTEL_SERVICE_NAME is honoured');
    assert.ok(rx.got.every((g) => g.contentType.startsWith('application/json')));
    const server = spans.find((s) => s.name === 'GET /render' && attr(s, 'http.response.status_code') === 200);
    assert.ok(server, `a GET /render span among ${spans.map((s) => s.name).join(', ')}`);
    assert.equal(server.traceId, traceId, 'the trace Grafana started');
    assert.equal(server.parentSpanId, parentId, "Grafana's span is the parent");
    assert.equal(server.kind, 2, 'SPAN_KIND_SERVER');
    assert.equal(attr(server, 'http.response.status_code'), 200);
    assert.equal(attr(server, 'panelshot.auth'), 'session');
    const children = spans.filter((s) => s.parentSpanId === server.spanId).sort((a, b) => Number(BigInt(a.startTimeUnixNano) - BigInt(b.startTimeUnixNano)));
    assert.deepEqual(children.map((c) => c.name), ['queue', 'login', 'navigate', 'data wait', 'stability', 'encode']);
    assert.ok(children.every((c) => c.traceId === traceId));
    // Each step begins where the one before ended, all inside the request's span.
    for (let i = 1; i < children.length; i++) assert.equal(children[i]!.startTimeUnixNano, children[i - 1]!.endTimeUnixNano);
    assert.ok(BigInt(children[0]!.startTimeUnixNano) >= BigInt(server.startTimeUnixNano));
    assert.ok(BigInt(children.at(-1)!.endTimeUnixNano) <= BigInt(server.endTimeUnixNano));
    const navigate = children.find((c) => c.name === 'navigate')!;
    assert.ok(BigInt(navigate.endTimeUnixNano) > BigInt(navigate.startTimeUnixNano), 'navigating took time');

    const health = spans.find((s) => s.name === 'GET /healthz');
    assert.ok(health && health.traceId !== traceId && !health.parentSpanId, 'a request without traceparent is a root span');
    const refused = spans.find((s) => s.name === 'GET /render' && attr(s, 'http.response.status_code') === 400);
    assert.ok(refused && attr(refused, 'panelshot.outcome') === 'bad_request', 'the 400 has its span, with the reason code');
    assert.ok(!spans.some((s) => s.parentSpanId === refused.spanId), 'and no steps: nothing was rendered');
    const all = JSON.stringify(rx.got);
    assert.ok(!all.includes('node-exporter'), 'the query string (where Grafana puts the renderKey) never reaches the traces');
    assert.ok(!all.includes('admin'), 'nor the Grafana password');
  });
});

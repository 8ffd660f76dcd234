// OpenTelemetry traces, only when the operator asks for them with the standard variables
// (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT; OTEL_SERVICE_NAME,
// OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_HEADERS/TIMEOUT/COMPRESSION, OTEL_TRACES_SAMPLER
// and _ARG, OTEL_SDK_DISABLED, OTEL_TRACES_EXPORTER=none). Without them nothing of the SDK is
// even loaded: the @opentelemetry modules are required here, lazily, and nowhere else.
//
// One SERVER span per HTTP request, continuing the W3C `traceparent` Grafana sends with each
// render request, and for a render one child span per step the renderer already times
// (RenderTimings): queue, login, navigate, data wait, stability, encode. The steps run one
// after the other, so each child starts where the one before ended; they are made when the
// answer is sent, from the measured times, which keeps the render path free of tracing code.
// Never recorded: the query string (it holds Grafana's renderKey), headers, cookies.
import type { RequestHandler } from 'express';
import { ConfigError } from './config';
import type { Logger } from './logger';
import type { CsvTimings, RenderTimings } from './render/types';

/** What a route leaves in res.locals.render for the request's span. */
export interface RenderSpanInfo {
  arrivedAt: number;
  timings: Partial<RenderTimings & CsvTimings>;
  auth?: string;
  outcome?: string;
}

export interface Tracing {
  /** Express middleware: one span per request (installed only when tracing is on). */
  middleware: RequestHandler;
  /** Sends what is still buffered; after it no span is recorded. */
  shutdown(): Promise<void>;
}

/** The steps of a render, in the order they run, as RenderTimings names them. */
const STEPS: [name: string, key: keyof RenderSpanInfo['timings']][] = [
  ['queue', 'queueMs'],
  ['login', 'authMs'],
  ['navigate', 'navigateMs'],
  ['data wait', 'dataMs'],
  ['stability', 'stableMs'],
  ['download', 'downloadMs'],
  ['encode', 'encodeMs'],
];

/**
 * Whether the environment asks for traces. A setting panelshot cannot honour (another
 * exporter, gRPC) is a configuration error, not a silent loss of traces.
 */
export function tracingWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') return false;
  const exporter = (env.OTEL_TRACES_EXPORTER ?? 'otlp').trim().toLowerCase() || 'otlp';
  if (exporter === 'none') return false;
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (!endpoint) return false;
  if (exporter !== 'otlp') throw new ConfigError(`OTEL_TRACES_EXPORTER=${exporter}: panelshot exports traces over OTLP/HTTP only ("otlp", or "none" for no traces)`);
  const protocol = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL || env.OTEL_EXPORTER_OTLP_PROTOCOL || 'http/protobuf').trim();
  if (protocol === 'grpc') throw new ConfigError('OTEL_EXPORTER_OTLP_PROTOCOL=grpc: panelshot exports traces over OTLP/HTTP (http/json); point it at the receiver\'s HTTP port (4318)');
  try {
    new URL(endpoint);
  } catch {
    throw new ConfigError(`OTEL_EXPORTER_OTLP_${env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ? 'TRACES_' : ''}ENDPOINT is not a URL`);
  }
  return true;
}

type SdkTrace = typeof import('@opentelemetry/sdk-trace');

/** The SDK, required here and only when traces are asked for (require: loaded at that moment, once). */
function loadSdk() {
  return [
    require('@opentelemetry/api') as typeof import('@opentelemetry/api'),
    require('@opentelemetry/core') as typeof import('@opentelemetry/core'),
    require('@opentelemetry/sdk-trace') as SdkTrace,
    require('@opentelemetry/resources') as typeof import('@opentelemetry/resources'),
    require('@opentelemetry/exporter-trace-otlp-http') as typeof import('@opentelemetry/exporter-trace-otlp-http'),
  ] as const;
}

function sampler(sdk: SdkTrace, env: NodeJS.ProcessEnv) {
  const name = (env.OTEL_TRACES_SAMPLER ?? 'parentbased_always_on').trim().toLowerCase();
  const ratio = Number(env.OTEL_TRACES_SAMPLER_ARG ?? '1');
  if (name.includes('traceidratio') && !(ratio >= 0 && ratio <= 1)) throw new ConfigError('OTEL_TRACES_SAMPLER_ARG must be a ratio between 0 and 1');
  const root = { always_on: new sdk.AlwaysOnSampler(), always_off: new sdk.AlwaysOffSampler(), traceidratio: new sdk.TraceIdRatioBasedSampler(ratio) };
  switch (name) {
    case 'always_on':
    case 'always_off':
    case 'traceidratio':
      return root[name];
    case 'parentbased_always_on':
    case 'parentbased_always_off':
    case 'parentbased_traceidratio':
      return new sdk.ParentBasedSampler({ root: root[name.slice('parentbased_'.length) as keyof typeof root] });
    default:
      throw new ConfigError(`OTEL_TRACES_SAMPLER=${name} is not supported (always_on, always_off, traceidratio or their parentbased_ forms)`);
  }
}

/** Undefined (and nothing loaded) unless the environment asks for traces. */
export async function startTracing(version: string, logger: Logger, env: NodeJS.ProcessEnv = process.env): Promise<Tracing | undefined> {
  if (!tracingWanted(env)) return undefined;
  const [api, core, sdk, resources, otlp] = loadSdk();
  // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win over our defaults.
  const resource = resources
    .resourceFromAttributes({ 'service.name': 'panelshot', 'service.version': version })
    .merge(resources.detectResources({ detectors: [resources.envDetector] }));
  const exporter = new otlp.OTLPTraceExporter();
  const provider = new sdk.TracerProvider({ resource, sampler: sampler(sdk, env), spanProcessors: [new sdk.BatchSpanProcessor({ exporter })] });
  const tracer = provider.getTracer('panelshot', version);
  const propagator = new core.W3CTraceContextPropagator();
  api.diag.setLogger({
    error: (msg) => logger.warn({ event: 'otel_error' }, `OpenTelemetry: ${String(msg).slice(0, 300)}`),
    warn: (msg) => logger.warn({ event: 'otel_warning' }, `OpenTelemetry: ${String(msg).slice(0, 300)}`),
    info: () => undefined,
    debug: () => undefined,
    verbose: () => undefined,
  }, api.DiagLogLevel.WARN);
  logger.info({ event: 'tracing', endpoint: safeEndpoint(env) }, 'exporting OpenTelemetry traces over OTLP/HTTP');

  const middleware: RequestHandler = (req, res, next) => {
    const start = Date.now();
    const parent = propagator.extract(api.ROOT_CONTEXT, req.headers, api.defaultTextMapGetter);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      const status = res.writableFinished ? res.statusCode : 499; // 499: the client went away first
      const route = req.route?.path ? `${req.baseUrl}${req.route.path as string}` : undefined;
      const info = res.locals.render as RenderSpanInfo | undefined;
      const spanStart = Math.min(start, info?.arrivedAt ?? start);
      const span = tracer.startSpan(
        route ? `${req.method} ${route}` : req.method,
        {
          kind: api.SpanKind.SERVER,
          startTime: spanStart,
          attributes: {
            'http.request.method': req.method,
            'url.path': req.path,
            'http.response.status_code': status,
            ...(route ? { 'http.route': route } : {}),
            ...(res.get('x-request-id') ? { 'panelshot.request_id': res.get('x-request-id') } : {}),
            ...(info?.auth ? { 'panelshot.auth': info.auth } : {}),
            ...((info?.outcome ?? res.locals.outcome) ? { 'panelshot.outcome': String(info?.outcome ?? res.locals.outcome) } : {}),
          },
        },
        parent,
      );
      if (status >= 500) span.setStatus({ code: api.SpanStatusCode.ERROR, message: `HTTP ${status}${res.locals.outcome ? ` ${String(res.locals.outcome)}` : ''}` });
      if (info) {
        const ctx = api.trace.setSpan(parent, span);
        let at = info.arrivedAt;
        for (const [name, key] of STEPS) {
          const ms = info.timings[key];
          if (typeof ms !== 'number') continue;
          tracer.startSpan(name, { startTime: at }, ctx).end(at + Math.max(0, ms));
          at += Math.max(0, ms);
        }
      }
      span.end(Math.max(Date.now(), spanStart));
    };
    res.on('finish', finish);
    res.on('close', finish);
    next();
  };

  return {
    middleware,
    shutdown: () => provider.shutdown().catch((e: unknown) => logger.warn({ event: 'otel_error', err: String((e as Error)?.message ?? e).slice(0, 300) }, 'OpenTelemetry: flushing the last spans failed')),
  };
}

/** The endpoint for the log, without credentials or query. */
function safeEndpoint(env: NodeJS.ProcessEnv): string {
  try {
    const u = new URL((env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT)!);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(unparsable)';
  }
}

// The deployment examples in docs/deploy/ (docker-compose, Kubernetes) must agree with the
// code: env names from the config table and accepted by it, probes on /readyz and /healthz,
// ports that match HTTP_PORT, a Grid sized for POOL_SIZE × replicas, a drain that fits.
// No Docker or Kubernetes here: the YAML is parsed (package `yaml`), every Kubernetes object
// is validated against the API's JSON schema (package `kubernetes-models`, generated from
// Kubernetes' OpenAPI spec), and the fields that matter are checked against the code. The
// image and compose file run for real in scripts/container-e2e.sh (podman).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { KEYS, loadConfig } from '../src/config';

const dir = path.resolve(__dirname, '../docs/deploy');
/** main.ts gives in-flight renders this long after SIGTERM. */
const DRAIN_GRACE_S = 20;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed YAML, checked field by field below
type Doc = Record<string, any>;

function k8s(file: string): Doc[] {
  return parseAllDocuments(fs.readFileSync(path.join(dir, 'kubernetes', file), 'utf8')).map((d) => {
    assert.deepEqual(d.errors, [], `${file}: YAML errors`);
    return d.toJS() as Doc;
  });
}

/** The env a container would get, secrets replaced by stand-ins, checked by the real loader. */
function assertAccepted(env: Record<string, string>, where: string): void {
  for (const name of Object.keys(env)) assert.ok(name in KEYS, `${where}: ${name} is not a panelshot setting`);
  const filled = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v.replace(/\$\{[^}]+\}/g, 'stand-in-secret-123')]));
  assert.doesNotThrow(() => loadConfig(filled), `${where}: the configuration is refused`);
}

test('Kubernetes: every object is valid against the API schema', async () => {
  // Each model class takes its own object type; here they all get parsed YAML.
  const models = {
    ...(await import('kubernetes-models/apps/v1')),
    ...(await import('kubernetes-models/v1')),
    ...(await import('kubernetes-models/policy/v1')),
  } as unknown as Record<string, new (d: Doc) => { validate(): void }>;
  const docs = [...k8s('panelshot.yaml'), ...k8s('grid.yaml')];
  assert.deepEqual([...new Set(docs.map((d) => d.kind))].sort(), ['Deployment', 'PodDisruptionBudget', 'Service']);
  for (const d of docs) {
    const Model = models[d.kind]!;
    assert.doesNotThrow(() => new Model(d).validate(), `${d.kind} ${d.metadata?.name}`);
  }
  // The validator catches what a typo does.
  const broken = structuredClone(docs.find((d) => d.kind === 'Deployment')!);
  broken.spec.template.spec.containers[0].ports[0].containerPort = 'http';
  assert.throws(() => new models.Deployment!(broken).validate(), /containerPort must be integer/);
});

test('Kubernetes: probes, ports, env names, rollout and Grid size agree with the code', () => {
  const docs = [...k8s('panelshot.yaml'), ...k8s('grid.yaml')];
  const find = (kind: string, name: string) => docs.find((d) => d.kind === kind && d.metadata?.name === name)!;
  const dep = find('Deployment', 'panelshot');
  const c = dep.spec.template.spec.containers[0];
  const env: Record<string, string> = Object.fromEntries(c.env.map((e: Doc) => [e.name, e.value ?? '${secret}']));
  assertAccepted(env, 'panelshot.yaml');
  const port = c.ports.find((p: Doc) => p.name === 'http').containerPort;
  assert.equal(String(port), env.HTTP_PORT);
  assert.notEqual(env.HTTP_HOST, '127.0.0.1', 'a pod must listen beyond loopback');
  assert.deepEqual([c.readinessProbe.httpGet.path, c.readinessProbe.httpGet.port], ['/readyz', 'http']);
  assert.deepEqual([c.livenessProbe.httpGet.path, c.livenessProbe.httpGet.port], ['/healthz', 'http']);
  assert.ok(c.resources.requests.cpu && c.resources.requests.memory, 'resource requests are set');
  // The image's user (docs/deploy/Dockerfile), and Kubernetes holds it to that.
  assert.equal(c.securityContext.runAsNonRoot, true);
  assert.match(fs.readFileSync(path.join(dir, 'Dockerfile'), 'utf8'), new RegExp(`--uid ${c.securityContext.runAsUser} `));
  assert.ok(dep.spec.template.spec.terminationGracePeriodSeconds > DRAIN_GRACE_S, 'Kubernetes waits longer than panelshot drains');
  assert.equal(dep.spec.strategy.rollingUpdate.maxUnavailable, 0);
  const svc = find('Service', 'panelshot');
  assert.equal(svc.spec.ports[0].targetPort, 'http');
  assert.deepEqual(svc.spec.selector, dep.spec.selector.matchLabels);
  const pdb = find('PodDisruptionBudget', 'panelshot');
  assert.ok(pdb.spec.minAvailable < dep.spec.replicas);
  assert.deepEqual(pdb.spec.selector.matchLabels, dep.spec.selector.matchLabels);

  // The Grid is a Deployment of its own, reachable where SELENIUM_REMOTE_URL points, and big enough.
  const hubSvc = find('Service', 'selenium-hub');
  const gridUrl = new URL(env.SELENIUM_REMOTE_URL!);
  assert.equal(gridUrl.hostname, hubSvc.metadata.name);
  assert.ok(hubSvc.spec.ports.some((p: Doc) => String(p.port) === gridUrl.port));
  const nodes = find('Deployment', 'selenium-node-chromium');
  const nodeEnv: Record<string, string> = Object.fromEntries(nodes.spec.template.spec.containers[0].env.map((e: Doc) => [e.name, e.value]));
  const slots = Number(nodeEnv.SE_NODE_MAX_SESSIONS) * nodes.spec.replicas;
  assert.ok(Number(env.POOL_SIZE) * dep.spec.replicas <= slots, `POOL_SIZE × replicas fits ${slots} Grid slots`);
  // Idle sessions are pinged every 20 s (HEARTBEAT in src/browser/pool.ts): the node must keep them longer.
  assert.ok(Number(nodeEnv.SE_NODE_SESSION_TIMEOUT) > 20);
});

/** A cycle in depends_on (Docker Compose refuses such a file), as the path around it. */
function dependsCycle(services: Doc): string[] | undefined {
  const deps = (name: string): string[] => {
    const d = services[name]?.depends_on ?? [];
    return Array.isArray(d) ? d : Object.keys(d);
  };
  const state = new Map<string, 'open' | 'done'>();
  const visit = (name: string, path: string[]): string[] | undefined => {
    if (state.get(name) === 'open') return [...path.slice(path.indexOf(name)), name];
    if (state.get(name) === 'done') return undefined;
    state.set(name, 'open');
    for (const d of deps(name)) {
      const cycle = visit(d, [...path, name]);
      if (cycle) return cycle;
    }
    state.set(name, 'done');
    return undefined;
  };
  for (const name of Object.keys(services)) {
    const cycle = visit(name, []);
    if (cycle) return cycle;
  }
  return undefined;
}

test('docker-compose: no depends_on cycle, a healthcheck every compose tool reads, an offline override that only swaps images', () => {
  // The detector itself, on the cycle the file once had (list and map forms).
  assert.deepEqual(dependsCycle({ panelshot: { depends_on: ['grafana'] }, grafana: { depends_on: { nginx: { condition: 'service_started' } } }, nginx: { depends_on: ['panelshot'] } }), ['panelshot', 'grafana', 'nginx', 'panelshot']);
  assert.equal(dependsCycle({ a: { depends_on: ['b'] }, b: {} }), undefined);

  const s = (parse(fs.readFileSync(path.join(dir, 'docker-compose.yml'), 'utf8')) as Doc).services;
  const cycle = dependsCycle(s);
  assert.equal(cycle, undefined, `depends_on cycle: ${cycle?.join(' → ')}`);
  for (const [name, svc] of Object.entries(s as Doc)) {
    for (const d of Array.isArray(svc.depends_on) ? svc.depends_on : Object.keys(svc.depends_on ?? {})) assert.ok(s[d], `${name} depends on a service that exists (${d})`);
    // podman-compose 1.0.3 rejects list forms it does not know; the string form is read by all.
    if (svc.healthcheck) assert.equal(typeof svc.healthcheck.test, 'string', `${name}: healthcheck.test as a string`);
  }
  assert.match(s.panelshot.healthcheck.test, /\/healthz/);

  const offline = (parse(fs.readFileSync(path.join(dir, 'docker-compose.offline.yml'), 'utf8')) as Doc).services;
  for (const [name, svc] of Object.entries(offline as Doc)) {
    assert.ok(s[name], `the override names an existing service (${name})`);
    assert.ok(!('environment' in svc) && !('depends_on' in svc) && !('deploy' in svc), `${name}: the override swaps images, not settings`);
    assert.match(svc.image, /^(localhost\/|docker\.io\/library\/node:20-bookworm-slim$)/, `${name}: a local image`);
  }
  assert.ok(!offline.panelshot, 'panelshot runs its own image (PANELSHOT_IMAGE)');
});

test('Dockerfile: the base users pull, Debian\'s Chrome, tini, non-root, HEALTHCHECK on /healthz, HTTP_HOST on all interfaces', () => {
  const df = fs.readFileSync(path.join(dir, 'Dockerfile'), 'utf8');
  const from = [...df.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
  assert.deepEqual(from, ['node:20-bookworm-slim', 'node:20-bookworm-slim']);
  for (const pkg of ['chromium-headless-shell', 'tini', 'fonts-noto-color-emoji', 'fonts-wqy-microhei', 'chromium-driver']) assert.ok(df.includes(pkg), pkg);
  assert.match(df, /^USER panelshot/m);
  assert.match(df, /^HEALTHCHECK .*\n?.*\/healthz/m);
  assert.match(df, /HTTP_HOST=0\.0\.0\.0/);
  assert.match(df, /^ENTRYPOINT \["\/usr\/bin\/tini", "--", "node", "\/opt\/panelshot\/dist\/main\.js"\]/m);
  // The build's proxy CA argument stays in the build stage.
  const runtime = df.slice(df.lastIndexOf('\nFROM '));
  assert.ok(!runtime.includes('NODE_EXTRA_CA_CERTS'), 'no build-only setting in the image');
  // Every ENV key the image sets is a panelshot setting or Node's own.
  const env = [...runtime.matchAll(/^ENV ([\s\S]*?)(?:\n(?!\s))/gm)].flatMap((m) => [...m[1]!.matchAll(/([A-Z_]+)=/g)].map((k) => k[1]!));
  for (const k of env) assert.ok(k in KEYS || ['NODE_ENV', 'TMPDIR', 'HOME'].includes(k), `ENV ${k}`);
  assert.ok(env.includes('HTTP_HOST'));
});

test('docker-compose: hub, nodes, replicas behind nginx (least_conn) and Grafana, agreeing with the code', () => {
  const compose = parse(fs.readFileSync(path.join(dir, 'docker-compose.yml'), 'utf8')) as Doc;
  const s = compose.services;
  for (const name of ['selenium-hub', 'chromium-node', 'panelshot', 'nginx', 'grafana']) assert.ok(s[name], `service ${name}`);
  const env = s.panelshot.environment as Record<string, string>;
  assertAccepted(env, 'docker-compose.yml');
  assert.equal(new URL(env.SELENIUM_REMOTE_URL!).hostname, 'selenium-hub');
  assert.ok(s.panelshot.deploy.replicas >= 2);
  const slots = Number(s['chromium-node'].environment.SE_NODE_MAX_SESSIONS) * s['chromium-node'].deploy.replicas;
  assert.ok(Number(env.POOL_SIZE) * s.panelshot.deploy.replicas <= slots);
  assert.ok(parseInt(s.panelshot.stop_grace_period, 10) > DRAIN_GRACE_S);
  const conf = fs.readFileSync(path.join(dir, 'nginx-replicas.conf'), 'utf8');
  assert.match(conf, /least_conn;/);
  assert.match(conf, new RegExp(`server panelshot:${env.HTTP_PORT}\\b`));
  assert.ok(s.nginx.volumes.some((v: string) => v.startsWith('./nginx-replicas.conf:')));
  assert.equal(s.grafana.environment.GF_RENDERING_RENDERER_TOKEN, env.AUTH_TOKEN);
});

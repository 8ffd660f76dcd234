// The deployment examples in docs/deploy/ (docker-compose, Kubernetes) must agree with the
// code: env names from the config table and accepted by it, probes on /readyz and /healthz,
// ports that match HTTP_PORT, a Grid sized for POOL_SIZE × replicas, a drain that fits.
// No Docker or Kubernetes here: the YAML is parsed and checked (package `yaml`).
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

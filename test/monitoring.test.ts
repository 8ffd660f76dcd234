// panelshot's own dashboard (docs/monitoring/grafana-dashboard.json) and alerting rules
// (docs/monitoring/prometheus-rules.yml): every metric and label they name is one a live
// panelshot's GET /metrics exposes (after a real render), the rules pass Debian's
// `promtool check rules`, and their unit tests (test/promtool/rules-test.yml) show each
// alert firing on the series that should raise it and not on healthy ones.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { PanelshotError, toHttp, type ErrorCode } from '../src/errors';
import { startStack, type Stack } from './support/stack';

const root = path.resolve(__dirname, '..');
const rulesFile = path.join(root, 'docs/monitoring/prometheus-rules.yml');
const dashboard = JSON.parse(fs.readFileSync(path.join(root, 'docs/monitoring/grafana-dashboard.json'), 'utf8'));
const rules = parse(fs.readFileSync(rulesFile, 'utf8')).groups.flatMap((g: { rules: { alert: string; expr: string }[] }) => g.rules);

function promtool(...args: string[]) {
  const r = spawnSync('promtool', args, { encoding: 'utf8', cwd: root, timeout: 20_000 });
  assert.ok(!r.error, `promtool could not run (${r.error?.message}): bash scripts/setup.sh --test installs Debian's prometheus package, which has it`);
  return r;
}

test('promtool check rules and promtool test rules pass', () => {
  const check = promtool('check', 'rules', rulesFile);
  assert.equal(check.status, 0, check.stdout + check.stderr);
  assert.match(check.stdout, new RegExp(`SUCCESS: ${rules.length} rules found`));
  const unit = promtool('test', 'rules', 'test/promtool/rules-test.yml');
  assert.equal(unit.status, 0, unit.stdout + unit.stderr);
  // Every alert has a unit test.
  const tested = fs.readFileSync(path.join(root, 'test/promtool/rules-test.yml'), 'utf8');
  for (const r of rules) assert.match(tested, new RegExp(`alertname: ${r.alert}\\b`), `${r.alert} has a promtool test`);
});

/** Every `panelshot_…{matchers}` in a PromQL expression: name, and its label matchers. */
function selectors(expr: string): { name: string; labels: { label: string; op: string; value: string }[] }[] {
  const out = [];
  for (const m of expr.matchAll(/\b(panelshot_[a-z0-9_]+)(\{([^}]*)\})?/g)) {
    const labels = [...(m[3] ?? '').matchAll(/([a-z_]+)\s*(=~|!~|!=|=)\s*"([^"]*)"/g)].map((l) => ({ label: l[1]!, op: l[2]!, value: l[3]! }));
    out.push({ name: m[1]!, labels });
  }
  return out;
}

describe('dashboard and rules against a live /metrics', () => {
  let st: Stack;
  /** Sample name → label name → values seen. */
  const live = new Map<string, Map<string, Set<string>>>();
  before(async () => {
    st = await startStack();
    const r = await st.render({ url: '/d-solo/abc123/node-exporter?orgId=1&panelId=2', width: '300', height: '200' });
    assert.equal(r.status, 200);
    // A refused request, so the error counter has a sample with its labels.
    assert.equal((await st.render({ url: '/d-solo/abc123/node-exporter', width: 'wide' })).status, 400);
    const text = await (await st.get('/metrics')).text();
    // Every family, samples or not (a counter with labels has none until it counts).
    for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      const names = m[2] === 'histogram' ? ['_bucket', '_count', '_sum'].map((s) => m[1]! + s) : [m[1]!];
      for (const n of names) if (!live.has(n)) live.set(n, new Map());
    }
    for (const line of text.split('\n')) {
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? /.exec(line);
      if (!m) continue;
      const labels = live.get(m[1]!) ?? new Map<string, Set<string>>();
      live.set(m[1]!, labels);
      for (const l of (m[3] ?? '').matchAll(/([a-zA-Z_]+)="([^"]*)"/g)) {
        const values = labels.get(l[1]!) ?? new Set<string>();
        values.add(l[2]!);
        labels.set(l[1]!, values);
      }
    }
  });
  after(() => st?.stop());

  /** The values a label can take: error codes for outcome/code, otherwise what /metrics shows. */
  function known(name: string, label: string, value: string): boolean {
    if (label === 'outcome' || label === 'code') {
      if (['ok', 'unsettled'].includes(value) && label === 'outcome') return true;
      return toHttp(new PanelshotError(value as ErrorCode, 'probe')).status !== undefined;
    }
    return live.get(name)?.get(label)?.has(value) ?? false;
  }

  function assertExists(where: string, expr: string) {
    const found = selectors(expr);
    assert.ok(found.length > 0, `${where}: names no panelshot metric`);
    for (const s of found) {
      assert.ok(live.has(s.name), `${where}: ${s.name} is not on /metrics`);
      for (const l of s.labels) {
        // Prometheus adds job and instance when it scrapes.
        if (l.label === 'job' || l.label === 'instance') continue;
        assert.ok(live.get(s.name)!.size > 0, `${where}: ${s.name} has no sample to check {${l.label}…} against (make one in before())`);
        assert.ok(live.get(s.name)!.has(l.label), `${where}: ${s.name} has no label ${l.label}`);
        if (l.op === '=' || l.op === '!=') assert.ok(known(s.name, l.label, l.value), `${where}: ${s.name}{${l.label}="${l.value}"} never occurs`);
        else for (const v of l.value.split('|')) assert.ok(known(s.name, l.label, v), `${where}: ${s.name}{${l.label}=~"…${v}…"} never occurs`);
      }
    }
    return found.length;
  }

  test('every query of the dashboard names metrics and labels that /metrics exposes', () => {
    const panels = dashboard.panels.filter((p: { type: string }) => p.type !== 'row');
    const titles = panels.map((p: { title: string }) => p.title.toLowerCase()).join(' | ');
    for (const want of ['outcome', 'latency', 'queue', 'pool', 'memory', 'recycles', 'logins']) assert.ok(titles.includes(want), `a panel for ${want}: ${titles}`);
    let n = 0;
    for (const p of panels) for (const t of p.targets) n += assertExists(`panel "${p.title}"`, t.expr);
    for (const v of dashboard.templating.list.filter((v: { type: string }) => v.type === 'query')) n += assertExists(`variable ${v.name}`, v.definition);
    assert.ok(n >= 15, `${n} selectors checked`);
    // Importable anywhere: the data source is a variable, not one Grafana's uid.
    assert.ok(panels.every((p: { datasource: { uid: string } }) => p.datasource.uid === '${datasource}'));
  });

  test('every alert names metrics and labels that /metrics exposes', () => {
    for (const r of rules) assertExists(`alert ${r.alert}`, r.expr);
    assert.deepEqual(rules.map((r: { alert: string }) => r.alert).sort(), ['PanelshotGrafanaLoginFailing', 'PanelshotMemoryCeilingUnmet', 'PanelshotQueueFull', 'PanelshotRendersFailing', 'PanelshotSessionsMissing']);
  });
});

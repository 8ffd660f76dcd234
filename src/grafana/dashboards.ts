// A dashboard's panel list, as Grafana shows it: the model from
// `GET /api/dashboards/uid/<uid>` (with panelshot's own session or token, never a caller's
// renderKey), rows opened (a collapsed row's panels too) and repeats expanded, each panel
// addressed as its own d-solo page.
//
// Repeated panels: Grafana's clone keys (`panel-15-clone-1`) depend on the version and on
// the order of the variable's options (grafana#107371, #109839), so a clone is addressed
// instead as its source panel with the repeat variable pinned to one value:
// `d-solo/<uid>/<slug>?panelId=15&var-host=web-2`. That page draws exactly that clone, on
// every Grafana version that has d-solo.
import type { AxiosInstance } from 'axios';
import { badRequest, grafanaAuthRejected, grafanaUnreachable, notFound, PanelshotError } from '../errors';
import type { GrafanaLogin } from './login';

export interface PanelJob {
  id: number;
  title: string;
  type: string;
  /** Unique file name stem within the batch: panel-<id>, or panel-<id>-<value> for repeats. */
  key: string;
  /** Repeat variables pinned for this copy, e.g. { host: 'web-2' }. */
  vars: Record<string, string>;
  url: URL;
}

export interface DashboardPanels {
  uid: string;
  title: string;
  panels: PanelJob[];
}

interface PanelModel {
  id?: number;
  title?: string;
  type?: string;
  gridPos?: { x?: number; y?: number };
  collapsed?: boolean;
  panels?: PanelModel[];
  repeat?: string;
}

interface VariableModel {
  name?: string;
  current?: { value?: string | string[] };
  options?: { value?: string }[];
}

export interface GrafanaApiDeps {
  grafanaUrl: URL;
  http: AxiosInstance;
  login?: GrafanaLogin;
  token?: string;
}

/** The uid of a dashboard URL (`<GRAFANA_URL>d/<uid>/<slug>?…`), or a 400. */
export function dashboardUid(url: URL, grafanaUrl: URL): string {
  const base = grafanaUrl.pathname;
  const m = url.pathname.startsWith(base) ? /^d\/([^/]+)(?:\/[^/]*)?\/?$/.exec(url.pathname.slice(base.length)) : null;
  if (!m) throw badRequest(`url must be a dashboard URL such as ${grafanaUrl.origin}${base}d/<uid>/<slug>, got path ${url.pathname.slice(0, 80)}`);
  return decodeURIComponent(m[1]!);
}

export async function fetchDashboard(d: GrafanaApiDeps, uid: string, orgId: string | null): Promise<{ dashboard: { title?: string; panels?: PanelModel[]; templating?: { list?: VariableModel[] } }; meta?: { slug?: string } }> {
  const path = `api/dashboards/uid/${encodeURIComponent(uid)}`;
  const headers: Record<string, string> = orgId && /^\d{1,9}$/.test(orgId) ? { 'X-Grafana-Org-Id': orgId } : {};
  let res;
  try {
    // The same precedence as the renderer: the token, else our login, else anonymous.
    if (d.login && !d.token) res = await d.login.apiGet(path, headers);
    else {
      const auth: Record<string, string> = d.token ? { Authorization: `Bearer ${d.token}` } : {};
      res = await d.http.get(new URL(path, d.grafanaUrl).toString(), { headers: { ...headers, ...auth, Accept: 'application/json' }, timeout: 10_000, maxRedirects: 0, validateStatus: () => true });
    }
  } catch (e) {
    // The login's own answer already says what went wrong (e.g. "… (ECONNREFUSED)").
    if (e instanceof PanelshotError) throw e;
    if ((e as { code?: string }).code && !(e as { status?: number }).status) throw grafanaUnreachable(`cannot reach Grafana at ${d.grafanaUrl.origin} (${(e as { code?: string }).code})`);
    throw e;
  }
  if (res.status === 404) throw notFound(`dashboard ${uid.slice(0, 60)} does not exist in Grafana, or panelshot's Grafana user cannot see it`);
  if (res.status === 401 || res.status === 403) throw grafanaAuthRejected(`Grafana answered ${res.status} to panelshot's request for the dashboard model: its user or token lacks access`);
  if (res.status !== 200 || typeof res.data?.dashboard !== 'object') throw grafanaUnreachable(`Grafana answered ${res.status} to GET /${path.slice(0, 80)}`);
  return res.data;
}

/**
 * The panels a viewer sees, in Grafana's order (top to bottom, left to right): row panels
 * themselves are not panels; rows are opened; repeats yield one job per value. Stops with a
 * 400 as soon as more than `maxPanels` would come out, before anything is rendered.
 */
export function expandPanels(model: { panels?: PanelModel[]; templating?: { list?: VariableModel[] } }, dashboardUrl: URL, grafanaUrl: URL, uid: string, slug: string, maxPanels: number): PanelJob[] {
  const variables = new Map((model.templating?.list ?? []).filter((v) => v.name).map((v) => [v.name!, v]));
  const jobs: PanelJob[] = [];
  const keys = new Set<string>();
  const soloBase = new URL(`${grafanaUrl.pathname}d-solo/${encodeURIComponent(uid)}/${encodeURIComponent(slug)}`, grafanaUrl);
  for (const [k, v] of dashboardUrl.searchParams) if (!['viewPanel', 'editPanel', 'panelId', 'kiosk', 'render'].includes(k)) soloBase.searchParams.append(k, v);

  const valuesOf = (name: string): string[] => {
    const fromUrl = dashboardUrl.searchParams.getAll(`var-${name}`);
    const v = variables.get(name);
    const current = fromUrl.length ? fromUrl : ([] as string[]).concat(v?.current?.value ?? []);
    if (current.some((c) => c === '$__all' || c === 'All')) {
      // A query variable's saved model often has no options (Grafana fills them at view
      // time): then one copy, left to Grafana's own `All`, rather than none.
      const all = (v?.options ?? []).map((o) => String(o.value ?? '')).filter((o) => o !== '$__all' && o !== '');
      return all.length ? all : [''];
    }
    return current.length ? current : [''];
  };
  const add = (p: PanelModel, vars: Record<string, string>) => {
    if (typeof p.id !== 'number' || !Number.isInteger(p.id)) return;
    if (jobs.length >= maxPanels) {
      throw badRequest(`the dashboard has more than ${maxPanels} panels once rows and repeats are expanded; at most MAX_PANELS=${maxPanels} are rendered in one call`);
    }
    const suffix = Object.values(vars).filter(Boolean).map((v) => v.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 40)).join('-');
    let key = suffix ? `panel-${p.id}-${suffix}` : `panel-${p.id}`;
    for (let n = 2; keys.has(key); n++) key = `${key.replace(/~\d+$/, '')}~${n}`;
    keys.add(key);
    const url = new URL(soloBase);
    url.searchParams.set('panelId', String(p.id));
    let title = String(p.title ?? '');
    for (const [name, value] of Object.entries(vars)) {
      if (!value) continue;
      url.searchParams.delete(`var-${name}`);
      url.searchParams.set(`var-${name}`, value);
      title = title.split(`\${${name}}`).join(value).split(`$${name}`).join(value);
    }
    jobs.push({ id: p.id, title, type: String(p.type ?? ''), key, vars: Object.fromEntries(Object.entries(vars).filter(([, v]) => v)), url });
  };
  const expand = (p: PanelModel, vars: Record<string, string>) => {
    if (!p.repeat) return add(p, vars);
    for (const value of valuesOf(p.repeat)) add(p, { ...vars, [p.repeat]: value });
  };
  const byPosition = (a: PanelModel, b: PanelModel) => (a.gridPos?.y ?? 0) - (b.gridPos?.y ?? 0) || (a.gridPos?.x ?? 0) - (b.gridPos?.x ?? 0);

  // Top level: a row owns the panels below it until the next row (or, collapsed, its own list).
  const top = [...(model.panels ?? [])].sort(byPosition);
  let rowValues: string[] = [''];
  let rowVar: string | undefined;
  let rowPanels: PanelModel[] = [];
  const flushRow = () => {
    for (const value of rowValues) for (const p of rowPanels) expand(p, rowVar && value ? { [rowVar]: value } : {});
    rowPanels = [];
  };
  for (const p of top) {
    if (p.type === 'row') {
      flushRow();
      rowVar = p.repeat;
      rowValues = p.repeat ? valuesOf(p.repeat) : [''];
      if (p.collapsed) rowPanels.push(...[...(p.panels ?? [])].sort(byPosition));
      continue;
    }
    rowPanels.push(p);
  }
  flushRow();
  return jobs;
}

// The wiring Grafana's app does before any dashboard renders (DESIGN §8): app events, the
// standard field options, the data source service and HTTP client behind
// DataSourceWithBackend, the request runner the Scenes query runner calls, and the panel
// plugin loader. Written for this stand-in against the packages' public APIs.
import { Observable, defer, from, map, catchError, of, startWith } from 'rxjs';
import {
  EventBusSrv,
  LoadingState,
  standardFieldConfigEditorRegistry,
  type DataQueryRequest,
  type DataQueryResponse,
  type DataSourceApi,
  type DataSourceInstanceSettings,
  type FieldConfigPropertyItem,
  type PanelData,
  type PanelPlugin,
} from '@grafana/data';
import {
  DataSourceWithBackend,
  setAppEvents,
  setBackendSrv,
  setDataSourceSrv,
  setPluginImportUtils,
  setRunRequest,
  setTemplateSrv,
  type BackendSrv,
  type BackendSrvRequest,
  type FetchResponse,
} from '@grafana/runtime';

/** The stand-in's one data source: its answers come from /api/ds/query. */
export const DATASOURCE = { uid: 'standin', type: 'standin-datasource' };

const settings = {
  id: 1,
  uid: DATASOURCE.uid,
  type: DATASOURCE.type,
  name: 'Stand-in',
  access: 'proxy',
  readOnly: true,
  jsonData: {},
  meta: { id: DATASOURCE.type, name: 'Stand-in', type: 'datasource', backend: true, info: { logos: { small: '', large: '' } }, module: '', baseUrl: '' },
} as unknown as DataSourceInstanceSettings;

class StandinDataSource extends DataSourceWithBackend {}

/** Grafana's HTTP client, the part the query path uses: fetch() as an Observable. */
function backendFetch<T>(options: BackendSrvRequest): Observable<FetchResponse<T>> {
  return new Observable<FetchResponse<T>>((sub) => {
    const abort = new AbortController();
    const query = options.params ? '?' + new URLSearchParams(options.params).toString() : '';
    const url = options.url + (options.url.includes('?') && query ? '&' + query.slice(1) : query);
    window
      .fetch(url, {
        method: options.method ?? 'GET',
        headers: { 'content-type': 'application/json', accept: 'application/json', ...(options.headers ?? {}) },
        body: options.data === undefined ? undefined : JSON.stringify(options.data),
        credentials: 'same-origin',
        signal: abort.signal,
      })
      .then(async (r) => {
        const text = await r.text();
        const data = (text ? JSON.parse(text) : {}) as T;
        const res = { data, status: r.status, statusText: r.statusText, ok: r.ok, headers: r.headers, redirected: r.redirected, type: r.type, url: r.url, config: options };
        if (r.ok) {
          sub.next(res);
          sub.complete();
        } else sub.error(res);
      })
      .catch((e: unknown) => sub.error(e));
    return () => abort.abort();
  });
}

function promiseOf<T>(options: BackendSrvRequest): Promise<T> {
  return new Promise((resolve, reject) => backendFetch<T>(options).subscribe({ next: (r) => resolve(r.data), error: reject }));
}

/** Standard field options the panels use: a property copied from the panel's field config. */
function standardOption(id: string): FieldConfigPropertyItem {
  const none = () => null;
  return { id, path: id, name: id, editor: none, override: none, process: (v: unknown) => v, shouldApply: () => true } as unknown as FieldConfigPropertyItem;
}

export function wireHost(panelPlugins: () => Promise<Record<string, PanelPlugin>>): void {
  setAppEvents(new EventBusSrv());
  standardFieldConfigEditorRegistry.setInit(() =>
    ['unit', 'min', 'max', 'decimals', 'displayName', 'noValue', 'color', 'thresholds', 'mappings', 'links'].map(standardOption),
  );

  const backend = {
    fetch: backendFetch,
    get: (url: string, params?: Record<string, string>) => promiseOf({ url, params }),
    post: (url: string, data?: unknown) => promiseOf({ url, method: 'POST', data }),
    put: (url: string, data?: unknown) => promiseOf({ url, method: 'PUT', data }),
    patch: (url: string, data?: unknown) => promiseOf({ url, method: 'PATCH', data }),
    delete: (url: string, data?: unknown) => promiseOf({ url, method: 'DELETE', data }),
    request: (o: BackendSrvRequest) => promiseOf(o),
    datasourceRequest: (o: BackendSrvRequest) => new Promise((resolve, reject) => backendFetch(o).subscribe({ next: resolve, error: reject })),
  };
  setBackendSrv(backend as unknown as BackendSrv);

  const ds = new StandinDataSource(settings);
  const srv = {
    get: async () => ds,
    getInstanceSettings: () => settings,
    getList: () => [settings],
    reload: async () => {},
    registerRuntimeDataSource: () => {},
  };
  setDataSourceSrv(srv as never);
  setTemplateSrv({
    getVariables: () => [],
    replace: (target?: string) => target ?? '',
    containsTemplate: () => false,
    updateTimeRange: () => {},
  } as never);

  // The request runner: a Loading state at once, then the data source's answer.
  setRunRequest((datasource: DataSourceApi, request: DataQueryRequest): Observable<PanelData> => {
    const base = { timeRange: request.range, request };
    return defer(() => from(datasource.query(request) as Observable<DataQueryResponse> | Promise<DataQueryResponse>)).pipe(
      map((res): PanelData => ({ ...base, series: res.data ?? [], errors: res.errors, state: res.errors?.length ? LoadingState.Error : LoadingState.Done })),
      catchError((e: unknown) => of<PanelData>({ ...base, series: [], state: LoadingState.Error, errors: [{ message: String((e as Error)?.message ?? e) }] })),
      startWith<PanelData>({ ...base, series: [], state: LoadingState.Loading }),
    );
  });

  // Panel plugins are a module of their own, loaded on first use as Grafana loads plugins.
  const cache = new Map<string, PanelPlugin>();
  setPluginImportUtils({
    importPanelPlugin: async (id: string) => {
      const all = await panelPlugins();
      for (const [k, v] of Object.entries(all)) cache.set(k, v);
      const p = cache.get(id);
      if (!p) throw new Error(`unknown panel plugin ${id}`);
      return p;
    },
    getPanelPluginFromCache: (id: string) => cache.get(id),
  });
}

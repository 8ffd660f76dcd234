// What Grafana's server writes into index.html before its bundle runs: @grafana/runtime
// reads window.grafanaBootData once, when its config module is first evaluated, so this
// module is imported before any @grafana package.
const w = window as unknown as { grafanaBootData: unknown };
w.grafanaBootData = {
  assets: { dark: '', light: '' },
  navTree: [],
  user: {
    id: 1,
    login: 'admin',
    isSignedIn: true,
    theme: 'dark',
    timezone: 'utc',
    locale: 'en-US',
    language: 'en-US',
    orgId: 1,
    orgRole: 'Viewer',
    permissions: {},
  },
  settings: {
    appSubUrl: '',
    buildInfo: { version: '12.2.0', commit: 'standin', env: 'production', edition: 'Open Source' },
    featureToggles: {},
    datasources: {},
    panels: {},
    defaultDatasource: 'standin',
    minRefreshInterval: '5s',
    rendererAvailable: true,
  },
};
export {};

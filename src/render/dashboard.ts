// What a whole-dashboard render (PDF, height=-1, reports) does beyond a panel render:
// Grafana's chrome hidden the way kiosk mode hides it, and collapsed rows opened when the
// request asks. Lazy panels need nothing here: capture() grows the viewport to the whole
// document, so every panel scrolls "into view" and starts its query.

/** `/d/<uid>/…` (with or without GRAFANA_URL's sub-path): a whole dashboard, not a d-solo panel. */
export function isDashboardPage(url: URL): boolean {
  return /\/d\/[^/]+(\/[^/]*)?\/?$/.test(url.pathname);
}

/**
 * The dashboard URL with `kiosk` added (Grafana 9–12 read `kiosk=1` as full kiosk: no nav
 * bar, no side menu, no variable bar). A URL that already says kiosk is kept as it is.
 */
export function kioskUrl(url: URL): URL {
  if (!isDashboardPage(url) || url.searchParams.has('kiosk')) return url;
  const u = new URL(url);
  u.searchParams.set('kiosk', '1');
  return u;
}

/**
 * Clicks every collapsed row header once; returns how many. Grafana has no URL parameter
 * that expands rows: legacy dashboards mark a collapsed row `.dashboard-row--collapsed`
 * with a `.dashboard-row__title` button, scenes dashboards (11+) give the title button
 * `aria-expanded="false"` and a `dashboard-row-title` test id.
 */
export const EXPAND_ROWS_EXPRESSION = `(() => {
  const buttons = document.querySelectorAll('.dashboard-row--collapsed .dashboard-row__title, button[aria-expanded="false"][data-testid*="dashboard-row-title"]');
  Array.prototype.forEach.call(buttons, (b) => b.click());
  return buttons.length;
})()`;

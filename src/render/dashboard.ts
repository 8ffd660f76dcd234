// What a whole-dashboard render (PDF, height=-1, reports) does beyond a panel render:
// Grafana's chrome and controls hidden the way kiosk mode hides them, the element that
// really scrolls found (the document on Grafana ≥ 11.3, an inner `.scrollbar-view` on the
// classic dashboards of ≤ 11.2), and collapsed rows opened when the request asks. Lazy
// panels need nothing more: capture() grows the viewport until the whole dashboard is in
// view, so every panel intersects it and starts its query.

/** `/d/<uid>/…` (with or without GRAFANA_URL's sub-path): a whole dashboard, not a d-solo panel. */
export function isDashboardPage(url: URL): boolean {
  return /\/d\/[^/]+(\/[^/]*)?\/?$/.test(url.pathname);
}

/**
 * Grafana 12's dashboard controls (time picker, zoom, refresh, variables, links) stay in
 * kiosk mode; these URL options hide them. Older versions ignore them.
 */
const HIDE_CONTROLS = ['_dash.hideTimePicker', '_dash.hideVariables', '_dash.hideLinks'];

/**
 * The dashboard URL as a document shows it: `kiosk` added (Grafana 9–12 read `kiosk=1`
 * as full kiosk: no nav bar, no side menu, no variable bar), and Grafana 12's controls
 * hidden. What the URL already says about either is kept as it is.
 */
export function kioskUrl(url: URL): URL {
  if (!isDashboardPage(url)) return url;
  const u = new URL(url);
  if (!u.searchParams.has('kiosk')) u.searchParams.set('kiosk', '1');
  for (const k of HIDE_CONTROLS) if (!u.searchParams.has(k)) u.searchParams.set(k, 'true');
  return u;
}

/**
 * The height in CSS px a whole-page capture needs to have everything in view. Where the
 * document scrolls (Grafana ≥ 11.3, and most pages) that is its scroll height. Classic
 * Grafana dashboards (≤ 11.2) keep the document at the viewport's height and scroll inside
 * an element of their own (`div.scrollbar-view`): then it is the viewport plus what that
 * element hides. The scroller is the largest element that scrolls and fills at least half
 * the viewport (a table panel's own scrollbar is not it); it is kept for the print step
 * (UNCLIP_SCROLLER_EXPRESSION), which must let it flow across pages.
 */
export const CONTENT_HEIGHT_EXPRESSION = `(() => {
  const de = document.documentElement, body = document.body;
  const vh = window.innerHeight;
  let best = null, area = 0;
  const walker = document.createTreeWalker(body || de, NodeFilter.SHOW_ELEMENT);
  for (let el = walker.currentNode; el; el = walker.nextNode()) {
    if (el.scrollHeight <= el.clientHeight + 1 || el.clientHeight < vh / 2) continue;
    const oy = getComputedStyle(el).overflowY;
    if (oy !== 'auto' && oy !== 'scroll' && oy !== 'overlay') continue;
    if (el.clientWidth * el.clientHeight > area) { best = el; area = el.clientWidth * el.clientHeight; }
  }
  if (best) Object.defineProperty(window, '__panelshotScroller', { value: best, configurable: true, writable: true });
  const doc = Math.max(de ? de.scrollHeight : 0, body ? body.scrollHeight : 0);
  return Math.max(doc, best ? vh + best.scrollHeight - best.clientHeight : 0);
})()`;

/**
 * Before printing a classic dashboard: its inner scroller and everything around it were
 * sized to the screen's viewport (height 100%, overflow hidden), which in print is one
 * page, so every panel after the first page was clipped away. They now grow with their
 * content instead, and the dashboard flows onto as many pages as it needs. Returns how
 * many elements were changed (0 where the document itself scrolls).
 */
export const UNCLIP_SCROLLER_EXPRESSION = `(() => {
  const s = window.__panelshotScroller;
  if (!s || !s.isConnected) return 0;
  let n = 0;
  for (let el = s; el && el.nodeType === 1; el = el.parentElement) {
    const st = el.style, pos = getComputedStyle(el).position;
    st.setProperty('overflow', 'visible', 'important');
    st.setProperty('height', 'auto', 'important');
    st.setProperty('min-height', '0', 'important');
    st.setProperty('max-height', 'none', 'important');
    if (pos === 'absolute' || pos === 'fixed') {
      st.setProperty('position', 'relative', 'important');
      st.setProperty('inset', 'auto', 'important');
    }
    n++;
  }
  return n;
})()`;

/**
 * Clicks every collapsed row header once; returns how many. Grafana has no URL parameter
 * that expands rows, and each version marks a collapsed row differently:
 * - Grafana ≤ 10: `.dashboard-row--collapsed` around a `.dashboard-row__title` button;
 * - Grafana 11 (classic): the title button, `data-testid="data-testid dashboard-row-title-<title>"`,
 *   says `aria-expanded="false"`;
 * - Grafana 12 (scenes): the same test id, no aria-expanded, but `aria-label="Expand row"`
 *   (an open row's says "Collapse row").
 * Opening a row only changes this tab's page: Grafana saves nothing until someone saves.
 */
export const EXPAND_ROWS_EXPRESSION = `(() => {
  const buttons = document.querySelectorAll(${JSON.stringify(
    [
      '.dashboard-row--collapsed .dashboard-row__title',
      'button[aria-expanded="false"][data-testid*="dashboard-row-title"]',
      'button[aria-label="Expand row"][data-testid*="dashboard-row-title"]',
    ].join(', '),
  )});
  Array.prototype.forEach.call(buttons, (b) => b.click());
  return buttons.length;
})()`;

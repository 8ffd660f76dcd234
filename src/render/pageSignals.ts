// What the page itself says about being done. Pixels alone cannot tell a finished panel
// from one that sits still while its query is in flight, so a small tracker is installed
// before any page script runs (Page.addScriptToEvaluateOnNewDocument) and counts the
// fetch/XHR requests and script/stylesheet loads in flight, and the timers that are due
// soon (work the page has already scheduled, as Angular's testability and zone.js
// "stable" see it); Grafana's own loading indicators are read from the DOM.

/**
 * A pending setTimeout due within this many ms is work about to start (an annotations
 * query scheduled after the first draw, a debounced redraw). Later ones are not: a
 * session refresh in 5 minutes says nothing about this picture.
 */
export const SCHEDULED_HORIZON_MS = 1000;

/** Installed in every document before its scripts run. Plain ES2017, no dependencies. */
export const TRACKER_SOURCE = `(() => {
  if (window.__panelshot) return;
  const s = { inflight: 0, frames: new Set(), lastResource: 0, timers: new Map(), loading: new Set() };
  Object.defineProperty(window, '__panelshot', { value: s });
  // The page's own timers, wrapped; ours below use the originals so they never count.
  const origSetTimeout = window.setTimeout, origClearTimeout = window.clearTimeout, origClearInterval = window.clearInterval;
  // Pending one-shot timers: id → when due (performance.now() ms). setInterval is left
  // alone: a ticking clock or poller would never be done; a timer chain that re-arms itself
  // forever is cut off by the capture loop's bound.
  window.setTimeout = function (fn, delay) {
    if (typeof fn !== 'function') return origSetTimeout.apply(window, arguments);
    const args = Array.prototype.slice.call(arguments, 2);
    const ms = Math.max(0, Number(delay) || 0);
    const id = origSetTimeout.call(window, function () { s.timers.delete(id); return fn.apply(this, args); }, ms);
    s.timers.set(id, performance.now() + ms);
    return id;
  };
  window.clearTimeout = function (id) { s.timers.delete(id); return origClearTimeout.call(window, id); };
  window.clearInterval = function (id) { s.timers.delete(id); return origClearInterval.call(window, id); };
  // Scripts and stylesheets added to the document (webpack chunks, SystemJS plugin modules,
  // lazy CSS) are counted from insertion to load/error: resource timing only sees them once
  // they have arrived.
  const JS_TYPES = ['', 'text/javascript', 'application/javascript', 'module'];
  const watch = (el) => {
    const fetching = (el.tagName === 'SCRIPT' && el.src && !el.noModule && JS_TYPES.indexOf((el.type || '').toLowerCase()) >= 0) ||
      (el.tagName === 'LINK' && el.href && (el.relList.contains('stylesheet') || el.relList.contains('modulepreload')));
    if (!fetching || s.loading.has(el)) return;
    s.loading.add(el);
    const done = () => s.loading.delete(el);
    el.addEventListener('load', done, { once: true });
    el.addEventListener('error', done, { once: true });
  };
  try {
    new MutationObserver((records) => {
      for (const r of records) for (const n of r.addedNodes) if (n.nodeType === 1 && (n.tagName === 'SCRIPT' || n.tagName === 'LINK')) watch(n);
    }).observe(document, { childList: true, subtree: true });
  } catch (e) { /* no MutationObserver: resource timing still sees loads once they end */ }
  // Scripts, styles and images (e.g. a panel plugin loaded on demand) are no fetch/XHR:
  // a resource that just finished often means the next one is about to start.
  try {
    new PerformanceObserver(function (list) {
      list.getEntries().forEach(function (e) {
        // fetch/XHR are counted exactly above; here only what they cannot see.
        if (e.initiatorType !== 'fetch' && e.initiatorType !== 'xmlhttprequest') s.lastResource = Math.max(s.lastResource, e.responseEnd);
      });
    }).observe({ type: 'resource', buffered: true });
  } catch (e) { /* old browser: fetch/XHR counting still works */ }
  // Animation activity: requestAnimationFrame callbacks requested and not yet run. Charts
  // that animate draw through rAF, each frame asking for the next; while one is pending,
  // a screenshot would only show an in-between picture. The frame that asks for no next one
  // is the last: the page is still from then on, without waiting to see no frame come.
  const origRaf = window.requestAnimationFrame, origCancelRaf = window.cancelAnimationFrame;
  if (origRaf && origCancelRaf) {
    window.requestAnimationFrame = function (cb) {
      const id = origRaf.call(window, function (t) { s.frames.delete(id); return cb(t); });
      s.frames.add(id);
      return id;
    };
    window.cancelAnimationFrame = function (id) { s.frames.delete(id); return origCancelRaf.call(window, id); };
  }
  // A response is "done" one macrotask after it arrives, so the page has run the code that
  // draws it before we look.
  const settle = () => origSetTimeout(() => { s.inflight--; }, 0);
  const origFetch = window.fetch;
  if (origFetch) {
    window.fetch = function () {
      s.inflight++;
      let p;
      try { p = origFetch.apply(this, arguments); } catch (e) { settle(); throw e; }
      p.then(settle, settle);
      return p;
    };
  }
  const origSend = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.send = function () {
    s.inflight++;
    this.addEventListener('loadend', settle, { once: true });
    try { return origSend.apply(this, arguments); } catch (e) { settle(); throw e; }
  };
})();`;

/** Grafana's loading indicators across versions 9–12 (legacy and scenes dashboards). */
const LOADING_SELECTORS = [
  '[aria-label="Panel loading bar"]',
  '[data-testid="Panel loading bar"]',
  '.panel-loading',
  '.preloader',
  '[aria-label="data-testid Loading indicator"]',
].join(',');

export interface PageState {
  href: string;
  readyState: string;
  inflight: number;
  /** A visible Grafana loading indicator. */
  loading: boolean;
  /** Full document height in CSS px, for height=-1 renders. */
  scrollHeight: number;
  /** HTTP status of the main document (0 when unknown). */
  status: number;
  /** A requestAnimationFrame callback is pending, or a CSS animation/transition is running. */
  animating: boolean;
  /** The page's one-shot timers due within SCHEDULED_HORIZON_MS (or overdue). */
  scheduled: number;
}

/** Evaluated with Runtime.evaluate (returnByValue) at every poll. */
export const STATE_EXPRESSION = `(() => {
  const visible = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
  const loading = Array.prototype.some.call(document.querySelectorAll(${JSON.stringify(LOADING_SELECTORS)}), visible);
  const de = document.documentElement;
  return {
    href: location.href,
    readyState: document.readyState,
    inflight: window.__panelshot ? window.__panelshot.inflight + window.__panelshot.loading.size + (performance.now() - window.__panelshot.lastResource < 50 ? 1 : 0) : 0,
    loading,
    scrollHeight: de ? Math.max(de.scrollHeight, document.body ? document.body.scrollHeight : 0) : 0,
    status: (performance.getEntriesByType('navigation')[0] || {}).responseStatus || 0,
    animating: (window.__panelshot ? window.__panelshot.frames.size > 0 : false) ||
      (document.getAnimations ? document.getAnimations().some((a) => a.playState === 'running') : false),
    scheduled: (() => {
      if (!window.__panelshot) return 0;
      const soon = performance.now() + ${SCHEDULED_HORIZON_MS};
      let n = 0;
      window.__panelshot.timers.forEach((due) => { if (due <= soon) n++; });
      return n;
    })(),
  };
})()`;

/** The page claims to be done: loaded, nothing in flight, no loading indicator. */
export function pageQuiet(s: PageState): boolean {
  return s.readyState === 'complete' && s.inflight <= 0 && !s.loading;
}

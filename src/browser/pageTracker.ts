// A small tracker installed in every document before its scripts run
// (Page.addScriptToEvaluateOnNewDocument, once per session). It lives with Chrome's life
// because the session installs it; render/pageSignals.ts reads what it keeps, through
// `window.__panelshot`:
//   inflight        fetch/XHR requests not yet answered (plus one macrotask to draw them)
//   loading         script/stylesheet elements inserted and not yet loaded or failed
//   lastResource    when the last other resource (script, style, image) finished
//   timers          pending one-shot setTimeouts: id → { due (performance.now() ms), depth }
//   frames          requestAnimationFrame callbacks requested and not yet run
//   queriesStarted  how often window.__grafanaRunningQueryCount went up (Grafana Scenes)
// Plain ES2017, no dependencies.

/**
 * How deep a chain of timers may re-arm itself before its timers stop counting as work
 * about to start: a timer set while a timer callback runs is one deeper than that one.
 * A one-off (a second wave, a debounced redraw) is depth 0 or 1; a poller or clock that
 * re-arms itself every 100 ms passes this depth after about 300 ms.
 */
export const REARM_DEPTH = 3;

export const TRACKER_SOURCE = `(() => {
  if (window.__panelshot) return;
  const s = { inflight: 0, frames: new Set(), lastResource: 0, timers: new Map(), loading: new Set(), queriesStarted: 0 };
  Object.defineProperty(window, '__panelshot', { value: s });
  // The page's own timers, wrapped; ours below use the originals so they never count.
  const origSetTimeout = window.setTimeout, origClearTimeout = window.clearTimeout, origClearInterval = window.clearInterval;
  // Depth of the timer callback running now (-1: none), for telling a chain that re-arms
  // itself from a one-off. setInterval is left alone: a ticking clock or poller would never
  // be done.
  let running = -1;
  window.setTimeout = function (fn, delay) {
    if (typeof fn !== 'function') return origSetTimeout.apply(window, arguments);
    const args = Array.prototype.slice.call(arguments, 2);
    const ms = Math.max(0, Number(delay) || 0);
    const depth = running + 1;
    const id = origSetTimeout.call(window, function () {
      s.timers.delete(id);
      const outer = running;
      running = depth;
      try { return fn.apply(this, args); } finally { running = outer; }
    }, ms);
    s.timers.set(id, { due: performance.now() + ms, depth: depth });
    return id;
  };
  window.clearTimeout = function (id) { s.timers.delete(id); return origClearTimeout.call(window, id); };
  window.clearInterval = function (id) { s.timers.delete(id); return origClearInterval.call(window, id); };
  // Grafana Scenes (>= 10) keeps the number of queries running in this global; only a
  // count seen going up makes its return to 0 mean "the page's queries are done".
  let queryCount;
  try {
    Object.defineProperty(window, '__grafanaRunningQueryCount', {
      configurable: true,
      enumerable: true,
      get: function () { return queryCount; },
      set: function (v) { if (typeof v === 'number' && v > (Number(queryCount) || 0)) s.queriesStarted++; queryCount = v; },
    });
  } catch (e) { /* defined by someone else: its rises are not seen */ }
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

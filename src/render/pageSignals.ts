// What the page itself says about being done. Pixels alone cannot tell a finished panel
// from one that sits still while its query is in flight, so a small tracker
// (browser/pageTracker.ts) counts the fetch/XHR requests and script/stylesheet loads in
// flight, and the timers that are due soon (work the page has already scheduled, as
// Angular's testability and zone.js "stable" see it); Grafana's own loading indicators
// and done signals are read from the DOM and its globals (DESIGN §8).
import { REARM_DEPTH } from '../browser/pageTracker';

/**
 * A pending setTimeout due within this many ms is work about to start (an annotations
 * query scheduled after the first draw, a debounced redraw). Later ones are not: a
 * session refresh in 5 minutes says nothing about this picture.
 */
export const SCHEDULED_HORIZON_MS = 1000;

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
  /** HTTP status of the main document (0 when unknown). */
  status: number;
  /** A requestAnimationFrame callback is pending, or a CSS animation/transition is running. */
  animating: boolean;
  /** The page's one-shot timers due within SCHEDULED_HORIZON_MS (or overdue), chains that re-arm themselves left out. */
  scheduled: number;
  /** A script, style or image finished within the last 50 ms: the next may be about to start. */
  justLoaded: boolean;
  /** What Grafana itself says (DESIGN §8); null where the page sets no such global. */
  grafana: {
    /** Scenes (Grafana >= 10): window.__grafanaSceneContext is set. */
    scene: boolean;
    /** Scenes: window.__grafanaRunningQueryCount. */
    runningQueries: number | null;
    /** Scenes: how often that count was seen going up since the document started. */
    queriesStarted: number;
    /** Scenes: panels on the page ([data-viz-panel-key]). */
    vizPanels: number;
    /** Classic: window.panelsRendered, panels that reached Done or Error. */
    panelsRendered: number | null;
    /** Classic: panels on the page, as the official renderer counts them. */
    panels: number;
  };
}

/** Evaluated with Runtime.evaluate (returnByValue) at every poll. */
export const STATE_EXPRESSION = `(() => {
  const visible = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
  const loading = Array.prototype.some.call(document.querySelectorAll(${JSON.stringify(LOADING_SELECTORS)}), visible);
  return {
    href: location.href,
    readyState: document.readyState,
    inflight: window.__panelshot ? window.__panelshot.inflight + window.__panelshot.loading.size : 0,
    justLoaded: window.__panelshot ? performance.now() - window.__panelshot.lastResource < 50 : false,
    loading,
    status: (performance.getEntriesByType('navigation')[0] || {}).responseStatus || 0,
    animating: (window.__panelshot ? window.__panelshot.frames.size > 0 : false) ||
      (document.getAnimations ? document.getAnimations().some((a) => a.playState === 'running') : false),
    scheduled: (() => {
      if (!window.__panelshot) return 0;
      const soon = performance.now() + ${SCHEDULED_HORIZON_MS};
      let n = 0;
      window.__panelshot.timers.forEach((t) => { if (t.due <= soon && t.depth < ${REARM_DEPTH}) n++; });
      return n;
    })(),
    grafana: {
      scene: !!window.__grafanaSceneContext,
      runningQueries: typeof window.__grafanaRunningQueryCount === 'number' ? window.__grafanaRunningQueryCount : null,
      queriesStarted: window.__panelshot ? window.__panelshot.queriesStarted : 0,
      vizPanels: document.querySelectorAll('[data-viz-panel-key]').length,
      panelsRendered: typeof window.panelsRendered === 'number' ? window.panelsRendered : null,
      panels: document.querySelectorAll('.panel-solo').length || document.querySelectorAll('[data-panelid]').length,
    },
  };
})()`;

/**
 * Grafana says its panels are done (DESIGN §8), as the official renderer reads it:
 * - Scenes: __grafanaSceneContext is set and __grafanaRunningQueryCount is back at 0 after
 *   it was seen going up, with panels on the page. On Grafana 12.2 d-solo pages the count
 *   goes 1→0 for the annotations request and sits at 0 for ~440 ms before the panel's
 *   query: a count that never rose, or a page without panels yet, says nothing. Together
 *   with "nothing in flight" (pageQuiet) this is the official renderer's "network idle,
 *   then the count".
 * - Classic: window.panelsRendered has reached the number of panels on the page.
 * Undefined when the page announces nothing: generic hints then decide.
 */
export function grafanaDone(s: PageState): boolean | undefined {
  const g = s.grafana;
  if (g.scene && g.runningQueries !== null) return g.runningQueries <= 0 && g.queriesStarted > 0 && g.vizPanels > 0;
  if (g.panelsRendered !== null && g.panels > 0) return g.panelsRendered >= g.panels;
  return undefined;
}

/** The page claims to be done: loaded, nothing in flight or just arrived, no loading indicator. */
export function pageQuiet(s: PageState): boolean {
  return s.readyState === 'complete' && s.inflight <= 0 && !s.justLoaded && !s.loading;
}

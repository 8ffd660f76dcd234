// One attempt at one page in one (already reset) Chrome tab: set the stage through the
// DevTools protocol, navigate, wait until the page is quiet and its pixels stop changing,
// and hand back the last frame. Knows nothing of pools, queues or Grafana logins.
import { OutOfTime, type BrowserSession } from '../browser/session';
import { forbiddenUrl, grafanaUnreachable } from '../errors';
import { CONTENT_HEIGHT_EXPRESSION, EXPAND_ROWS_EXPRESSION } from './dashboard';
import { grafanaDone, pageQuiet, STATE_EXPRESSION, type PageState } from './pageSignals';
import { sameFrame } from './stability';

export interface StageCookie {
  name: string;
  value: string;
  domain: string;
  path: string;
  httpOnly?: boolean;
  secure?: boolean;
  sameSite?: 'Strict' | 'Lax' | 'None';
}

/** What every output needs to open a page: the stage (viewport, locale, credentials) and where it may go. */
export interface PageSpec {
  url: URL;
  width: number;
  scale: number;
  timezone?: string;
  acceptLanguage?: string;
  cookies: StageCookie[];
  /** Sent as Authorization only to `allowedOrigin` (Fetch interception), never to other hosts. */
  bearer?: string;
  /** Where the page must stay: its origin, and Grafana's login/rotate paths. */
  allowedOrigin: string;
  loginPaths: string[];
  deadline: number;
}

export interface CaptureSpec extends PageSpec {
  height: number | 'full';
  /** For height 'full': the viewport the page first loads in (then it grows to the document). */
  firstHeight?: number;
  /** Click collapsed dashboard rows open once the page is first quiet. */
  expandRows?: boolean;
  maxHeight: number;
  stability: { intervalMs: number; frames: number; tolerance: number };
}

/** The page ended on Grafana's login (or token-rotation) page: the credentials were not accepted. */
export interface LoginPage {
  kind: 'login-page';
  path: string;
}

export type CaptureOutcome =
  | { kind: 'frame'; png: Buffer; cssHeight: number; settled: boolean; navigateMs: number; dataMs: number; stableMs: number; framesCompared: number; trace: string[] }
  | LoginPage;

/** Frame taken with this much time left when none was taken yet, so a timeout still has a picture. */
const LAST_CHANCE_MS = 400;
/** While the page is busy, its state is polled this often (cheap: no screenshot). */
const BUSY_POLL_MS = 10;
/** A page is quiet this long (about one animation frame) before the first screenshot. */
const QUIET_SETTLE_MS = 20;
/** Longest time screenshots wait for an animating page before comparing pixels anyway. */
const MAX_ANIMATION_WAIT_MS = 3000;
/**
 * Longest time screenshots wait for a quiet page's timers that are due soon: a page that
 * re-arms a timer forever (a poller, a clock) is then judged by its pixels alone.
 */
const MAX_SCHEDULED_WAIT_MS = 3000;
/** For height=-1 the page first loads in a viewport this high, then grows to the document. */
const VIEWPORT_HEIGHT_FOR_FULL_PAGE = 500;
/**
 * Rows opened can hold rows of their own (nested rows, rows repeated once their variable's
 * panels load): rows are looked for again after each opening, this many times at most.
 */
const MAX_ROW_PASSES = 5;

export async function capture(session: BrowserSession, spec: CaptureSpec): Promise<CaptureOutcome> {
  const t0 = Date.now();
  // For the debug log: when each step happened, in ms since the start of the capture.
  const trace: string[] = [];
  const mark = (what: string) => trace.push(`${Date.now() - t0}:${what}`);
  let viewportHeight = spec.height === 'full' ? Math.min(spec.firstHeight ?? VIEWPORT_HEIGHT_FOR_FULL_PAGE, spec.maxHeight) : spec.height;
  try {
    await openPage(session, spec, viewportHeight);
  } catch (e) {
    if (e instanceof OutOfTime) throw new TimeoutWithoutFrame();
    throw e;
  }
  const navigateMs = Date.now() - t0;
  mark('navigated');

  let best: Buffer | undefined;
  let equalFrames = 0;
  let framesCompared = 0;
  let quietSince: number | undefined;
  let rowPasses = spec.expandRows ? 0 : MAX_ROW_PASSES;
  let pointerParked = false;
  let animatingSince: number | undefined;
  let scheduledSince: number | undefined;
  let announcedDone = false;
  let layoutChangedAt: number | undefined;

  try {
    while (remaining(spec.deadline) > 0) {
      const look = await lookAtPage(session, spec);
      if (look.kind === 'login-page') return look;
      const state = look.state;
      // Grafana keeps timers due, frames requested and a bookkeeping request or late resource
      // (a font, an icon) coming after its panels are drawn (DESIGN §8): once it has said they
      // are done on a quiet page, those hold nothing and pixels decide. A new query (done no
      // more) or a loading bar does hold.
      const done = grafanaDone(state) === true;
      const quiet = pageQuiet(state) || (announcedDone && done && !state.loading && state.readyState === 'complete');
      if (!pointerParked && state.readyState !== 'loading' && state.href !== '' && state.href !== 'about:blank') {
        // Once the document is there (before that, the new document puts the mouse back):
        // chromium-headless-shell takes the never-moved mouse to be at (0,0), so whatever is
        // drawn there is hovered, e.g. a d-solo panel, which then shows Grafana's hover-only
        // panel menu (⋮). A browser without a mouse shows none. Early, not at the first
        // quiet look: the renderer answers the move only between its tasks, and at the
        // moment a panel is drawn that cost 10-15 ms of the render.
        pointerParked = true;
        await session.parkPointer();
      }

      if (!quiet) {
        quietSince = undefined;
        equalFrames = 0;
        // A page that never goes quiet still owes the caller a picture at the deadline.
        if (!best && remaining(spec.deadline) < LAST_CHANCE_MS) best = await screenshot(session, spec.deadline);
        await sleep(Math.min(BUSY_POLL_MS, remaining(spec.deadline)));
        continue;
      }
      if (quietSince === undefined) mark('quiet');
      quietSince ??= Date.now();
      // While the page animates, a screenshot shows an in-between picture: poll the cheap
      // signal instead. Only a hint: a page animating for longer than MAX_ANIMATION_WAIT_MS
      // (a spinner that never stops) is judged by its pixels alone.
      if (state.animating && animatingSince === undefined) mark('animating');
      animatingSince = state.animating ? (animatingSince ?? Date.now()) : undefined;
      // Work the page has scheduled (a timer due soon) is the next wave of the picture: a
      // hint like animation, bounded the same way.
      if (state.scheduled > 0 && scheduledSince === undefined) mark('scheduled');
      scheduledSince = state.scheduled > 0 ? (scheduledSince ?? Date.now()) : undefined;
      if (done !== announcedDone) mark(done ? 'grafana-done' : 'grafana-busy');
      announcedDone = done;
      // A page often starts animating one frame after its data arrives: give it that frame
      // (Grafana's panels do not animate in: once it says they are done, shoot). After the
      // viewport grew or rows opened, the newly visible panels start their queries only at
      // the next frame (the lazy loader's observer): until then "done" is the old news.
      const layoutSettling = layoutChangedAt !== undefined && Date.now() - layoutChangedAt < QUIET_SETTLE_MS;
      const justQuiet = (!done || layoutSettling) && Date.now() - quietSince < QUIET_SETTLE_MS;
      const waitAnimation = !done && animatingSince !== undefined && Date.now() - animatingSince < MAX_ANIMATION_WAIT_MS;
      const waitScheduled = !done && scheduledSince !== undefined && Date.now() - scheduledSince < MAX_SCHEDULED_WAIT_MS;
      if ((justQuiet || waitAnimation || waitScheduled) && remaining(spec.deadline) > LAST_CHANCE_MS) {
        equalFrames = 0;
        await sleep(Math.min(BUSY_POLL_MS, remaining(spec.deadline)));
        continue;
      }

      if (rowPasses < MAX_ROW_PASSES) {
        rowPasses++;
        const opened = await session.cdp<{ result?: { value?: number } }>('Runtime.evaluate', { expression: EXPAND_ROWS_EXPRESSION, returnByValue: true }, remaining(spec.deadline));
        if (opened.result?.value) {
          mark(`expanded:${opened.result.value}`);
          quietSince = undefined;
          announcedDone = false;
          layoutChangedAt = Date.now();
          continue;
        }
        rowPasses = MAX_ROW_PASSES;
      }

      // height=-1: what the whole page needs in view, wherever it scrolls (the document, or
      // the inner scroller of classic Grafana dashboards, where the document never grows).
      const contentHeight = spec.height === 'full' ? ((await evaluateDirect<number>(session, CONTENT_HEIGHT_EXPRESSION, spec.deadline)) ?? 0) : 0;
      const grown = Math.min(contentHeight, spec.maxHeight);
      if (spec.height === 'full' && grown > viewportHeight) {
        // height=-1: grow the viewport to the whole page once its content is there, then wait
        // for the newly visible (lazily loaded) panels like for any other. Again when those
        // make the page taller still (expanded rows, repeated panels).
        viewportHeight = grown;
        await session.setViewport(spec.width, viewportHeight, spec.scale);
        mark(`grown:${grown}`);
        layoutChangedAt = Date.now();
        // "Done" was said of the panels in the old viewport: the new ones must say it again.
        announcedDone = false;
        best = undefined;
        equalFrames = 0;
        quietSince = undefined;
        continue;
      }

      let frame: Buffer;
      try {
        mark('shot');
        frame = await screenshot(session, spec.deadline);
      } catch (e) {
        // Out of time mid-capture: the last good frame is still an answer.
        if (best && remaining(spec.deadline) <= 0) break;
        throw e;
      }
      if (best && (await sameFrame(best, frame, spec.stability.tolerance))) {
        framesCompared++;
        equalFrames++;
      } else {
        if (best) framesCompared++;
        equalFrames = 1;
      }
      best = frame;
      if (equalFrames >= spec.stability.frames) {
        const now = Date.now();
        mark('stable');
        return { kind: 'frame', png: best, cssHeight: viewportHeight, settled: true, navigateMs, dataMs: quietSince - t0 - navigateMs, stableMs: now - quietSince, framesCompared, trace };
      }
      // Once Grafana says its panels are done, the second screenshot (itself a fresh frame) is
      // taken at once: it only confirms the picture. Later ones keep the pause, so a page that
      // says done and still changes is not shot back to back until its deadline.
      const pause = announcedDone && framesCompared === 0 ? 0 : spec.stability.intervalMs;
      await sleep(Math.min(pause, remaining(spec.deadline)));
    }
  } catch (e) {
    // A command the deadline cut short (on a busy machine): the best frame so far is the
    // answer, as at any other timeout; without one, the render timed out.
    if (!(e instanceof OutOfTime)) throw e;
    mark('out-of-time');
  }
  if (!best) throw new TimeoutWithoutFrame();
  const end = Date.now();
  mark('deadline');
  return { kind: 'frame', png: best, cssHeight: viewportHeight, settled: false, navigateMs, dataMs: (quietSince ?? end) - t0 - navigateMs, stableMs: quietSince ? end - quietSince : 0, framesCompared, trace };
}

/**
 * Sets the stage for one render in an (already reset) tab and navigates once: viewport,
 * timezone, language and cookies through DevTools, the origin guard armed before the first
 * request. Shared by every output (picture, PDF, CSV download).
 */
export async function openPage(session: BrowserSession, spec: PageSpec, viewportHeight: number): Promise<void> {
  await session.setViewport(spec.width, viewportHeight, spec.scale);
  await session.setTimezone(spec.timezone);
  await session.setLanguage(spec.acceptLanguage);
  await session.setCookies(spec.cookies);
  // Before the first request: nothing may carry our cookies or token off Grafana's origin.
  await session.guardOrigin({ origin: spec.allowedOrigin, cookieDomains: spec.cookies.map((c) => c.domain), bearer: spec.bearer });

  for (let attempt = 1; ; attempt++) {
    // On the session's own DevTools connection, not through chromedriver's HTTP: the render's
    // navigate step took a median of 8 ms instead of 11 (24 renders each, ADR 19).
    const nav = await session.direct<{ errorText?: string }>('Page.navigate', { url: spec.url.toString() }, remaining(spec.deadline));
    if (!nav.errorText) return;
    if (nav.errorText !== NETWORK_CHANGED || attempt >= NAVIGATE_ATTEMPTS || remaining(spec.deadline) <= 0) await failedNavigation(session, spec, nav.errorText);
  }
}

/**
 * Chrome fails every request in flight, with this error, when the machine's network changes
 * (an address comes or goes; in a container that has just started, its interface settling
 * does it): the page is still there, the moment was wrong. Seen once in 14 runs of
 * scripts/container-e2e.sh, as a 502 for the first render after the container was ready.
 */
const NETWORK_CHANGED = 'net::ERR_NETWORK_CHANGED';
/** Navigations per render when the first met a network change. */
const NAVIGATE_ATTEMPTS = 2;

/**
 * One look at the opened page (no screenshot): its state, or the login page it ended on.
 * Throws when it left Grafana's origin, failed to load, or Grafana answered 5xx: an error
 * page is no answer, whatever the output.
 */
export async function lookAtPage(session: BrowserSession, spec: PageSpec): Promise<{ kind: 'page'; state: PageState } | LoginPage> {
  const state = await pageState(session, spec.deadline);
  session.noteOrigin(state.href);
  if (state.href.startsWith('chrome-error:')) await failedNavigation(session, spec, 'an error page');
  const where = checkLocation(state.href, spec);
  if (where) return where;
  if (state.status >= 500) throw grafanaUnreachable(`Grafana answered HTTP ${state.status} for the page`);
  return { kind: 'page', state };
}

/** The deadline passed before Chrome produced any frame at all. */
export class TimeoutWithoutFrame extends Error {
  constructor() {
    super('no frame before the deadline');
  }
}

function checkLocation(href: string, spec: PageSpec): LoginPage | undefined {
  if (href === 'about:blank' || href === '') return undefined;
  let u: URL;
  try {
    u = new URL(href);
  } catch {
    return undefined;
  }
  if (u.origin !== spec.allowedOrigin) {
    throw forbiddenUrl(`the page redirected to another origin (${u.origin}); only ${spec.allowedOrigin} may be rendered`);
  }
  if (spec.loginPaths.includes(u.pathname)) return { kind: 'login-page', path: u.pathname };
  return undefined;
}

/** The main frame failed to load (at first or later): say why, as precisely as we can. */
async function failedNavigation(session: BrowserSession, spec: PageSpec, what: string): Promise<never> {
  // A navigation off Grafana's origin (a redirect, a script, a form) was stopped before it
  // left, or failed to load: either way it was one off the origin.
  const t = await session.cdp<{ frameTree: { frame: { url: string; unreachableUrl?: string } } }>('Page.getFrameTree').catch(() => undefined);
  const target = t?.frameTree.frame.unreachableUrl ?? t?.frameTree.frame.url;
  if (target && !target.startsWith('chrome-error:')) checkLocation(target, spec);
  const blocked = session.blockedOrigins;
  if (blocked.length) throw forbiddenUrl(`the page tried to leave Grafana's origin (${blocked.join(', ')}); the request was stopped before it was sent, since it would have carried our credentials`);
  throw grafanaUnreachable(`Chrome could not load the Grafana page (${what}); check GRAFANA_URL and that Grafana is up`);
}

const LOADING: PageState = {
  href: '',
  readyState: 'loading',
  inflight: 1,
  loading: true,
  status: 0,
  animating: false,
  scheduled: 0,
  justLoaded: false,
  grafana: { scene: false, runningQueries: null, queriesStarted: 0, vizPanels: 0, panelsRendered: null, panels: 0 },
};

/** What Chrome says when asked about a document that is just being replaced. */
const BETWEEN_DOCUMENTS = /Not attached to an active page|aborted by navigation|Execution context was destroyed|Cannot find (default execution )?context|Inspected target navigated/i;

async function pageState(session: BrowserSession, deadline: number): Promise<PageState> {
  try {
    return (await evaluateDirect<PageState>(session, STATE_EXPRESSION, deadline)) ?? LOADING;
  } catch (e) {
    // Between navigation commit and the new document, evaluation can fail: still loading.
    if (BETWEEN_DOCUMENTS.test(String((e as Error).message))) return LOADING;
    throw e;
  }
}

/** An expression's value, over the session's own DevTools socket (no chromedriver hop). */
async function evaluateDirect<T>(session: BrowserSession, expression: string, deadline: number): Promise<T | undefined> {
  const r = await session.direct<{ result?: { value?: T } }>('Runtime.evaluate', { expression, returnByValue: true }, remaining(deadline));
  return r.result?.value;
}

async function screenshot(session: BrowserSession, deadline: number): Promise<Buffer> {
  // optimizeForSpeed: faster PNG encoding (bigger files); PNG stays lossless.
  const r = await session.direct<{ data: string }>('Page.captureScreenshot', { format: 'png', fromSurface: true, optimizeForSpeed: true }, remaining(deadline));
  return Buffer.from(r.data, 'base64');
}

function remaining(deadline: number): number {
  return Math.max(0, deadline - Date.now());
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, ms)));
}

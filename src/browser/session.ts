// One warm Chrome (one WebDriver session) and the DevTools commands a render needs.
// Every command is bounded in time: a hung chromedriver must fail the render, not hang it.
import type { DriverHandle } from './driver';
import { withTimeout } from './driver';
import { TRACKER_SOURCE } from './pageTracker';
import { GC_FUNCTION } from './chromeFlags';
import { browserWebSocketUrl, type CdpEvent } from './cdpSocket';
import { OriginGuard, type GuardPolicy } from './originGuard';

let nextId = 1;

/**
 * A command cut short by the render's deadline: the render ran out of time, which on a
 * busy machine is no sign of a broken Chrome. The session is not marked broken for it; the
 * reset after the render (with its own timeouts) shows whether the Chrome still answers.
 */
export class OutOfTime extends Error {
  override name = 'OutOfTime';
}

export class BrowserSession {
  readonly id = nextId++;
  renders = 0;
  /** Set when a command failed in a way that leaves Chrome in doubt: the pool replaces it. */
  broken = false;
  /** Lent to a render, or being reset after one (the pool's heartbeat leaves it alone). */
  busy = false;
  private readonly visitedOrigins = new Set<string>();
  private guard?: OriginGuard;
  private devtoolsTarget?: { wsUrl: string; targetId: string };
  /** This session's browser context (its tab's), learnt once: it never changes. */
  private contextId?: string;
  private ua?: string;
  private defaultLanguage?: string;
  private timezoneSet = false;
  /** The device metrics override in force ("WxH@scale"), undefined when unknown. */
  private viewport?: string;
  /** The DevTools connection `viewport` was set on: a new one starts without the override. */
  private viewportOn?: OriginGuard;
  private languageSet = false;
  /** The current render's deadline: no command may outlive it by more than a moment. */
  deadline?: number;

  /** Removes the chromedriver-exit callback when this session closes (its Chrome lives on). */
  private readonly offExit?: () => void;

  constructor(readonly handle: DriverHandle, private readonly commandTimeoutMs = 15_000) {
    this.offExit = handle.onExit?.(() => {
      this.broken = true;
    });
  }

  get pgid(): number | undefined {
    return this.handle.pgid;
  }

  /** A DevTools command on the current tab. */
  async cdp<T = Record<string, unknown>>(method: string, params: object = {}, timeoutMs = this.commandTimeoutMs): Promise<T> {
    if (this.deadline !== undefined) timeoutMs = Math.min(timeoutMs, this.deadline - Date.now() + 250);
    timeoutMs = Math.max(250, timeoutMs);
    try {
      const r = await withTimeout(Promise.resolve(this.handle.driver.sendAndGetDevToolsCommand(method, params)), timeoutMs, `DevTools ${method}`);
      return (r ?? {}) as unknown as T;
    } catch (e) {
      throw this.failed(e, method);
    }
  }

  /**
   * A DevTools command on the tab over the origin guard's own websocket when it is open,
   * else through chromedriver: the page-state poll and screenshots (every few ms during a
   * render), and cookies. Straight to Chrome they skip chromedriver's HTTP round trip and
   * its JSON re-encoding of every screenshot. Emulation overrides belong to the DevTools
   * session that set them, and navigation is chromedriver's to follow: those stay on
   * chromedriver's session (cdp), whose overrides the page is rendered with.
   */
  async direct<T = Record<string, unknown>>(method: string, params: object = {}, timeoutMs = this.commandTimeoutMs): Promise<T> {
    const guard = this.guard;
    if (!guard || guard.closed) return this.cdp<T>(method, params, timeoutMs);
    if (this.deadline !== undefined) timeoutMs = Math.min(timeoutMs, this.deadline - Date.now() + 250);
    try {
      return await guard.command<T>(method, params, Math.max(250, timeoutMs));
    } catch (e) {
      throw this.failed(e, method);
    }
  }

  /**
   * What a failed command means: out of time when the render's deadline passed while it
   * waited, else (for errors that leave Chrome in doubt) a broken session.
   */
  private failed(e: unknown, method: string): unknown {
    if (this.deadline !== undefined && Date.now() >= this.deadline && /took longer than/.test(String((e as Error)?.message))) {
      return new OutOfTime(`DevTools ${method} had not answered by the render's deadline`);
    }
    this.broken ||= isFatal(e);
    return e;
  }

  /** Called once when the session is created. */
  async prepareTab(): Promise<void> {
    await this.cdp('Page.enable');
    await this.cdp('Page.addScriptToEvaluateOnNewDocument', { source: TRACKER_SOURCE });
  }

  /** Chrome's user agent without "Headless", as Grafana's users' browsers send it. */
  async userAgent(): Promise<string> {
    this.ua ??= (await this.cdp<{ userAgent: string }>('Browser.getVersion')).userAgent.replace('HeadlessChrome', 'Chrome');
    return this.ua;
  }

  /**
   * For this render, requests to the hosts our cookies go to may reach `policy.origin` only
   * (others fail before they leave), and the bearer token is added to that origin's only.
   */
  async guardOrigin(policy: GuardPolicy): Promise<void> {
    await (await this.devtools()).arm(policy);
  }

  /**
   * The session's one browser-level DevTools connection (chromedriver's command path only
   * reaches the tab, and carries no events), opened on first use and kept for the
   * session's life: the origin guard lives on it, and so do browser commands and events.
   */
  private async devtools(): Promise<OriginGuard> {
    if (!this.guard || this.guard.closed) {
      // The session keeps its one tab for life: one DevTools connection, opened once.
      const target = (this.devtoolsTarget ??= await this.findDevtoolsTarget());
      const guard = await withTimeout(OriginGuard.open(target.wsUrl, target.targetId), this.commandTimeoutMs, 'DevTools attach');
      // Without its guard this Chrome must not render again.
      guard.onClose(() => {
        if (this.guard === guard) this.broken = true;
      });
      try {
        // A headless Chrome saves what a page downloads wherever its profile says (or the
        // working directory): no page may write to our disk unless a render asks for
        // exactly that (render/csv.ts), and then only into a directory of its own.
        const send = <T>(method: string, params: object) => guard.socket.send<T>(method, params, undefined, this.commandTimeoutMs);
        if (!this.handle.cdpWebSocketUrl && this.contextId === undefined) {
          const { targetInfo } = await send<{ targetInfo: { browserContextId?: string } }>('Target.getTargetInfo', { targetId: target.targetId });
          if (!targetInfo.browserContextId) throw new Error('Chrome reported no browser context for the session\'s tab');
          this.contextId = targetInfo.browserContextId;
        }
        await send('Browser.setDownloadBehavior', { behavior: 'deny', ...this.contextParam() });
      } catch (e) {
        guard.close();
        this.broken ||= isFatal(e);
        throw e;
      }
      this.guard = guard;
    }
    return this.guard;
  }

  /** A browser-level DevTools command (not bound to the tab), on the session's own connection. */
  async browserCommand<T = Record<string, unknown>>(method: string, params: object = {}, timeoutMs = this.commandTimeoutMs): Promise<T> {
    const guard = await this.devtools();
    if (this.deadline !== undefined) timeoutMs = Math.min(timeoutMs, this.deadline - Date.now() + 250);
    try {
      return await guard.socket.send<T>(method, params, undefined, Math.max(250, timeoutMs));
    } catch (e) {
      this.broken ||= isFatal(e) || guard.closed;
      throw e;
    }
  }

  /**
   * Browser-level events (Browser.download*) on the session's connection; the function
   * returned stops them. Chrome sends every browser-level connection the events of all
   * its browser contexts (seen with Chromium 156): listeners must check which are theirs.
   */
  async onBrowserEvent(listener: (e: CdpEvent) => void): Promise<() => void> {
    return (await this.devtools()).socket.onEvent(listener);
  }

  /**
   * The id of this session's browser context (cookies, storage, downloads apart from the
   * other sessions of the same Chrome), learnt from its tab's target info when the
   * connection opened. A Grid session has none of its own: it is a whole Chrome.
   */
  async browserContextId(): Promise<string | undefined> {
    await this.devtools();
    return this.contextId;
  }

  /**
   * `browserContextId` for Browser.setDownloadBehavior. A Selenium Grid session is a whole
   * Chrome in its default context, which that command only takes without an id.
   */
  private contextParam(): { browserContextId?: string } {
    return this.contextId === undefined ? {} : { browserContextId: this.contextId };
  }

  /** Download behaviour of this session's browser context (render/csv.ts). */
  async setDownloadBehavior(params: { behavior: 'deny' } | { behavior: 'allowAndName'; downloadPath: string; eventsEnabled: boolean }): Promise<void> {
    await this.devtools();
    await this.browserCommand('Browser.setDownloadBehavior', { ...params, ...this.contextParam() });
  }

  /** Origins the guard stopped requests to during this render. */
  get blockedOrigins(): string[] {
    return [...(this.guard?.blocked ?? [])];
  }

  private async findDevtoolsTarget(): Promise<{ wsUrl: string; targetId: string }> {
    const wsUrl = this.handle.cdpWebSocketUrl ?? (this.handle.debuggerAddress ? await browserWebSocketUrl(this.handle.debuggerAddress) : undefined);
    if (!wsUrl) throw new Error('this Chrome session offers no DevTools websocket, which request interception needs (a Grid must offer se:cdp)');
    const targetId = await withTimeout(Promise.resolve(this.handle.driver.getWindowHandle()), this.commandTimeoutMs, 'getWindowHandle');
    return { wsUrl, targetId };
  }

  noteOrigin(href: string): void {
    try {
      const o = new URL(href).origin;
      if (o.startsWith('http')) this.visitedOrigins.add(o);
    } catch {
      /* about:blank and friends */
    }
  }

  /**
   * The viewport (device metrics) for this render, set on our own DevTools connection:
   * Chrome scales a screenshot by the device metrics of the DevTools session that takes it,
   * and screenshots are taken on that connection (direct). Set through chromedriver's
   * session instead, a deviceScaleFactor=2 render was laid out right but captured at 1×.
   * The override stays in force across navigations and resets for as long as that
   * connection lives, so a render at the size of the last one in this tab (most are)
   * costs no command.
   */
  async setViewport(width: number, height: number, scale: number): Promise<void> {
    const connection = await this.devtools();
    const key = `${width}x${height}@${scale}`;
    if (key === this.viewport && connection === this.viewportOn) return;
    this.viewport = undefined;
    await this.direct('Emulation.setDeviceMetricsOverride', { width, height, deviceScaleFactor: scale, mobile: false, screenWidth: width, screenHeight: height });
    this.viewport = key;
    this.viewportOn = connection;
  }

  /**
   * Moves the mouse off the page. chromium-headless-shell takes a mouse that never moved to
   * be at (0,0) of each new document, so the element drawn there is :hover (a panel then
   * shows its hover-only menu); a point outside the viewport hovers nothing.
   */
  async parkPointer(): Promise<void> {
    await this.direct('Input.dispatchMouseEvent', { type: 'mouseMoved', x: -1, y: -1 });
  }

  /**
   * Cookies for this render, in one command on the session's own DevTools connection
   * (cookies belong to the tab's browser context, not to a DevTools session). Chrome
   * refuses the whole command when it refuses a cookie.
   */
  async setCookies(cookies: object[]): Promise<void> {
    if (!cookies.length) return;
    await this.devtools();
    await this.direct('Network.setCookies', { cookies });
  }

  /** Timezone override for this render, or none (clears an earlier one). */
  async setTimezone(timezoneId: string | undefined): Promise<void> {
    if (!timezoneId && !this.timezoneSet) return;
    await this.cdp('Emulation.setTimezoneOverride', { timezoneId: timezoneId ?? '' });
    this.timezoneSet = !!timezoneId;
  }

  /** navigator.language(s), Intl's locale and the Accept-Language header, as a user's browser sends them. */
  async setLanguage(acceptLanguage: string | undefined): Promise<void> {
    if (!acceptLanguage && !this.languageSet) return;
    this.defaultLanguage ??= await this.evaluate<string>("navigator.languages.join(',')");
    await this.cdp('Network.setUserAgentOverride', { userAgent: await this.userAgent(), acceptLanguage: acceptLanguage ?? this.defaultLanguage });
    const locale = acceptLanguage?.split(',')[0]!.split(';')[0]!.trim();
    await this.cdp('Emulation.setLocaleOverride', locale && locale !== '*' ? { locale } : {}).catch(() => undefined);
    this.languageSet = !!acceptLanguage;
  }

  async evaluate<T>(expression: string): Promise<T> {
    const r = await this.cdp<{ result?: { value?: T } }>('Runtime.evaluate', { expression, returnByValue: true });
    return r.result?.value as T;
  }

  /**
   * Wipes everything one render could leave for the next, in the same tab (a new tab would
   * cost a new renderer process and a cold start on every render): the page is replaced by
   * about:blank, cookies of this session's browser context go, every origin the render touched loses its
   * storage (local, session, IndexedDB, cache storage, service workers), and language and
   * timezone overrides are undone. Auth and the origin guard's rules are set anew by every
   * render (the guard keeps the last render's rules until then), the viewport when it
   * differs from the last one.
   */
  async reset(): Promise<void> {
    await this.cdp('Page.navigate', { url: 'about:blank' });
    const origins = [...this.visitedOrigins];
    this.visitedOrigins.clear();
    // The page is gone; what is left to undo lives in three places that work in parallel:
    // cookies and storage in the browser, window.name and the garbage in the renderer,
    // the language and timezone overrides on chromedriver's DevTools session. One after
    // the other these took ~130 ms under load, and a render waiting for a session waits
    // for them (docs/adr/0013-latency-over-the-floor.md).
    await Promise.all([
      this.direct('Network.clearBrowserCookies'),
      // 'all' includes this tab's sessionStorage for the origin (test/hostile.test.ts checks).
      ...origins.map((origin) => this.direct('Storage.clearDataForOrigin', { origin, storageTypes: 'all' })),
      (async () => {
        // The last page's garbage (its V8 heap, the DOM it left) stays in this tab's
        // renderer until V8 needs room, and the renderers swell render after render.
        // Collect it now, between renders, in this renderer only (each browser context has
        // its own): measured in docs/adr/0011-peak-memory.md. With an ordinary full GC
        // (chromeFlags' GC_FUNCTION), not HeapProfiler.collectGarbage: that one is V8's
        // low-memory GC, which also drops the compiled code of Grafana's bundle, and the
        // next render compiled it again, ~50 ms of every render (ADR 19).
        const r = await this.direct<{ result?: { value?: boolean } }>('Runtime.evaluate', { expression: `window.name = ''; typeof ${GC_FUNCTION} === 'function' && (${GC_FUNCTION}(), true)`, returnByValue: true });
        // A Chrome without our flag (a Grid node that drops --js-flags): the low-memory GC.
        if (r.result?.value !== true) await this.direct('HeapProfiler.collectGarbage');
      })(),
      (async () => {
        await this.setTimezone(undefined);
        await this.setLanguage(undefined);
      })(),
    ]);
  }

  /**
   * Before each render (the pool's testOnBorrow): Chrome and the tab answer on the
   * session's own DevTools connection, one round trip straight to Chrome: a median of
   * 2.1 ms of every render's latency, against 5.2 ms through chromedriver's HTTP (alive),
   * 12 renders each. chromedriver's own death marks the session broken through its exit
   * callback, and the heartbeat checks the whole path (alive) while the session is idle.
   */
  answers(): Promise<boolean> {
    return this.evaluatesOn('direct');
  }

  /** The whole path answers: chromedriver, Chrome and the tab. */
  alive(): Promise<boolean> {
    return this.evaluatesOn('cdp');
  }

  private async evaluatesOn(path: 'direct' | 'cdp'): Promise<boolean> {
    if (this.broken) return false;
    try {
      await this[path]('Runtime.evaluate', { expression: '1', returnByValue: true }, 3000);
      return true;
    } catch {
      return false;
    }
  }

  close(): Promise<void> {
    this.offExit?.();
    this.guard?.close();
    return this.handle.close();
  }
}

/** Errors after which Chrome cannot be trusted with another render. */
function isFatal(e: unknown): boolean {
  const msg = String((e as Error)?.message ?? e);
  return /took longer than|ECONNREFUSED|ECONNRESET|socket hang up|invalid session id|session deleted|chrome not reachable|disconnected|target (window|frame) already closed|no such window/i.test(msg);
}

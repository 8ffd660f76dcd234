// One warm Chrome (one WebDriver session) and the DevTools commands a render needs.
// Every command is bounded in time: a hung chromedriver must fail the render, not hang it.
import type { DriverHandle } from './driver';
import { withTimeout } from './driver';
import { TRACKER_SOURCE } from '../render/pageSignals';
import { browserWebSocketUrl } from './cdpSocket';
import { OriginGuard, type GuardPolicy } from './originGuard';

let nextId = 1;

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
  private ua?: string;
  private defaultLanguage?: string;
  private timezoneSet = false;
  private languageSet = false;
  /** The current render's deadline: no command may outlive it by more than a moment. */
  deadline?: number;

  constructor(readonly handle: DriverHandle, private readonly commandTimeoutMs = 15_000) {
    handle.onExit?.(() => {
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
      this.broken ||= isFatal(e);
      throw e;
    }
  }

  /**
   * A read-only DevTools command on the tab (the page-state poll, a screenshot) over the
   * origin guard's own websocket when it is open, else through chromedriver. These run
   * every few ms during a render: straight to Chrome they skip chromedriver's HTTP
   * round trip and its JSON re-encoding of every screenshot. Commands that change the
   * tab (navigation, emulation, cookies) stay on chromedriver's session, whose overrides
   * the page is rendered with.
   */
  async read<T = Record<string, unknown>>(method: string, params: object = {}, timeoutMs = this.commandTimeoutMs): Promise<T> {
    const guard = this.guard;
    if (!guard || guard.closed) return this.cdp<T>(method, params, timeoutMs);
    if (this.deadline !== undefined) timeoutMs = Math.min(timeoutMs, this.deadline - Date.now() + 250);
    try {
      return await guard.command<T>(method, params, Math.max(250, timeoutMs));
    } catch (e) {
      this.broken ||= isFatal(e);
      throw e;
    }
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
    if (!this.guard || this.guard.closed) {
      // The session keeps its one tab for life: one DevTools connection, opened once.
      this.devtoolsTarget ??= await this.findDevtoolsTarget();
      const guard = await withTimeout(OriginGuard.open(this.devtoolsTarget.wsUrl, this.devtoolsTarget.targetId), this.commandTimeoutMs, 'DevTools attach');
      // Without its guard this Chrome must not render again.
      guard.onClose(() => {
        if (this.guard === guard) this.broken = true;
      });
      this.guard = guard;
    }
    await this.guard.arm(policy);
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
   * timezone overrides are undone. Viewport, auth and the origin guard's rules are set
   * anew by every render (the guard keeps the last render's rules until then).
   */
  async reset(): Promise<void> {
    await this.cdp('Page.navigate', { url: 'about:blank' });
    await this.cdp('Network.clearBrowserCookies');
    for (const origin of this.visitedOrigins) {
      // 'all' includes this tab's sessionStorage for the origin (test/hostile.test.ts checks).
      await this.cdp('Storage.clearDataForOrigin', { origin, storageTypes: 'all' });
    }
    this.visitedOrigins.clear();
    await this.setTimezone(undefined);
    await this.setLanguage(undefined);
    await this.evaluate("window.name = ''");
    // The last page's garbage (its V8 heap, the DOM it left) stays in this tab's renderer
    // until V8 needs room, and the renderers swell render after render. Collect it now,
    // between renders, in this renderer only (each browser context has its own): measured
    // in docs/adr/0011-peak-memory.md.
    await this.cdp('HeapProfiler.collectGarbage');
  }

  async alive(): Promise<boolean> {
    if (this.broken) return false;
    try {
      await this.cdp('Runtime.evaluate', { expression: '1', returnByValue: true }, 3000);
      return true;
    } catch {
      return false;
    }
  }

  close(): Promise<void> {
    this.guard?.close();
    return this.handle.close();
  }
}

/** Errors after which Chrome cannot be trusted with another render. */
function isFatal(e: unknown): boolean {
  const msg = String((e as Error)?.message ?? e);
  return /took longer than|ECONNREFUSED|ECONNRESET|socket hang up|invalid session id|session deleted|chrome not reachable|disconnected|target (window|frame) already closed|no such window/i.test(msg);
}

// Several pool sessions in one Chrome. Each Chrome costs ~240 MiB before it renders
// anything (browser, GPU, network and storage processes, zygotes); its tabs cost ~50-90
// MiB each. So by default one Chrome serves up to TABS_PER_CHROME sessions, and every
// session still is a WebDriver session of its own, driven through chromedriver:
//   - the host is one chromedriver + one Chrome (started by startLocalChrome);
//   - a session is a second WebDriver session on that chromedriver, attached to the same
//     Chrome (goog:chromeOptions.debuggerAddress) and switched to a tab of its own, in a
//     browser context of its own, so cookies and storage never cross between sessions.
// Browser contexts can only be made on the browser-level DevTools socket (a tab's
// DevTools session may not), hence the CdpSocket. A host quits when its last session
// leaves, and takes no new sessions once it has served its share of renders.
import chrome from 'selenium-webdriver/chrome';
import http from 'selenium-webdriver/http';
import { browserWebSocketUrl, CdpSocket } from './cdpSocket';
import { startLocalChrome, withTimeout, type DriverHandle, type DriverOptions, type LocalChrome } from './driver';

interface Host {
  chrome: LocalChrome;
  socket: CdpSocket;
  sessions: number;
  /** Sessions handed out over the host's life; past the limit it takes no more. */
  served: number;
  dead: boolean;
  /** Takes no new sessions (grew past RECYCLE_MEMORY_MB); quits when its last one leaves. */
  retiring: boolean;
}

export class ChromeHosts {
  private readonly hosts: Host[] = [];
  private starting?: Promise<Host>;

  constructor(
    private readonly opts: DriverOptions,
    private readonly tabsPerChrome: number,
    /** Sessions one Chrome serves before it is retired (0 = no limit). */
    private readonly sessionsPerChrome: number,
  ) {}

  async createSession(): Promise<DriverHandle> {
    const host = await this.hostWithRoom();
    host.sessions++;
    host.served++;
    let contextId: string | undefined;
    try {
      const { browserContextId } = await host.socket.send<{ browserContextId: string }>('Target.createBrowserContext', { disposeOnDetach: false });
      contextId = browserContextId;
      const { targetId } = await host.socket.send<{ targetId: string }>('Target.createTarget', { url: 'about:blank', browserContextId });
      const o = new chrome.Options();
      o.debuggerAddress(host.chrome.debuggerAddress);
      o.setPageLoadStrategy('none');
      const driver = await withTimeout(
        Promise.resolve(chrome.Driver.createSession(o, new http.Executor(new http.HttpClient(host.chrome.serverUrl)))),
        this.opts.startTimeoutMs,
        'attached session start',
      );
      await withTimeout(Promise.resolve(driver.switchTo().window(targetId)), this.opts.startTimeoutMs, 'switch to tab');
      let closed = false;
      return {
        driver,
        pgid: host.chrome.pgid,
        debuggerAddress: host.chrome.debuggerAddress,
        onExit: (cb) => host.chrome.onExit(cb),
        retire: () => {
          host.retiring = true;
        },
        retired: () => host.retiring || host.dead,
        close: async () => {
          if (closed) return;
          closed = true;
          // The seat is free at once: the pool creates the replacement while this one is
          // still closing, and it must land in this Chrome, not start a second one.
          host.sessions--;
          // quit() of an attached session leaves Chrome running; the context takes its tab along.
          await withTimeout(Promise.resolve(driver.quit()), 3000, 'quit').catch(() => undefined);
          await host.socket.send('Target.disposeBrowserContext', { browserContextId }, undefined, 3000).catch(() => undefined);
          await this.quitIfUnused(host);
        },
      };
    } catch (e) {
      if (contextId) await host.socket.send('Target.disposeBrowserContext', { browserContextId: contextId }, undefined, 3000).catch(() => undefined);
      await this.leave(host);
      throw e;
    }
  }

  /** Quits every Chrome (the pool has closed its sessions already, or gave up waiting). */
  async stop(): Promise<void> {
    await Promise.all([...this.hosts].map((h) => this.quit(h)));
  }

  private async hostWithRoom(): Promise<Host> {
    for (;;) {
      const h = this.hosts.find((x) => !x.dead && x.sessions < this.tabsPerChrome && !this.retired(x));
      if (h) return h;
      if (!this.starting) {
        this.starting = this.startHost().finally(() => {
          this.starting = undefined;
        });
        return this.starting;
      }
      await this.starting.catch(() => undefined);
    }
  }

  private retired(h: Host): boolean {
    return h.retiring || (this.sessionsPerChrome > 0 && h.served >= this.sessionsPerChrome);
  }

  private async startHost(): Promise<Host> {
    const local = await startLocalChrome(this.opts);
    let socket: CdpSocket;
    try {
      socket = await CdpSocket.open(await browserWebSocketUrl(local.debuggerAddress));
    } catch (e) {
      await local.close();
      throw e;
    }
    const host: Host = { chrome: local, socket, sessions: 0, served: 0, dead: false, retiring: false };
    // chromedriver exiting, or Chrome itself dying (its DevTools socket closes): either way
    // this host serves no more; its sessions notice on their next command.
    const died = () => {
      host.dead = true;
      if (host.sessions === 0) void this.quit(host);
    };
    local.onExit(died);
    socket.onClose(died);
    this.hosts.push(host);
    return host;
  }

  private async leave(host: Host): Promise<void> {
    host.sessions--;
    await this.quitIfUnused(host);
  }

  private async quitIfUnused(host: Host): Promise<void> {
    if (host.sessions > 0) return;
    // Nobody left on this Chrome: quit it if it is dead or retired, or if another host can
    // take the next session; otherwise keep it warm for the replacement.
    if (host.dead || this.retired(host) || this.hosts.some((h) => h !== host && !h.dead && h.sessions < this.tabsPerChrome)) {
      await this.quit(host);
    }
  }

  private async quit(host: Host): Promise<void> {
    const i = this.hosts.indexOf(host);
    if (i < 0) return;
    this.hosts.splice(i, 1);
    host.socket.close();
    await host.chrome.close();
  }
}

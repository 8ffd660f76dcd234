// The one place a Chrome session is born. Local mode starts our own chromedriver (so we
// know its process group and can kill Chrome with it), which chromeHost.ts shares between
// up to TABS_PER_CHROME sessions; Grid mode asks a Selenium Grid 4 for a session. Everything
// above sees the same DriverHandle from the same createDriver() (factory.ts), so moving to
// a Grid is a configuration change (SELENIUM_REMOTE_URL).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import chrome from 'selenium-webdriver/chrome';
import http from 'selenium-webdriver/http';
import { chromeFlags } from './chromeFlags';
import { killGroup } from './processes';
import { watchdog } from './watchdog';
import { deleteOnNode, gridStatus, GridError, isChromeName, whyNoChromeSlot } from './grid';

export interface DriverOptions {
  chromeBin: string;
  chromedriverPath: string;
  seleniumRemoteUrl?: string;
  extraArgs: string[];
  /** Extra environment for chromedriver and Chrome (e.g. HOME with a trusted CA). */
  env?: Record<string, string>;
  /** Bounds chromedriver start-up and session creation. */
  startTimeoutMs: number;
  /** Local mode: sessions that share one Chrome, each in its own browser context. */
  tabsPerChrome?: number;
  /** Local mode: sessions one Chrome serves before it is replaced (0 = no limit). */
  sessionsPerChrome?: number;
  /** Grid mode: the nodes' registration secret, to delete sessions a restarted hub forgot. */
  gridRegistrationSecret?: string;
}

export interface DriverHandle {
  driver: chrome.Driver;
  /** chromedriver's process group (Chrome included); undefined for a Grid session. */
  pgid?: number;
  /** host:port of Chrome's DevTools endpoint when reachable from here (local mode). */
  debuggerAddress?: string;
  /** Browser-level DevTools websocket offered by a Selenium Grid (capability se:cdp). */
  cdpWebSocketUrl?: string;
  /** Grid mode: the WebDriver session id. */
  gridSessionId?: string;
  /**
   * Registers a callback for the death of chromedriver (local mode only); returns its
   * removal. A Chrome outlives many sessions (RECYCLE_AFTER, RECYCLE_MEMORY_MB): each
   * session removes its callback when it closes, or the Chrome's process object would
   * collect one per session, each holding its session.
   */
  onExit?(cb: () => void): () => void;
  /** Local mode: let this session's Chrome take no new sessions (e.g. it grew too big). */
  retire?(): void;
  /** Local mode: this session's Chrome takes no new sessions (it failed or grew too big). */
  retired?(): boolean;
  /** Quit politely within a short deadline, then kill whatever is left. Never throws. */
  close(): Promise<void>;
}

/** Each local Chrome's directory in the temporary directory: `<prefix><our pid>-…`. */
export const CHROME_DIR_PREFIX = 'panelshot-chrome-';

/** One chromedriver with one Chrome, and the WebDriver session that started it. */
export interface LocalChrome {
  driver: chrome.Driver;
  pgid: number;
  debuggerAddress: string;
  /** chromedriver's own URL, for more sessions attached to this Chrome. */
  serverUrl: string;
  onExit(cb: () => void): () => void;
  close(): Promise<void>;
}

function chromeOptions(opts: DriverOptions): chrome.Options {
  const o = new chrome.Options();
  if (opts.chromeBin) o.setChromeBinaryPath(opts.chromeBin);
  o.addArguments(...chromeFlags(opts.extraArgs));
  // We navigate with the DevTools protocol and decide readiness ourselves.
  o.setPageLoadStrategy('none');
  return o;
}

export async function startLocalChrome(opts: DriverOptions): Promise<LocalChrome> {
  const port = await freePort();
  const chromeDir = fs.mkdtempSync(path.join(os.tmpdir(), `${CHROME_DIR_PREFIX}${process.pid}-`));
  // detached: chromedriver leads a new process group that Chrome inherits, so one kill
  // takes all of them, and Ctrl-C in a terminal reaches Node (which shuts down in order) only.
  // chromedriver makes Chrome's profile itself, under TMPDIR, i.e. inside this directory,
  // which goes with the Chrome however it ends. (Given a --user-data-dir of ours, chromedriver
  // opens no first tab, and chromium-headless-shell then has none: "unable to discover open
  // pages".) Chrome's own temporary files land here too.
  const child = spawn(opts.chromedriverPath, [`--port=${port}`, '--allowed-ips=127.0.0.1', '--log-level=OFF'], {
    detached: true,
    stdio: 'ignore',
    env: { ...process.env, ...opts.env, TMPDIR: chromeDir, PANELSHOT_OWNER_PID: String(process.pid) },
  });
  child.unref();
  const pgid = child.pid;
  if (pgid === undefined) throw new Error(`cannot start chromedriver at ${opts.chromedriverPath}`);
  watchdog.watch(pgid);
  let closed = false;
  // The directory goes once the group is killed. Awaited by close(): a service that shuts
  // down exits right after, and an unfinished removal left the whole profile behind (every
  // SIGTERM did, until 2026-12-01). Retried: Chrome may still be writing files as it dies.
  const kill = (): Promise<void> => {
    killGroup(pgid);
    watchdog.unwatch(pgid);
    return fs.promises.rm(chromeDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 }).catch(() => undefined);
  };
  try {
    const url = `http://127.0.0.1:${port}`;
    await waitForStatus(url, opts.startTimeoutMs, () => child.exitCode !== null);
    const driver = await withTimeout(
      Promise.resolve(chrome.Driver.createSession(chromeOptions(opts), new http.Executor(new http.HttpClient(url)))),
      opts.startTimeoutMs,
      'Chrome session start',
    );
    const caps = await driver.getCapabilities();
    const debuggerAddress = (caps.get('goog:chromeOptions') as { debuggerAddress?: string } | undefined)?.debuggerAddress;
    if (!debuggerAddress) throw new Error('chromedriver reported no debugger address for Chrome');
    return {
      driver,
      pgid,
      debuggerAddress: debuggerAddress.replace('localhost', '127.0.0.1'),
      serverUrl: url,
      onExit: (cb) => {
        if (child.exitCode !== null || child.signalCode !== null) {
          cb();
          return () => undefined;
        }
        child.once('exit', cb);
        return () => void child.off('exit', cb);
      },
      async close() {
        if (closed) return;
        closed = true;
        await withTimeout(Promise.resolve(driver.quit()), 3000, 'quit').catch(() => undefined);
        await kill();
      },
    };
  } catch (e) {
    void kill();
    throw e;
  }
}

export async function createGridDriver(opts: DriverOptions): Promise<DriverHandle> {
  const gridUrl = opts.seleniumRemoteUrl!;
  // Ask only when a Chrome slot is free: a request the Grid cannot serve would wait in its
  // session queue (300 s by default) and hang whoever waits for it.
  const why = whyNoChromeSlot(await gridStatus(gridUrl), gridUrl);
  if (why) throw why;
  const driver = chrome.Driver.createSession(chromeOptions(opts), new http.Executor(new http.HttpClient(gridUrl)));
  let caps: Awaited<ReturnType<chrome.Driver['getCapabilities']>>;
  try {
    // createSession returns at once; the session (and so its capabilities) is the wait.
    caps = await withTimeout(Promise.resolve(driver.getCapabilities()), opts.startTimeoutMs, 'Grid session start');
  } catch (e) {
    // A request still queued in the Grid may be served later: quit that session when it comes.
    Promise.resolve(driver.getSession())
      .then(() => driver.quit())
      .catch(() => undefined);
    const msg = String((e as Error).message ?? e).split('\n')[0]!.slice(0, 200);
    if (/took longer than/.test(msg)) throw new GridError('full', `Selenium Grid at ${new URL(gridUrl).origin} gave no session within ${opts.startTimeoutMs} ms (its slots are taken)`);
    if (/ECONNREFUSED|ECONNRESET|socket hang up|ENOTFOUND|EHOSTUNREACH/.test(msg)) throw new GridError('unreachable', `Selenium Grid at ${new URL(gridUrl).origin} is unreachable (${msg})`);
    throw new GridError('failed', `Selenium Grid at ${new URL(gridUrl).origin} could not start a Chrome session: ${msg}`);
  }
  const sessionId = (await driver.getSession()).getId();
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    const quit = await withTimeout(Promise.resolve(driver.quit()), 5000, 'quit').then(
      () => true,
      () => false,
    );
    // After a hub restart the hub no longer knows the session, but its node still holds the slot.
    if (!quit) await deleteOnNode(gridUrl, sessionId, opts.gridRegistrationSecret ?? '');
  };
  const browserName = caps.get('browserName') as string | undefined;
  if (!isChromeName(browserName)) {
    await close();
    throw new GridError('no_chrome', `Selenium Grid at ${new URL(gridUrl).origin} gave a ${browserName ?? 'unnamed'} session; panelshot needs Chrome or Chromium`);
  }
  return {
    driver,
    cdpWebSocketUrl: reachableCdpUrl(caps.get('se:cdp') as string | undefined, gridUrl),
    gridSessionId: sessionId,
    close,
  };
}

/**
 * The Grid's DevTools proxy (se:cdp) on the address we reach the Grid at: a hub advertises
 * the address it found for itself (often not the one clients use: another interface, a
 * container's IP), but serves the same path wherever it is reached.
 */
export function reachableCdpUrl(seCdp: string | undefined, gridUrl: string): string | undefined {
  if (!seCdp) return undefined;
  try {
    const cdp = new URL(seCdp);
    const grid = new URL(gridUrl);
    cdp.protocol = grid.protocol === 'https:' ? 'wss:' : 'ws:';
    cdp.host = grid.host;
    cdp.username = grid.username;
    cdp.password = grid.password;
    // A Grid under a path prefix (e.g. /wd/hub): the session path lives under it too.
    const prefix = grid.pathname.replace(/\/wd\/hub\/?$/, '').replace(/\/$/, '');
    if (prefix && !cdp.pathname.startsWith(`${prefix}/`)) cdp.pathname = prefix + cdp.pathname;
    return cdp.toString();
  } catch {
    return seCdp;
  }
}

/** A free TCP port on 127.0.0.1 (also used by the tests, the demo and the benchmark). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function waitForStatus(url: string, timeoutMs: number, died: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (died()) throw new Error('chromedriver exited during start-up');
    try {
      const res = await fetch(`${url}/status`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`chromedriver did not answer within ${timeoutMs} ms`);
}

/** Rejects after `ms`; the underlying promise is left to settle on its own. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
    }),
  ]);
}

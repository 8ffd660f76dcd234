// The one place a Chrome session is born. Local mode starts our own chromedriver (so we
// know its process group and can kill Chrome with it) and shares each Chrome between up
// to TABS_PER_CHROME sessions (chromeHost.ts); Grid mode asks a Selenium Grid 4 for a
// session. Everything above this file sees the same DriverHandle from the same
// createDriver(), so moving to a Grid is a configuration change (SELENIUM_REMOTE_URL).
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
import { ChromeHosts } from './chromeHost';

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
}

export interface DriverHandle {
  driver: chrome.Driver;
  /** chromedriver's process group (Chrome included); undefined for a Grid session. */
  pgid?: number;
  /** host:port of Chrome's DevTools endpoint when reachable from here (local mode). */
  debuggerAddress?: string;
  /** Browser-level DevTools websocket offered by a Selenium Grid (capability se:cdp). */
  cdpWebSocketUrl?: string;
  /** Registers a callback for the death of chromedriver (local mode only). */
  onExit?(cb: () => void): void;
  /** Local mode: let this session's Chrome take no new sessions (e.g. it grew too big). */
  retire?(): void;
  /** Local mode: this session's Chrome takes no new sessions (it failed or grew too big). */
  retired?(): boolean;
  /** Quit politely within a short deadline, then kill whatever is left. Never throws. */
  close(): Promise<void>;
}

export interface DriverFactory {
  /** A new session: the one function the pool calls. */
  createDriver(): Promise<DriverHandle>;
  /** Quits every Chrome this factory started. */
  stop(): Promise<void>;
}

export function driverFactory(opts: DriverOptions): DriverFactory {
  if (opts.seleniumRemoteUrl) return { createDriver: () => createGridDriver(opts), stop: async () => undefined };
  const hosts = new ChromeHosts(opts, Math.max(1, opts.tabsPerChrome ?? 1), opts.sessionsPerChrome ?? 0);
  return { createDriver: () => hosts.createSession(), stop: () => hosts.stop() };
}

/** One chromedriver with one Chrome, and the WebDriver session that started it. */
export interface LocalChrome {
  driver: chrome.Driver;
  pgid: number;
  debuggerAddress: string;
  /** chromedriver's own URL, for more sessions attached to this Chrome. */
  serverUrl: string;
  onExit(cb: () => void): void;
  close(): Promise<void>;
}

function chromeOptions(opts: DriverOptions, userDataDir: string | undefined): chrome.Options {
  const o = new chrome.Options();
  if (opts.chromeBin) o.setChromeBinaryPath(opts.chromeBin);
  o.addArguments(...chromeFlags(userDataDir, opts.extraArgs));
  // We navigate with the DevTools protocol and decide readiness ourselves.
  o.setPageLoadStrategy('none');
  return o;
}

export async function startLocalChrome(opts: DriverOptions): Promise<LocalChrome> {
  const port = await freePort();
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'panelshot-chrome-'));
  // detached: chromedriver leads a new process group that Chrome inherits, so one kill
  // takes all of them, and Ctrl-C in a terminal reaches Node (which shuts down in order) only.
  const child = spawn(opts.chromedriverPath, [`--port=${port}`, '--allowed-ips=127.0.0.1', '--log-level=OFF'], {
    detached: true,
    stdio: 'ignore',
    env: { ...process.env, ...opts.env, PANELSHOT_OWNER_PID: String(process.pid) },
  });
  child.unref();
  const pgid = child.pid;
  if (pgid === undefined) throw new Error(`cannot start chromedriver at ${opts.chromedriverPath}`);
  watchdog.watch(pgid);
  let closed = false;
  const kill = () => {
    killGroup(pgid);
    watchdog.unwatch(pgid);
    fs.rm(userDataDir, { recursive: true, force: true }, () => undefined);
  };
  try {
    const url = `http://127.0.0.1:${port}`;
    await waitForStatus(url, opts.startTimeoutMs, () => child.exitCode !== null);
    const driver = await withTimeout(
      Promise.resolve(chrome.Driver.createSession(chromeOptions(opts, userDataDir), new http.Executor(new http.HttpClient(url)))),
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
        if (child.exitCode !== null || child.signalCode !== null) cb();
        else child.once('exit', cb);
      },
      async close() {
        if (closed) return;
        closed = true;
        await withTimeout(Promise.resolve(driver.quit()), 3000, 'quit').catch(() => undefined);
        kill();
      },
    };
  } catch (e) {
    kill();
    throw e;
  }
}

async function createGridDriver(opts: DriverOptions): Promise<DriverHandle> {
  const driver = await withTimeout(
    Promise.resolve(chrome.Driver.createSession(chromeOptions(opts, undefined), new http.Executor(new http.HttpClient(opts.seleniumRemoteUrl!)))),
    opts.startTimeoutMs,
    'Grid session start',
  );
  const seCdp = (await driver.getCapabilities()).get('se:cdp') as string | undefined;
  let closed = false;
  return {
    driver,
    cdpWebSocketUrl: seCdp,
    async close() {
      if (closed) return;
      closed = true;
      await withTimeout(Promise.resolve(driver.quit()), 5000, 'quit').catch(() => undefined);
    },
  };
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

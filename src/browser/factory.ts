// Where the pool's sessions come from: local Chromes shared between sessions
// (chromeHost.ts, over driver.ts's startLocalChrome) or a Selenium Grid (driver.ts). Kept
// apart from both so that imports point one way: chromeHost.ts uses driver.ts, and this
// file uses both.
import os from 'node:os';
import { ChromeHosts } from './chromeHost';
import { CHROME_DIR_PREFIX, createGridDriver, type DriverHandle, type DriverOptions } from './driver';
import { removeLeftovers } from './processes';

export interface DriverFactory {
  /** A new session: the one function the pool calls. */
  createDriver(): Promise<DriverHandle>;
  /** Quits every Chrome this factory started. */
  stop(): Promise<void>;
}

export function driverFactory(opts: DriverOptions): DriverFactory {
  if (opts.seleniumRemoteUrl) return { createDriver: () => createGridDriver(opts), stop: async () => undefined };
  // What a SIGKILLed panelshot left behind goes before this one starts its own.
  removeLeftovers(os.tmpdir(), CHROME_DIR_PREFIX);
  const hosts = new ChromeHosts(opts, Math.max(1, opts.tabsPerChrome ?? 1), opts.sessionsPerChrome ?? 0);
  return { createDriver: () => hosts.createSession(), stop: () => hosts.stop() };
}

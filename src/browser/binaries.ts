// Finds Chrome and chromedriver and checks that they belong together: a chromedriver of
// another major version fails every session with an obscure error, so we say it at start.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../config';

export interface Binaries {
  chrome: string;
  chromedriver: string;
  chromeVersion: string;
  chromedriverVersion: string;
}

// chromium-headless-shell first: the same Blink and V8 as chromium, without the browser's
// window and UI layer. Its UI thread is idle when a page commits, and the origin guard's
// request interception waits on that thread for every request: with chromium the guard cost
// 10-20 ms per render, with the shell ~2 ms (docs/adr/0003-token-only-to-grafana.md).
const CHROME_NAMES = ['chromium-headless-shell', 'chrome-headless-shell', 'chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable', 'chrome'];

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    // npm puts node_modules/.bin first on PATH for scripts; the chromedriver package's shim
    // there only works if its download ran, which we never rely on (see npmChromedriver).
    if (!dir || dir.split(path.sep).includes('node_modules')) continue;
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

/** The npm `chromedriver` package's binary, only if its (optional) download ever ran. */
function npmChromedriver(): string | undefined {
  try {
    const p: string = require('chromedriver').path;
    return fs.existsSync(p) ? p : undefined;
  } catch {
    return undefined;
  }
}

function versionOf(bin: string): string {
  try {
    const out = execFileSync(bin, ['--version'], { encoding: 'utf8', timeout: 15_000, stdio: ['ignore', 'pipe', 'pipe'] });
    const m = /(\d+\.\d+\.\d+\.\d+)/.exec(out);
    if (!m) throw new Error(`unexpected output: ${out.trim().slice(0, 100)}`);
    return m[1]!;
  } catch (e) {
    throw new ConfigError(`cannot run ${bin} --version: ${(e as Error).message.split('\n')[0]}`);
  }
}

/**
 * Debian's /usr/bin/chromium-headless-shell is a `sh` script that runs the real binary
 * without exec: Chrome would be a grandchild of chromedriver with a shell in between, and a
 * signal meant for Chrome would reach the shell. The real binary, when it is there.
 */
const DEBIAN_HEADLESS_SHELL = '/usr/lib/chromium/chromium-headless-shell';

function defaultChrome(): string | undefined {
  const found = CHROME_NAMES.map(onPath).find(Boolean);
  if (found && path.basename(found) === 'chromium-headless-shell' && fs.existsSync(DEBIAN_HEADLESS_SHELL)) return DEBIAN_HEADLESS_SHELL;
  return found;
}

export function findBinaries(chromeBin?: string, chromedriverPath?: string): Binaries {
  const chrome = chromeBin ?? defaultChrome();
  if (!chrome) {
    throw new ConfigError('Chrome not found: install Debian\'s chromium-headless-shell (apt-get install chromium-headless-shell chromium-driver) or set CHROME_BIN');
  }
  const chromedriver = chromedriverPath ?? onPath('chromedriver') ?? npmChromedriver();
  if (!chromedriver) {
    throw new ConfigError('chromedriver not found: install Debian\'s chromium-driver or set CHROMEDRIVER_PATH');
  }
  const chromeVersion = versionOf(chrome);
  const chromedriverVersion = versionOf(chromedriver);
  const major = (v: string) => v.split('.')[0];
  if (major(chromeVersion) !== major(chromedriverVersion)) {
    throw new ConfigError(
      `Chrome ${chromeVersion} (${chrome}) and chromedriver ${chromedriverVersion} (${chromedriver}) have different major versions; install matching ones (Debian's chromium and chromium-driver always match) or set CHROME_BIN/CHROMEDRIVER_PATH`,
    );
  }
  return { chrome, chromedriver, chromeVersion, chromedriverVersion };
}

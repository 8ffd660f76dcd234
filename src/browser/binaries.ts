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

const CHROME_NAMES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable', 'chrome'];

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

export function findBinaries(chromeBin?: string, chromedriverPath?: string): Binaries {
  const chrome = chromeBin ?? CHROME_NAMES.map(onPath).find(Boolean);
  if (!chrome) {
    throw new ConfigError('Chrome not found: install Debian\'s chromium (apt-get install chromium chromium-driver) or set CHROME_BIN');
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

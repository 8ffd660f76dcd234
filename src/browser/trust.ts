// Making Chrome trust an internal CA (GRAFANA_CA_FILE). Chrome on Linux has no flag for an
// extra root; it reads the NSS database in $HOME/.pki/nssdb. So panelshot builds a private
// HOME holding just that database (certutil, Debian package libnss3-tools) and gives it to
// chromedriver, and so to Chrome. The host's own trust store stays as it is.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '../config';

/** Returns the HOME directory to run Chrome with. */
export function chromeHomeTrusting(caFile: string): string {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'panelshot-home-'));
  const db = path.join(home, '.pki', 'nssdb');
  fs.mkdirSync(db, { recursive: true, mode: 0o700 });
  try {
    execFileSync('certutil', ['-N', '-d', `sql:${db}`, '--empty-password'], { stdio: 'pipe', timeout: 15_000 });
    execFileSync('certutil', ['-A', '-d', `sql:${db}`, '-n', 'panelshot-grafana-ca', '-t', 'C,,', '-i', caFile], { stdio: 'pipe', timeout: 15_000 });
  } catch (e) {
    fs.rmSync(home, { recursive: true, force: true });
    const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
    throw new ConfigError(
      missing
        ? 'GRAFANA_CA_FILE needs certutil to make Chrome trust the CA: apt-get install libnss3-tools'
        : `GRAFANA_CA_FILE ${caFile} could not be added to Chrome's trust store: ${String((e as { stderr?: Buffer }).stderr ?? (e as Error).message).trim().slice(0, 200)}`,
    );
  }
  return home;
}

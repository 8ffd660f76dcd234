// panelshot as its own process, exactly as `npm start` runs it (TypeScript via tsx): for
// signals, exit codes and several replicas behind one proxy.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { freePort } from '../../src/browser/driver';

export interface SpawnedService {
  proc: ChildProcess;
  url: string;
  port: number;
  exited: Promise<number | null>;
  stderr(): string;
}

export async function spawnService(grafanaUrl: string, port?: number, env: Record<string, string> = {}): Promise<SpawnedService> {
  port ??= await freePort();
  const proc = spawn(process.execPath, ['--require', require.resolve('tsx/cjs'), path.join(__dirname, '../../src/main.ts')], {
    env: { ...process.env, GRAFANA_URL: grafanaUrl, GRAFANA_USER: 'admin', GRAFANA_PASS: 'admin', HTTP_PORT: String(port), POOL_SIZE: '2', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  proc.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const url = `http://127.0.0.1:${port}`;
  const up = await waitForAsync(async () => (await fetch(`${url}/healthz`).catch(() => undefined))?.ok === true, 30_000);
  if (!up) {
    proc.kill('SIGKILL');
    throw new Error(`service did not start: ${stderr}`);
  }
  return { proc, url, port, exited, stderr: () => stderr };
}

export async function waitForAsync(cond: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

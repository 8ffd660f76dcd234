// Debian's nginx for the tests, in the foreground under a temporary prefix.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { waitFor } from './processes';

export function nginxBin(): string {
  for (const p of ['/usr/sbin/nginx', '/usr/bin/nginx']) if (fs.existsSync(p)) return p;
  throw new Error('nginx is not installed: bash scripts/setup.sh --test installs it');
}

/** Starts nginx with `httpBlock` as the body of its http {} block; stop() ends it and its files. */
export async function startNginx(httpBlock: string): Promise<{ stop(): Promise<void>; errorLog(): string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'panelshot-nginx-'));
  fs.writeFileSync(path.join(dir, 'nginx.conf'), `worker_processes 1;\nevents { worker_connections 256; }\nhttp {\n  access_log off;\n${httpBlock}\n}\n`);
  const proc = spawn(nginxBin(), ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', 'stderr', '-g', `daemon off; pid ${dir}/nginx.pid;`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (d) => (err += d));
  const exited = new Promise((r) => proc.once('exit', r));
  if (!(await waitFor(() => fs.existsSync(path.join(dir, 'nginx.pid')) || proc.exitCode !== null, 10_000)) || proc.exitCode !== null) {
    proc.kill('SIGKILL');
    throw new Error(`nginx did not start: ${err}`);
  }
  return {
    /** What nginx wrote to its error log (stderr) so far: why it answered 502, for instance. */
    errorLog: () => err,
    async stop() {
      proc.kill('SIGQUIT');
      await exited;
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

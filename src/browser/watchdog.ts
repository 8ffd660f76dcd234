// Chrome must not outlive panelshot, not even when Node is killed with SIGKILL and gets no
// chance to clean up. (dash, Debian's sh, takes `kill -9 -PGID` but not `kill -9 -- -PGID`.) Each local chromedriver runs in its own process group (Chrome joins
// it); a tiny shell process holds the list of those groups on a pipe from us. When the pipe
// closes — which the kernel does for any death of ours — it kills every group it knows.
// A shell costs ~1 MiB where a second Node process would cost ~40.
import { spawn, type ChildProcess } from 'node:child_process';

const SCRIPT = `
trap '' INT TERM HUP
groups=" "
while IFS= read -r line; do
  case "$line" in
    +*) groups="$groups\${line#+} " ;;
    -*) groups=$(printf '%s' "$groups" | sed "s/ \${line#-} / /") ;;
  esac
done
for g in $groups; do kill -9 "-$g" 2>/dev/null; done
exit 0
`;

export class Watchdog {
  private proc?: ChildProcess;
  /** Services in this process using the guard (tests run several; main.ts runs one). */
  private users = 0;

  private ensure(): ChildProcess {
    if (!this.proc || this.proc.exitCode !== null) {
      // detached: a Ctrl-C or systemd stop signal to our group must not kill the guard first.
      this.proc = spawn('/bin/sh', ['-c', SCRIPT], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
      this.proc.unref();
      this.proc.on('error', () => undefined);
      this.proc.stdin!.on('error', () => undefined);
      (this.proc.stdin as unknown as { unref?: () => void }).unref?.();
    }
    return this.proc;
  }

  watch(pgid: number): void {
    this.ensure().stdin!.write(`+${pgid}\n`);
  }

  unwatch(pgid: number): void {
    this.proc?.stdin?.write(`-${pgid}\n`);
  }

  /** A service starts using the guard. */
  retain(): void {
    this.users++;
  }

  /**
   * A service stopped (its own Chromes already closed). The last one closes the pipe: the
   * guard kills what it still holds (normally nothing) and exits. Earlier ones must not: the
   * guard holds the other services' Chromes too, and would kill them mid-render.
   */
  release(): void {
    this.users = Math.max(0, this.users - 1);
    if (this.users > 0) return;
    this.proc?.stdin?.end();
    this.proc = undefined;
  }
}

export const watchdog = new Watchdog();

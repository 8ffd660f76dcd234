// Memory of panelshot as the machine sees it: PSS (shared pages split fairly between the
// processes sharing them) summed over the node process and every chromedriver/Chrome that
// carries PANELSHOT_OWNER_PID=<its pid>. Crashpad handlers leave Chrome's process group,
// so the environment marker, not the group, decides what belongs to panelshot.
import { pssKiB } from '../../src/browser/processes';
import { ownedProcesses } from '../../test/support/processes';

export interface PssSample {
  at: number;
  mib: number;
  processes: number;
}

export function samplePss(ownerPid: number): PssSample {
  const pids = [ownerPid, ...ownedProcesses(ownerPid).map((p) => p.pid)];
  const kib = pids.reduce((sum, pid) => sum + pssKiB(pid), 0);
  return { at: Date.now(), mib: kib / 1024, processes: pids.length };
}

/** Samples every `intervalMs` until stopped; the peak is what a memory limit must allow. */
export class PssSampler {
  private readonly samples: PssSample[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly ownerPid: number, intervalMs = 200) {
    this.samples.push(samplePss(ownerPid));
    this.timer = setInterval(() => this.samples.push(samplePss(this.ownerPid)), intervalMs);
  }

  stop(): { peakMiB: number; meanMiB: number; samples: number; maxProcesses: number } {
    clearInterval(this.timer);
    this.samples.push(samplePss(this.ownerPid));
    const mibs = this.samples.map((s) => s.mib);
    return {
      peakMiB: Math.max(...mibs),
      meanMiB: mibs.reduce((a, b) => a + b, 0) / mibs.length,
      samples: mibs.length,
      maxProcesses: Math.max(...this.samples.map((s) => s.processes)),
    };
  }
}

// Every panel of a dashboard in one call, through the same Renderer as a single /render
// (no second render path). The fairness rule (docs/adr/0007-batch-fairness.md): all
// batches together hold at most max(1, POOL_SIZE-1) Chrome sessions, and each batch asks
// for its next panel only when one of those slots is free. So a batch never has more than
// POOL_SIZE-1 renders in the pool's queue (QUEUE_MAX stays for single renders), and a
// single render — Grafana's alerting — finds a free session at once (POOL_SIZE >= 2) or
// is next in line behind one panel (POOL_SIZE = 1).
import { PanelshotError } from '../errors';
import type { PanelJob } from '../grafana/dashboards';
import type { Renderer } from './renderer';
import type { RenderedImage, RenderRequest } from './types';

/** One panel's outcome, as the manifest and the NDJSON lines show it. */
export interface PanelOutcome {
  id: number;
  title: string;
  type: string;
  /** The file in the ZIP / written by the CLI; null when the panel failed. */
  file: string | null;
  settled: boolean;
  ms: number;
  /** Why the panel has no picture (null when it has one). */
  error: string | null;
  code?: string;
  vars?: Record<string, string>;
  bytes?: number;
}

/** A FIFO of slots shared by every batch; one waiter per batch at a time makes it round-robin. */
export class BatchGate {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly limit: number) {}

  /** Resolves with a slot, or rejects when `signal` aborts first. */
  enter(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.active < this.limit) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const wake = () => {
        signal.removeEventListener('abort', onAbort);
        this.active++;
        resolve();
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(wake);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(wake);
    });
  }

  leave(): void {
    this.active--;
    const next = this.waiting.shift();
    if (next) next();
  }

  get inUse(): number {
    return this.active;
  }
}

/**
 * Renders `jobs` one slot at a time and calls `onPanel` as each finishes (in finishing
 * order). A failing panel is an outcome with its error, never a failed batch. After
 * `signal` aborts no further panel starts, and a panel still waiting for Chrome loads no page.
 */
export async function runBatch(
  renderer: Renderer,
  gate: BatchGate,
  base: RenderRequest,
  jobs: PanelJob[],
  signal: AbortSignal,
  onPanel: (job: PanelJob, outcome: PanelOutcome, image?: RenderedImage) => void | Promise<void>,
): Promise<void> {
  const running = new Set<Promise<void>>();
  for (const job of jobs) {
    try {
      await gate.enter(signal);
    } catch {
      break;
    }
    const started = Date.now();
    const p = renderer
      .image({ ...base, url: job.url, signal }, started)
      .then(
        (img) => ({ img, error: undefined }),
        (e: unknown) => ({ img: undefined, error: e instanceof PanelshotError ? e : new PanelshotError('internal', 'internal error (see the service log)') }),
      )
      .then(async ({ img, error }) => {
        gate.leave();
        if (signal.aborted) return;
        const outcome: PanelOutcome = {
          id: job.id,
          title: job.title,
          type: job.type,
          file: img ? `${job.key}.${img.ext}` : null,
          settled: img?.settled ?? false,
          ms: Date.now() - started,
          error: error ? error.message : null,
          ...(error ? { code: error.code } : {}),
          ...(Object.keys(job.vars).length ? { vars: job.vars } : {}),
          ...(img ? { bytes: img.body.length } : {}),
        };
        await onPanel(job, outcome, img);
      })
      .finally(() => running.delete(p));
    running.add(p);
  }
  await Promise.allSettled([...running]);
}

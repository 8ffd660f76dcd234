// GET /status.json — what the status page shows: pool, Chrome memory, recycles, cache,
// and the last renders (secrets never kept, see http/recent.ts).
import type { RequestHandler } from 'express';
import type { JobStatus } from '../../schedule/scheduler';
import type { RecentRing } from '../recent';

export interface StatusSnapshot {
  pool: { size: number; busy: number; idle: number; queued: number };
  chromeMemoryMiB: number;
  recycles: number;
  cache?: { entries: number; bytes: number };
  /** Scheduled jobs: next run and last outcome (names and times only, never a delivery target). */
  jobs?: JobStatus[];
}

export function statusJsonGet(snapshot: () => Promise<StatusSnapshot>, recent: RecentRing): RequestHandler {
  return async (_req, res) => {
    res.set('Cache-Control', 'no-store').json({ ...(await snapshot()), recent: recent.list() });
  };
}

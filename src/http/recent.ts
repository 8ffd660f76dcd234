// The last renders, for the status page: what, how big, how it went and where the time
// went — never a secret. Pages are logged-safe URLs (safeUrl: no user info, credential
// parameters blanked) and every other query value is blanked too, since a query can carry
// anything; no cookies, keys or headers are kept at all.
import type { RenderTimings } from '../render/types';
import type { RecentRenders } from './sendImage';

export interface RecentEntry {
  at: string;
  via: string;
  page: string;
  outcome: string;
  format: string;
  width: number;
  height: number | 'full';
  bytes?: number;
  cached?: boolean;
  timings?: RenderTimings;
}

/** Query values that are kept: harmless and useful to tell renders apart. */
const KEPT = /^(orgId|panelId|from|to|var-[\w-]+|width|height|tz|timezone)$/;

export class RecentRing implements RecentRenders {
  private readonly entries: RecentEntry[] = [];

  constructor(private readonly max = 50) {}

  note(e: Parameters<RecentRenders['note']>[0]): void {
    this.entries.push({ ...e, at: new Date(e.at).toISOString(), page: blankQuery(e.page) });
    if (this.entries.length > this.max) this.entries.shift();
  }

  /** Newest first. */
  list(): RecentEntry[] {
    return [...this.entries].reverse();
  }
}

function blankQuery(page: string): string {
  try {
    const u = new URL(page);
    for (const k of [...u.searchParams.keys()]) if (!KEPT.test(k)) u.searchParams.set(k, '…');
    return u.toString();
  } catch {
    return '(unparsable url)';
  }
}

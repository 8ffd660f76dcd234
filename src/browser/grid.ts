// What panelshot asks a Selenium Grid 4 besides new sessions: its /status (reachable? a
// free Chrome slot? which browsers at all?) and, after a hub restart, the deletion of our
// own sessions that the nodes still hold but the new hub no longer routes
// (DELETE <node>/se/grid/node/session/<id>, with the registration secret header).
// docs/adr/0010-grid-scale-out.md records why and with which numbers.

export type GridFailureKind = 'unreachable' | 'full' | 'no_chrome' | 'failed';

/** A Grid session could not be had; `kind` decides between 503 and 429 while the pool is short. */
export class GridError extends Error {
  override name = 'GridError';
  constructor(
    readonly kind: GridFailureKind,
    message: string,
  ) {
    super(message);
  }
}

interface Slot {
  session?: { sessionId?: string } | null;
  stereotype?: { browserName?: string };
}

interface GridNode {
  uri: string;
  availability?: string;
  slots?: Slot[];
}

export interface GridStatus {
  ready: boolean;
  message: string;
  nodes: GridNode[];
}

/** Browser names a Grid may give for Chrome or Chromium. */
const CHROME_NAMES = new Set(['chrome', 'chromium', 'chrome-headless-shell', 'googlechrome']);

export function isChromeName(name: string | undefined): boolean {
  return CHROME_NAMES.has(String(name ?? '').toLowerCase());
}

/**
 * GET <grid>/status within `timeoutMs`. GridError('unreachable') when the hub cannot be
 * reached; GridError('full') when it took the request but did not answer in time: a hub
 * busy starting sessions on its nodes was seen to hold /status for over 3 s (four sessions
 * created at once on 2 cores, test/grid-hub.test.ts), and waiting helps then.
 */
export async function gridStatus(gridUrl: string, timeoutMs = 3000): Promise<GridStatus> {
  let body: { value?: Partial<GridStatus> };
  try {
    const res = await gridFetch(gridUrl, 'status', { signal: AbortSignal.timeout(timeoutMs) });
    body = (await res.json()) as typeof body;
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).name;
    if (cause === 'TimeoutError') throw new GridError('full', `Selenium Grid at ${origin(gridUrl)} does not answer GET /status within ${timeoutMs} ms (busy, or hung)`);
    throw new GridError('unreachable', `Selenium Grid at ${origin(gridUrl)} does not answer GET /status (${cause})`);
  }
  const v = body.value ?? {};
  return { ready: v.ready === true, message: String(v.message ?? ''), nodes: Array.isArray(v.nodes) ? v.nodes : [] };
}

/** Why no Chrome session can be had from this status right now, or undefined when one can. */
export function whyNoChromeSlot(s: GridStatus, gridUrl: string): GridError | undefined {
  const up = s.nodes.filter((n) => (n.availability ?? 'UP') === 'UP');
  const chromeSlots = up.flatMap((n) => n.slots ?? []).filter((sl) => isChromeName(sl.stereotype?.browserName));
  if (up.length > 0 && chromeSlots.length === 0) {
    const offered = [...new Set(up.flatMap((n) => n.slots ?? []).map((sl) => sl.stereotype?.browserName ?? '?'))].join(', ');
    return new GridError('no_chrome', `Selenium Grid at ${origin(gridUrl)} offers no Chrome or Chromium (its nodes offer: ${offered}); panelshot needs Chrome`);
  }
  if (chromeSlots.length === 0) return new GridError('full', `Selenium Grid at ${origin(gridUrl)} has no node that is up${s.message ? ` (${s.message})` : ''}`);
  const free = chromeSlots.filter((sl) => !sl.session).length;
  if (free === 0) return new GridError('full', `Selenium Grid at ${origin(gridUrl)} has no free Chrome slot (${chromeSlots.length} busy)`);
  return undefined;
}

/**
 * Deletes a session on whichever node still holds it, going to the node directly: after a
 * hub restart the new hub does not route commands for sessions it did not create, but the
 * node keeps them (and their slots) until its own --session-timeout. When the Grid cannot
 * be asked now (the hub is down), the session is remembered and retryOrphans() tries again.
 * Never throws.
 */
export async function deleteOnNode(gridUrl: string, sessionId: string, secret: string): Promise<boolean> {
  try {
    const s = await gridStatus(gridUrl);
    const owner = s.nodes.filter((n) => (n.slots ?? []).some((sl) => sl.session?.sessionId === sessionId));
    // A node that has not reported its sessions yet may still hold it: ask every node then.
    for (const node of owner.length ? owner : s.nodes) {
      const res = await gridFetch(node.uri, `se/grid/node/session/${encodeURIComponent(sessionId)}`, {
        method: 'DELETE',
        headers: { 'X-REGISTRATION-SECRET': secret },
        signal: AbortSignal.timeout(5000),
      }).catch(() => undefined);
      if (res?.ok) {
        orphans.delete(sessionId);
        return true;
      }
    }
  } catch {
    /* the hub is down: try again later */
  }
  // Kept until a node confirms or the nodes' own --session-timeout has surely ended it.
  if (!orphans.has(sessionId)) orphans.set(sessionId, { gridUrl, secret, since: Date.now() });
  return false;
}

/** Sessions we could not delete yet; given up after ORPHAN_GIVE_UP_MS (the nodes' own timeout ends them). */
const orphans = new Map<string, { gridUrl: string; secret: string; since: number }>();
const ORPHAN_GIVE_UP_MS = 10 * 60_000;
const ORPHAN_RETRY_MS = 3000;
let lastOrphanRetry = 0;

/** Tries again (at most every 3 s) to delete the sessions deleteOnNode could not; the pool calls it while short. */
export async function retryOrphans(): Promise<void> {
  if (orphans.size === 0 || Date.now() - lastOrphanRetry < ORPHAN_RETRY_MS) return;
  lastOrphanRetry = Date.now();
  for (const [id, o] of [...orphans]) {
    if (Date.now() - o.since > ORPHAN_GIVE_UP_MS) orphans.delete(id);
    else await deleteOnNode(o.gridUrl, id, o.secret);
  }
}

/** fetch() refuses URLs with credentials: a Grid behind basic auth gets them as a header. */
function gridFetch(base: string, rel: string, init: RequestInit): Promise<Response> {
  const url = new URL(rel, base.endsWith('/') ? base : `${base}/`);
  const headers = new Headers(init.headers);
  if (url.username || url.password) {
    headers.set('Authorization', `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`);
    url.username = '';
    url.password = '';
  }
  return fetch(url, { ...init, headers });
}

/** The Grid's origin only: a Grid URL may carry basic-auth credentials. */
function origin(u: string): string {
  try {
    return new URL(u).origin;
  } catch {
    return 'the configured URL';
  }
}

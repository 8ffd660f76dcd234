// The CSV output step (Grafana Enterprise's table export, GET /render/csv): the page at
// `url` loads its data and makes the browser *download* a CSV. Chrome is allowed to
// download into a private directory made for this one render, the render is done when the
// download completed (not when pixels stop changing), and afterwards downloads are denied
// again and the directory removed, whatever happened. Knows nothing of pools or logins.
//
// Downloads are saved by Chrome under their DevTools guid ('allowAndName'), never under
// the name the page suggests: that name only becomes the answer's file name, sanitised.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CdpEvent } from '../browser/cdpSocket';
import { OutOfTime, type BrowserSession } from '../browser/session';
import { removeLeftovers } from '../browser/processes';
import { noDownload, outputTooLarge } from '../errors';
import { lookAtPage, openPage, type LoginPage, type PageSpec } from './capture';

export interface CsvLimits {
  /** MAX_CSV_BYTES: a bigger download is cancelled in Chrome and refused (413). */
  maxBytes: number;
}

export interface DownloadedCsv {
  kind: 'csv';
  body: Buffer;
  /** Safe to put in a header: see csvFileName(). */
  fileName: string;
  navigateMs: number;
  /** From the navigation to the start of the download: the page loading its data. */
  dataMs: number;
  /** From the start of the download to its end. */
  downloadMs: number;
}

/** The viewport a CSV page is laid out in: panels query their data only once laid out. */
export const CSV_VIEWPORT = { width: 1000, height: 500, scale: 1 };

/** While waiting for the download, the page is looked at this often (no screenshots). */
const POLL_MS = 50;

/** Every render's download directory lives under this one panelshot-owned parent. */
export function downloadsParent(): string {
  return path.join(os.tmpdir(), 'panelshot-downloads');
}

/**
 * Makes the parent (0700, ours, not a link someone planted in a shared /tmp) and removes
 * what crashed panelshots left in it: directories are named `<pid>-…`, and one whose
 * process is gone belongs to nobody. Called once at start-up.
 */
export function prepareDownloadsParent(parent = downloadsParent()): string {
  fs.mkdirSync(parent, { recursive: true, mode: 0o700 });
  const st = fs.lstatSync(parent);
  if (!st.isDirectory() || (process.getuid && st.uid !== process.getuid())) {
    throw new Error(`${parent} is not a directory of panelshot's own user: CSV downloads cannot be kept private there`);
  }
  fs.chmodSync(parent, 0o700);
  removeLeftovers(parent, '');
  return parent;
}

interface Download {
  guid: string;
  /** The frame that started it: ours when it is in this session's tab. */
  frameId: string;
  /** Unknown until the frame was looked up (see waitForDownload). */
  ours?: boolean;
  suggestedFilename: string;
  state: 'inProgress' | 'completed' | 'canceled';
  receivedBytes: number;
  totalBytes: number;
  beganAt: number;
}

/**
 * Opens the page in `session` with downloads allowed into a fresh directory under
 * `parent`, and waits until one download completed: its bytes and a safe file name. Ends
 * on Grafana's login page like a capture does; throws noDownload at the deadline and
 * outputTooLarge past `limits`.
 */
export async function downloadCsv(session: BrowserSession, spec: PageSpec, limits: CsvLimits, parent: string): Promise<DownloadedCsv | LoginPage> {
  const dir = await fs.promises.mkdtemp(path.join(parent, `${process.pid}-`));
  const downloads = new Map<string, Download>();
  /** A download of this render was cancelled (413, timeout, error): see the cleanup. */
  let cancelled = false;
  let wake: () => void = () => undefined;
  /** Resolves on the next download event, or after `ms`. */
  const nextEvent = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, Math.max(0, ms));
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  try {
    const stopEvents = await session.onBrowserEvent((e) => {
      if (track(downloads, e)) wake();
    });
    try {
      return await waitForDownload(session, spec, limits, dir, downloads, nextEvent);
    } finally {
      cancelled = await endDownloads(session, downloads, nextEvent);
      stopEvents();
    }
  } finally {
    await removeDir(dir);
    if (cancelled) {
      // Chrome can still create the directory of a download it has just confirmed as
      // cancelled (seen once in CI with Chromium 156, under load): look again
      // before answering, and once more a little later, off the request's path.
      await new Promise((r) => setTimeout(r, LATE_DIR_CHECK_MS));
      await removeDir(dir);
      setTimeout(() => void removeDir(dir), 10 * LATE_DIR_CHECK_MS).unref();
    }
  }
}

/** How long after a cancelled download its directory is looked for again. */
const LATE_DIR_CHECK_MS = 200;

function removeDir(dir: string): Promise<void> {
  return fs.promises.rm(dir, { recursive: true, force: true, maxRetries: 3, retryDelay: 50 }).catch(() => undefined);
}

/** Notes a download event; true when it concerns a download (the waiter should look). */
function track(downloads: Map<string, Download>, e: CdpEvent): boolean {
  // Browser-domain events come on the browser-level session, never on a tab's.
  if (e.sessionId) return false;
  const p = e.params as { guid?: string; frameId?: string; suggestedFilename?: string; state?: Download['state']; receivedBytes?: number; totalBytes?: number };
  if (typeof p.guid !== 'string') return false;
  if (e.method === 'Browser.downloadWillBegin') {
    downloads.set(p.guid, { guid: p.guid, frameId: String(p.frameId ?? ''), suggestedFilename: String(p.suggestedFilename ?? ''), state: 'inProgress', receivedBytes: 0, totalBytes: 0, beganAt: Date.now() });
    return true;
  }
  const d = downloads.get(p.guid);
  if (e.method !== 'Browser.downloadProgress' || !d) return false;
  if (p.state) d.state = p.state;
  d.receivedBytes = Number(p.receivedBytes ?? d.receivedBytes);
  d.totalBytes = Number(p.totalBytes ?? d.totalBytes);
  return true;
}

async function waitForDownload(
  session: BrowserSession,
  spec: PageSpec,
  limits: CsvLimits,
  dir: string,
  downloads: Map<string, Download>,
  nextEvent: (ms: number) => Promise<void>,
): Promise<DownloadedCsv | LoginPage> {
  const t0 = Date.now();
  await session.setDownloadBehavior({ behavior: 'allowAndName', downloadPath: dir, eventsEnabled: true });
  await openPage(session, spec, CSV_VIEWPORT.height);
  const navigatedAt = Date.now();
  let canceled = 0;
  for (;;) {
    // Chrome tells every browser-level connection of every download in the browser, other
    // sessions' (browser contexts') included: only one started by a frame of this
    // session's tab is this render's. (A frame removed before it is looked up makes its
    // download count as foreign: the render then ends without one, never with another's.)
    if ([...downloads.values()].some((d) => d.ours === undefined)) {
      // Between two documents the tab has no frame tree: ask again on the next round.
      const frames = await tabFrames(session).catch(() => undefined);
      if (frames) for (const d of downloads.values()) d.ours ??= frames.has(d.frameId);
    }
    for (const d of downloads.values()) {
      if (!d.ours) continue;
      const file = path.join(dir, d.guid);
      if (Math.max(d.receivedBytes, d.totalBytes) > limits.maxBytes) {
        throw outputTooLarge(`the page's CSV download has more than ${limits.maxBytes} bytes (MAX_CSV_BYTES); it was cancelled`);
      }
      if (d.state === 'canceled') {
        downloads.delete(d.guid);
        canceled++;
        continue;
      }
      if (d.state !== 'completed') continue;
      // And a second net: a download of this render is a file in this render's directory.
      const size = await fs.promises.stat(file).then((s) => s.size, () => undefined);
      if (size === undefined) {
        downloads.delete(d.guid);
        continue;
      }
      if (size > limits.maxBytes) throw outputTooLarge(`the page's CSV download has ${size} bytes; at most ${limits.maxBytes} (MAX_CSV_BYTES) are allowed`);
      const body = await fs.promises.readFile(file);
      const end = Date.now();
      return { kind: 'csv', body, fileName: csvFileName(d.suggestedFilename), navigateMs: navigatedAt - t0, dataMs: d.beganAt - navigatedAt, downloadMs: end - d.beganAt };
    }
    if (spec.deadline - Date.now() <= 0) break;
    // The page must still be Grafana's and not its login or error page.
    const look = await lookAtPage(session, spec).catch((e: unknown) => {
      // Cut short by the deadline (a busy machine): the download's time is up, as below.
      if (e instanceof OutOfTime) return undefined;
      throw e;
    });
    if (!look) break;
    if (look.kind === 'login-page') return look;
    await nextEvent(Math.min(POLL_MS, spec.deadline - Date.now()));
  }
  const started = [...downloads.values()].some((d) => d.ours);
  const s = Math.round((spec.deadline - t0) / 1000);
  if (started) throw noDownload(`the page's CSV download did not finish within the timeout (the ${s} s left after the queue)`);
  if (canceled) throw noDownload('the page\'s CSV download was cancelled (by the page or Chrome) and no other finished within the timeout');
  throw noDownload(`the page started no download within the timeout (the ${s} s left after the queue): url must be a Grafana page that exports CSV, as Grafana's table export sends it`);
}

/** Longest wait for Chrome to confirm that it cancelled a download. */
const CANCEL_WAIT_MS = 2000;

/**
 * After the render, whatever happened: downloads still running are cancelled, and this
 * browser context denies downloads again, so nothing of this page (a late timer, a second
 * download) and no later render of the session can write anywhere. A download is waited
 * for until Chrome says it is cancelled: one cancelled just after it began still creates
 * its directory (seen with Chromium 156), which must not reappear after it was removed. A
 * session that cannot be told all this is not trusted with another render.
 */
async function endDownloads(session: BrowserSession, downloads: Map<string, Download>, nextEvent: (ms: number) => Promise<void>): Promise<boolean> {
  let cancelled = [...downloads.values()].some((d) => d.state === 'canceled' || d.ours === undefined);
  try {
    const browserContextId = await session.browserContextId();
    const running = () => [...downloads.values()].filter((d) => d.ours && d.state === 'inProgress');
    if (running().length) cancelled = true;
    for (const d of running()) {
      await session.browserCommand('Browser.cancelDownload', { guid: d.guid, ...(browserContextId ? { browserContextId } : {}) }).catch(() => undefined);
    }
    await session.setDownloadBehavior({ behavior: 'deny' });
    const until = Date.now() + CANCEL_WAIT_MS;
    while (running().length > 0 && Date.now() < until) await nextEvent(until - Date.now());
    if (running().length > 0) session.broken = true;
  } catch {
    session.broken = true;
    cancelled = true;
  }
  return cancelled;
}

/** Ids of the frames in the session's tab now. */
async function tabFrames(session: BrowserSession): Promise<Set<string>> {
  interface FrameTree {
    frame: { id: string };
    childFrames?: FrameTree[];
  }
  const { frameTree } = await session.cdp<{ frameTree: FrameTree }>('Page.getFrameTree');
  const ids = new Set<string>();
  const walk = (t: FrameTree) => {
    ids.add(t.frame.id);
    t.childFrames?.forEach(walk);
  };
  walk(frameTree);
  return ids;
}

/** Longest file name handed out, extension included. */
const MAX_NAME = 120;

/**
 * The name the answer's Content-Disposition carries: the page's suggested name (Grafana:
 * "<panel title>-data-<date>.csv") reduced to letters, digits, spaces and `._-()`; never a
 * path, quote or control character, always ending in .csv.
 */
export function csvFileName(suggested: string): string {
  const last = suggested.split(/[/\\]/).pop() ?? '';
  const cleaned = last
    .normalize('NFC')
    .replace(/[^\p{L}\p{N} ._()-]+/gu, '_')
    .replace(/\.{2,}/g, '.')
    .replace(/[_ ]{2,}/g, (m) => m[0]!)
    .replace(/\.csv$/i, '')
    .replace(/^[ ._-]+|[ ._-]+$/g, '');
  const base = [...cleaned].slice(0, MAX_NAME - 4).join('').trim();
  return `${base || 'data'}.csv`;
}

/**
 * `attachment; filename="…"` (ASCII, which every client reads) plus RFC 6266's
 * filename*=UTF-8''… when the name has other letters (panel titles in any language).
 */
export function csvContentDisposition(fileName: string): string {
  const ascii = fileName.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  if (ascii === fileName) return `attachment; filename="${ascii}"`;
  const encoded = encodeURIComponent(fileName).replace(/['()*!]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

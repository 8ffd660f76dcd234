// What a render is asked to do and what it gives back: the boundary between the HTTP edge
// and the orchestration.
import type { PdfOptions, PrintedPdf } from './pdf';
import type { EncodedImage, Encoding } from './encode';

/** What every render is asked, whatever its output: which page, for whom, how long. */
export interface PageRequest {
  /** The Grafana page, already checked to be on GRAFANA_URL's origin. */
  url: URL;
  /** Total budget from arrival to answer, queue included. */
  timeoutMs: number;
  timezone?: string;
  acceptLanguage?: string;
  /** Grafana's mode: the browser carries only this cookie, for `domain`. */
  renderKey?: { key: string; domain: string };
}

/** A CSV export (GET /render/csv): the page's own download is the answer (render/csv.ts). */
export type CsvRequest = PageRequest;

export interface RenderRequest extends PageRequest {
  /** CSS pixels. */
  width: number;
  /** CSS pixels, or 'full' for the whole page (Grafana's height=-1). */
  height: number | 'full';
  deviceScaleFactor: number;
  /** Print the settled page to PDF (render/pdf.ts) instead of answering the frame as PNG. */
  pdf?: PdfOptions;
  /** Expand collapsed dashboard rows before the page settles (a whole-dashboard render). */
  expandRows?: boolean;
  /** How the settled frame is handed out (render/encode.ts); PNG when absent. */
  output?: Encoding;
  /** Set when nobody waits for the answer any more (a batch client left): no page is loaded for it. */
  signal?: AbortSignal;
}

export interface RenderTimings {
  queueMs: number;
  authMs: number;
  navigateMs: number;
  /** Until the page said it was quiet (data loaded, no loading indicator). */
  dataMs: number;
  /** From quiet to the last equal frame. */
  stableMs: number;
  framesCompared: number;
  encodeMs: number;
  totalMs: number;
}

export interface RenderResult {
  png: Buffer;
  /** The printed page when the request asked for `pdf`. */
  pdf?: PrintedPdf;
  /** False when the timeout came first and this is the best frame so far. */
  settled: boolean;
  timings: RenderTimings;
  /** Capture steps with their ms offsets, for the debug log. */
  trace: string[];
  /** How the browser was authenticated, for logs and metrics (never the secret). */
  auth: 'renderKey' | 'session' | 'token' | 'none';
}

export interface CsvTimings {
  queueMs: number;
  authMs: number;
  navigateMs: number;
  /** Until the page started its download (its data loaded). */
  dataMs: number;
  /** From the start of the download to its end. */
  downloadMs: number;
  totalMs: number;
}

export interface CsvResult {
  body: Buffer;
  /** Sanitised: safe in a Content-Disposition header. */
  fileName: string;
  timings: CsvTimings;
  auth: RenderResult['auth'];
}

/** A finished render in the format the caller asked for. */
export interface RenderedImage extends EncodedImage {
  settled: boolean;
  timings: RenderTimings;
  trace: string[];
  auth: RenderResult['auth'];
  /** Shared with an identical request in flight. */
  shared: boolean;
  /** Seconds since this picture was rendered, when it came from the render cache. */
  ageS?: number;
}

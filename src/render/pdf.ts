// The PDF output step: after capture() has settled the page, print it with Chrome's
// Page.printToPDF through the same DevTools command path as every other step. Knows
// paper, page breaks and limits; nothing of pools, logins or HTTP.
//
// Chrome lays a printed page out again at the paper's page box (paper size minus margins,
// divided by the scale, in CSS px), where `100%` heights and `vh` are that box. Two layouts:
// - A dashboard keeps the width it was laid out at (the requested `width`, as for PNG) and
//   is scaled onto the paper's width with side margins 0; it flows over as many pages as
//   it needs, no panel cut by a page break, and the viewport it settled at was one page box.
// - A panel (or any other single page) is one picture of width×height, as its PNG: the
//   page box is made exactly width×height by the margins, which centre it on the paper,
//   scaled to fit. So a panel's PDF shows the same picture as its PNG of that size, not
//   the panel re-laid out to the paper's aspect.
import type { BrowserSession } from '../browser/session';
import { badRequest, outputTooLarge } from '../errors';
import { UNCLIP_SCROLLER_EXPRESSION } from './dashboard';

/** A printed document. */
export interface PrintedPdf {
  body: Buffer;
  pages: number;
}

/** Paper sizes in inches, portrait (width × height), as Chrome/puppeteer name them. */
export const PAPER = {
  letter: [8.5, 11],
  legal: [8.5, 14],
  tabloid: [11, 17],
  ledger: [17, 11],
  a0: [33.1, 46.8],
  a1: [23.4, 33.1],
  a2: [16.54, 23.4],
  a3: [11.7, 16.54],
  a4: [8.27, 11.7],
  a5: [5.83, 8.27],
  a6: [4.13, 5.83],
} as const satisfies Record<string, readonly [number, number]>;

export type PaperFormat = keyof typeof PAPER;

export interface PdfOptions {
  format: PaperFormat;
  landscape: boolean;
  printBackground: boolean;
  /** Chrome's syntax, e.g. "1-3,5"; undefined = all pages. */
  pageRanges?: string;
  /** A running header and footer (reports): printed in paper margins kept free for them. */
  decorations?: PdfDecorations;
}

/**
 * Chrome's header and footer templates: HTML printed in the top and bottom margin of every
 * page, where `<span class="pageNumber">` and `<span class="totalPages">` are filled in.
 * They are laid out at the paper's own size, not the page's scale.
 */
export interface PdfDecorations {
  headerHtml: string;
  footerHtml: string;
  /** Paper margins in CSS px (1/96 in); whole px, so page breaks fall on whole pixels. */
  marginTop: number;
  marginBottom: number;
}

export interface PdfLimits {
  maxPages: number;
  maxBytes: number;
}

/** CSS px per inch. */
const CSS_PX_PER_INCH = 96;
/** Chrome accepts printToPDF scales in this range. */
const MIN_SCALE = 0.1;
const MAX_SCALE = 2;

/** Paper in inches, oriented. Ledger is landscape by nature (17 × 11); `landscape` swaps it like any other. */
function paperInches(o: PdfOptions): { width: number; height: number } {
  const [w, h] = PAPER[o.format];
  return o.landscape ? { width: h, height: w } : { width: w, height: h };
}

/**
 * The page box a page of `width` CSS px is printed into: the scale that puts that width
 * on the paper's width, and the height of one page in the page's own CSS px.
 */
export function pageBox(o: PdfOptions, width: number): { scale: number; pageHeight: number } {
  const paper = paperInches(o);
  const scale = Math.min(MAX_SCALE, Math.max(MIN_SCALE, (paper.width * CSS_PX_PER_INCH) / width));
  return { scale, pageHeight: (paper.height * CSS_PX_PER_INCH - marginsOf(o)) / scale };
}

/** CSS px of paper height kept for the header and footer. */
function marginsOf(o: PdfOptions): number {
  return o.decorations ? o.decorations.marginTop + o.decorations.marginBottom : 0;
}

/**
 * Runs in the page before printing. Moves every grid item (Grafana's react-grid-layout
 * panels and row headers) that would straddle a page boundary down to the start of the
 * next page, together with everything below it, and keeps a row header with the panels
 * that follow it. Grafana positions grid items absolutely, where CSS `break-inside: avoid`
 * has no effect, hence the explicit move. Returns the document height and items moved.
 */
const AVOID_CUTS = `(function (pageH) {
  var sy = window.scrollY || 0;
  var items = Array.prototype.slice.call(document.querySelectorAll('.react-grid-item')).map(function (el) {
    // A second run (with Chrome's real page height) starts from the unmoved layout.
    var r = el.getBoundingClientRect(), before = el.__panelshotShift || 0;
    var isRow = !!el.querySelector('.dashboard-row, [data-testid*="dashboard-row"]') || r.height < 48;
    return { el: el, top: r.top + sy - before, bottom: r.bottom + sy - before, isRow: isRow };
  }).filter(function (b) { return b.bottom > b.top; });
  items.sort(function (a, b) { return a.top - b.top || a.bottom - b.bottom; });
  var shift = 0, moved = 0, bottom = 0;
  items.forEach(function (b, i) {
    var t = b.top + shift, h = b.bottom - b.top;
    var pageEnd = (Math.floor(t / pageH + 1e-6) + 1) * pageH;
    var cut = t + h > pageEnd + 0.5 && h <= pageH;
    // A row header goes with the first panels below it: when those start on the next
    // page, so does the header.
    var next = items.slice(i + 1).filter(function (n) { return !n.isRow; })[0];
    var orphan = b.isRow && next && next.top - b.bottom < pageH / 4 && next.bottom + shift > pageEnd + 0.5 && next.bottom - b.top <= pageH && t > pageEnd - pageH + 0.5;
    // Two px past the boundary: Chrome snaps page and item edges to whole pixels, and a
    // border must not peek out at the bottom of the page before.
    if (cut || orphan) { shift += pageEnd - t + 2; moved++; }
    if (shift || b.el.__panelshotShift) {
      var m = parseFloat(getComputedStyle(b.el).marginTop) || 0;
      b.el.style.marginTop = (m + shift - (b.el.__panelshotShift || 0)) + 'px';
      b.el.__panelshotShift = shift;
    }
    bottom = Math.max(bottom, b.bottom + shift);
  });
  Array.prototype.forEach.call(document.querySelectorAll('.react-grid-layout'), function (g) {
    g.style.height = (g.getBoundingClientRect().height + shift - (g.__panelshotShift || 0)) + 'px';
    g.__panelshotShift = shift;
  });
  var de = document.documentElement;
  var height = Math.max(bottom, de.scrollHeight, document.body ? document.body.scrollHeight : 0);
  return { height: height, moved: moved };
})`;

/** Paper margins in CSS px (1/96 in). */
interface Margins {
  top: number;
  right: number;
  bottom: number;
  left: number;
}

/**
 * For flowing (not absolutely positioned) layouts the browser's own fragmentation does it.
 * The page's own `@page` rules (Grafana has print styles) would override the margins given
 * to printToPDF: ours are stated again, last, so they win.
 */
function printCss(m: Margins): string {
  return `@page { margin: ${m.top}px ${m.right}px ${m.bottom}px ${m.left}px }
.react-grid-item, .panel, [data-panelid], [data-viz-panel-key] { break-inside: avoid; page-break-inside: avoid; }`;
}

/** A dashboard's margins: only the header's and footer's, when it has them. */
function dashboardMargins(o: PdfOptions): Margins {
  return { top: o.decorations?.marginTop ?? 0, right: 0, bottom: o.decorations?.marginBottom ?? 0, left: 0 };
}

/**
 * A single picture of width×height CSS px on the paper: the largest scale at which it fits
 * (within Chrome's range), and the margins that centre it and make the page box exactly
 * width×height, so the page lays out as it did on screen.
 */
export function pictureBox(o: PdfOptions, width: number, height: number): { scale: number; margins: Margins } {
  const paper = paperInches(o);
  const pw = paper.width * CSS_PX_PER_INCH;
  const ph = paper.height * CSS_PX_PER_INCH;
  const scale = Math.min(MAX_SCALE, Math.max(MIN_SCALE, Math.min(pw / width, ph / height)));
  const x = Math.max(0, (pw - width * scale) / 2);
  const y = Math.max(0, (ph - height * scale) / 2);
  return { scale, margins: { top: y, right: x, bottom: y, left: x } };
}

/**
 * Chrome rounds the paper it is given (A4's 8.27 × 11.7 in comes out 8.2767 × 11.7067 in),
 * and page breaks fall where *its* paper ends. Learnt from the first PDF of each paper and
 * orientation (its MediaBox), in points.
 */
const realPaper = new Map<string, { width: number; height: number }>();

/** Prints the settled dashboard in `session`, laid out `width` CSS px wide, over as many pages as it needs. */
export async function printPdf(session: BrowserSession, o: PdfOptions, width: number, limits: PdfLimits, deadline: number): Promise<PrintedPdf & { moved: number }> {
  const { scale, pageHeight: modelHeight } = pageBox(o, width);
  // The paper Chrome really prints does not depend on the margins: one entry per paper.
  const key = `${o.format}:${o.landscape}`;
  // Chrome lays pages out on its paper rounded up to whole CSS px (seen with Chromium 156).
  const pageHeightOf = (paper?: { height: number }) => (paper ? (Math.ceil((paper.height / 72) * CSS_PX_PER_INCH - 0.01) - marginsOf(o)) / scale : modelHeight);
  await preparePrint(session, dashboardMargins(o));
  // A classic dashboard scrolls inside an element sized to the screen: let it flow instead.
  await session.cdp('Runtime.evaluate', { expression: UNCLIP_SCROLLER_EXPRESSION });
  let printed = await layOutAndPrint(session, o, scale, pageHeightOf(realPaper.get(key)), limits, deadline);
  const box = mediaBox(printed.body);
  if (!realPaper.has(key) && box) {
    realPaper.set(key, box);
    // Once per paper: lay out again for the page height Chrome really prints.
    if (Math.abs(pageHeightOf(box) - modelHeight) > 0.1) printed = await layOutAndPrint(session, o, scale, pageHeightOf(box), limits, deadline);
  }
  return checked(printed.body, printed.moved, limits);
}

/**
 * Prints the settled page in `session` as one picture of width×height CSS px (a panel),
 * centred on the paper: the same picture as its PNG. A page that does not fit the box
 * (content below a panel page's fold) is cut at its bottom, as in the PNG.
 */
export async function printPicture(session: BrowserSession, o: PdfOptions, width: number, height: number, limits: PdfLimits, deadline: number): Promise<PrintedPdf & { moved: number }> {
  const { scale, margins } = pictureBox(o, width, height);
  await preparePrint(session, margins);
  const body = await print(session, o, scale, margins, o.pageRanges || '1', deadline, 1);
  return checked(body, 0, limits);
}

/** The page keeps its screen look (Grafana's print styles are not meant for this), and our paper margins. */
async function preparePrint(session: BrowserSession, margins: Margins): Promise<void> {
  await session.cdp('Emulation.setEmulatedMedia', { media: 'screen' });
  await session.cdp('Runtime.evaluate', {
    expression: `(function () { var s = document.createElement('style'); s.textContent = ${JSON.stringify(printCss(margins))}; (document.head || document.documentElement).appendChild(s); })()`,
  });
}

function checked(body: Buffer, moved: number, limits: PdfLimits): PrintedPdf & { moved: number } {
  const pages = countPages(body);
  if (pages > limits.maxPages) throw outputTooLarge(`the PDF would have ${pages} pages; at most ${limits.maxPages} (MAX_PDF_PAGES) are allowed: ask for fewer with pdf.pageRanges`);
  if (body.length > limits.maxBytes) throw outputTooLarge(`the PDF has ${body.length} bytes; at most ${limits.maxBytes} (MAX_PDF_BYTES) are allowed: lower width, deviceScaleFactor or the page count`);
  return { body, pages, moved };
}

async function layOutAndPrint(session: BrowserSession, o: PdfOptions, scale: number, pageHeight: number, limits: PdfLimits, deadline: number): Promise<{ body: Buffer; moved: number }> {
  const layout = await session.cdp<{ result?: { value?: { height: number; moved: number } } }>('Runtime.evaluate', {
    expression: `${AVOID_CUTS}(${pageHeight})`,
    returnByValue: true,
  });
  const height = layout.result?.value?.height ?? pageHeight;
  const moved = layout.result?.value?.moved ?? 0;
  const expected = Math.max(1, Math.ceil((height - 1) / pageHeight));
  let pageRanges = o.pageRanges ?? '';
  if (expected > limits.maxPages && !pageRanges) pageRanges = `1-${limits.maxPages}`;
  return { body: await print(session, o, scale, dashboardMargins(o), pageRanges, deadline, expected), moved };
}

/** Chrome's printToPDF of the page as it is now. */
async function print(session: BrowserSession, o: PdfOptions, scale: number, m: Margins, pageRanges: string, deadline: number, expectedPages: number): Promise<Buffer> {
  const paper = paperInches(o);
  try {
    const r = await session.cdp<{ data: string }>(
      'Page.printToPDF',
      {
        // printToPDF's landscape flag swaps width and height itself: give it the portrait paper.
        paperWidth: o.landscape ? paper.height : paper.width,
        paperHeight: o.landscape ? paper.width : paper.height,
        landscape: o.landscape,
        printBackground: o.printBackground,
        scale,
        marginTop: m.top / CSS_PX_PER_INCH,
        marginBottom: m.bottom / CSS_PX_PER_INCH,
        marginLeft: m.left / CSS_PX_PER_INCH,
        marginRight: m.right / CSS_PX_PER_INCH,
        pageRanges,
        preferCSSPageSize: false,
        ...(o.decorations ? { displayHeaderFooter: true, headerTemplate: o.decorations.headerHtml, footerTemplate: o.decorations.footerHtml } : {}),
      },
      Math.max(0, deadline - Date.now()),
    );
    return Buffer.from(r.data, 'base64');
  } catch (e) {
    // Chrome checks the ranges against the real page count.
    if (/page range/i.test(String((e as Error).message))) {
      throw badRequest(`pdf.pageRanges=${o.pageRanges} does not fit the document's ${expectedPages} page(s)`);
    }
    throw e;
  }
}

/** The first page's size in points, from its MediaBox. */
function mediaBox(pdf: Buffer): { width: number; height: number } | undefined {
  const m = /\/MediaBox\s*\[\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*\]/.exec(pdf.toString('latin1'));
  return m ? { width: Number(m[3]) - Number(m[1]), height: Number(m[4]) - Number(m[2]) } : undefined;
}

/** Page objects in a PDF as Chrome (Skia) writes it: one `/Type /Page` dictionary per page. */
export function countPages(pdf: Buffer): number {
  return (pdf.toString('latin1').match(/\/Type\s*\/Page(?![a-zA-Z])/g) ?? []).length;
}

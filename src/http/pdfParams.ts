// The paper options of encoding=pdf, as Grafana and the official renderer take them:
// `pdf.format`, `pdf.landscape`, `pdf.printBackground`, `pdf.pageRanges`. Grafana
// Enterprise puts them inside `url`'s query; a top-level parameter wins over that.
import { badRequest, quoteInput } from '../errors';
import { PAPER, type PaperFormat, type PdfOptions } from '../render/pdf';

type Query = Record<string, unknown>;

/** "1-3,5,8-": Chrome's page-range syntax, pages counted from 1. */
const PAGE_RANGES = /^\d{1,5}(-\d{0,5})?(,\d{1,5}(-\d{0,5})?){0,49}$/;

/** A top-level parameter, else the same one inside the page URL's query. */
export function option(query: Query, url: URL, name: string): string | undefined {
  const top = query[name];
  if (top !== undefined) {
    if (typeof top !== 'string') throw badRequest(`${name} is given more than once`);
    return top;
  }
  const inner = url.searchParams.getAll(name);
  if (inner.length > 1) throw badRequest(`${name} is given more than once inside url`);
  return inner[0];
}

export function flag(query: Query, url: URL, name: string, fallback: boolean): boolean {
  const raw = option(query, url, name)?.trim().toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw badRequest(`${name} must be true or false, got "${quoteInput(raw)}"`);
}

export function parsePdfOptions(query: Query, url: URL): PdfOptions {
  const rawFormat = option(query, url, 'pdf.format')?.trim().toLowerCase();
  let format: PaperFormat = 'a4';
  if (rawFormat !== undefined && rawFormat !== '') {
    if (!Object.hasOwn(PAPER, rawFormat)) throw badRequest(`pdf.format=${quoteInput(rawFormat)} is unknown: use one of ${Object.keys(PAPER).join(', ')} (case-insensitive; default A4)`);
    format = rawFormat as PaperFormat;
  }
  const rawRanges = option(query, url, 'pdf.pageRanges')?.replace(/\s+/g, '');
  let pageRanges: string | undefined;
  if (rawRanges !== undefined && rawRanges !== '') {
    if (!PAGE_RANGES.test(rawRanges)) throw badRequest(`pdf.pageRanges=${quoteInput(rawRanges)} is malformed: expected pages and ranges counted from 1, such as 1-3,5`);
    for (const part of rawRanges.split(',')) {
      const [from, to] = part.split('-').map((n) => (n === '' ? undefined : Number(n)));
      if (from === 0 || to === 0) throw badRequest('pdf.pageRanges counts pages from 1, not 0');
      if (to !== undefined && from! > to) throw badRequest(`pdf.pageRanges has the range ${part} that runs backwards`);
    }
    pageRanges = rawRanges;
  }
  return {
    format,
    landscape: flag(query, url, 'pdf.landscape', true),
    printBackground: flag(query, url, 'pdf.printBackground', true),
    pageRanges,
  };
}

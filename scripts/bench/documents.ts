// The PDF rows of `npm run bench`: what a document costs next to a picture, measured with
// the same panelshot process right after the throughput run (its memory sampler already
// stopped, so the whole-page viewports do not count in the concurrency-4 peak). Each kind
// is rendered `runs` times, one at a time, in rotating order, so drift hits all alike.
import { median } from './stats';

export interface DocumentKind {
  name: string;
  /** Path and query on panelshot (the page URL is filled in). */
  path: (grafana: string) => string;
  contentType: string;
}

export interface DocumentTimes {
  name: string;
  ms: number[];
  bytes: number[];
  pages: number[];
  failed: string[];
  settled: number;
}

/** The stand-in's big board without the collapsed row: 31 panels (12 + 3 repeats + 16). */
const BOARD = (grafana: string) => `${grafana}/d/big/big-board?orgId=1&from=now-6h&to=now`;
const PANEL = (grafana: string) => `${grafana}/d-solo/bench/panel-1?orgId=1&panelId=1&from=now-6h&to=now`;

export const DOCUMENT_KINDS: DocumentKind[] = [
  { name: 'PDF, 1 panel (A4 landscape, width 1000)', path: (g) => `/render?${new URLSearchParams({ url: PANEL(g), encoding: 'pdf', width: '1000', height: '500' })}`, contentType: 'application/pdf' },
  { name: 'PNG, the same panel (1000×500)', path: (g) => `/render?${new URLSearchParams({ url: PANEL(g), width: '1000', height: '500' })}`, contentType: 'image/png' },
  { name: 'PDF, 31-panel dashboard (A4 landscape, width 1000)', path: (g) => `/render?${new URLSearchParams({ url: BOARD(g), encoding: 'pdf', width: '1000' })}`, contentType: 'application/pdf' },
  { name: 'PNG height=-1, the same dashboard (1000 wide)', path: (g) => `/render?${new URLSearchParams({ url: BOARD(g), width: '1000', height: '-1' })}`, contentType: 'image/png' },
  { name: 'report (/report), the same dashboard (width 1200)', path: (g) => `/report?${new URLSearchParams({ url: BOARD(g), timezone: 'UTC' })}`, contentType: 'application/pdf' },
];

export async function measureDocuments(panelshot: string, grafana: string, runs: number): Promise<DocumentTimes[]> {
  const out = DOCUMENT_KINDS.map((k) => ({ name: k.name, ms: [] as number[], bytes: [] as number[], pages: [] as number[], failed: [] as string[], settled: 0 }));
  for (let run = 0; run < runs; run++) {
    for (let j = 0; j < DOCUMENT_KINDS.length; j++) {
      const i = (j + run) % DOCUMENT_KINDS.length;
      const kind = DOCUMENT_KINDS[i]!;
      // A pause as between two requests: the previous session's reset is done.
      await new Promise((r) => setTimeout(r, 500));
      const t = performance.now();
      const res = await fetch(panelshot + kind.path(grafana), { headers: { 'X-Auth-Token': '-' } });
      const body = Buffer.from(await res.arrayBuffer());
      const clientMs = performance.now() - t;
      if (res.status !== 200 || res.headers.get('content-type') !== kind.contentType) {
        out[i]!.failed.push(`${res.status}: ${body.toString('utf8').slice(0, 200)}`);
        continue;
      }
      out[i]!.ms.push(clientMs);
      out[i]!.bytes.push(body.length);
      out[i]!.pages.push(kind.contentType === 'application/pdf' ? (body.toString('latin1').match(/\/Type\s*\/Page(?![a-zA-Z])/g) ?? []).length : 1);
      if (res.headers.get('x-panelshot-settled') === 'true') out[i]!.settled++;
    }
  }
  return out;
}

export function documentMedian(t: DocumentTimes): number {
  return t.ms.length ? median(t.ms) : NaN;
}

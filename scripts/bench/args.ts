import path from 'node:path';

// The bench's command line. Every stand-in knob and every panelshot setting is a flag, so
// the same run can measure a slow page and a fast one, or try a Chrome flag.
export interface BenchArgs {
  dataDelayMs: number;
  animationMs: number;
  pool: number;
  concurrency: number;
  /** Renders in the throughput run. */
  renders: number;
  /** Sequential renders for single-render latency (and panels the floor measures). */
  latencyRenders: number;
  /** Pause before each single render, so it meets an idle service (previous reset done). */
  latencyGapMs: number;
  /** PSS sampling period, every phase from panelshot's spawn to its stop (a separate process). */
  pssIntervalMs: number;
  width: number;
  height: number;
  out: string;
  quick: boolean;
  /** Extra environment for panelshot (--env KEY=VALUE, repeatable): CHROME_ARGS, STABLE_*, … */
  env: Record<string, string>;
  /** Git refs to build and compare with, render for render (--baseline, repeatable). */
  baselines: string[];
  /** Only the scale-out comparison: local Chrome, Grid standalone, hub + 2 nodes (--scale-out). */
  scaleOut: boolean;
  /** Only what OpenTelemetry costs: renders without and with OTEL_* side by side (--tracing). */
  tracing: boolean;
  /** Read every process's smaps_rollup in every sample (see TreePss). */
  pssExact: boolean;
  /** Another build's main.js to measure instead of this checkout's dist/main.js (--main). */
  main?: string;
  /** Skip references, floor and comparison: for screening flags by memory and throughput. */
  noFloor: boolean;
  /** --curves: cost against size, concurrency, panels and time instead of the table. */
  curves: boolean;
  /** Length of the sustained run of --curves. */
  sustainedMinutes: number;
  /** Renders of each document kind (PDF, whole page, report) after the throughput run; 0 skips. */
  documents: number;
  /** Rounds of the 30-panel height=-1 PNG on each Grafana layout, against its floor; 0 skips. */
  layouts: number;
  /** --layouts-only: only those rows. */
  layoutsOnly: boolean;
  /** Rounds of the real-component pages (floor and panelshot side by side); 0 skips. */
  components: number;
  /** Only the real-component rows (--components-only). */
  componentsOnly: boolean;
}

export const USAGE = `Usage: npm run bench -- [flags]

  --data-delay MS      stand-in data query delay (default 300)
  --animation MS       stand-in chart animation length (default 500)
  --pool N             panelshot POOL_SIZE (default 4)
  --concurrency N      parallel requests in the throughput run (default 4)
  --renders N          renders in the throughput run (default 40)
  --latency-renders N  sequential single renders, also the floor's panels (default 10)
  --latency-gap MS     idle pause before each single render (default 500)
  --pss-interval MS    PSS sampling period, all phases, in a child process (default 200)
  --pss-exact          read every process's smaps_rollup in every sample (default: each
                       process's every 1 s, staggered, plus its RSS change in between;
                       exact costs ~100 ms per sample and slows the renders it measures)
  --width PX --height PX  render size (default 1000x500)
  --out FILE           JSON results (default bench-results/bench.json)
  --env KEY=VALUE      extra panelshot environment, repeatable (CHROME_ARGS, STABLE_FRAMES, …)
  --quick              smoke run: 3 latency renders, 8 throughput renders, 1 of each document
                       and 1 round of the real-component pages
  --documents N        renders of each document kind after the throughput run: a 1-panel
                       PDF, a 31-panel dashboard PDF, the same as height=-1 PNG, a report,
                       and the panel's PNG to compare (default 3; 0 skips them)
  --layouts N          rounds of a 30-panel dashboard as height=-1 PNG on each of Grafana's
                       page layouts (classic ≤ 11.2: inner scroller; scenes ≥ 11.3: the body
                       scrolls), each round against its floor (default 3; 0 skips them)
  --layouts-only       only those rows (with --layouts N rounds)
  --components N       rounds of the pages built from Grafana's own components (a time series,
                       a stat, a bar gauge, a 10-panel dashboard), each round the naive floor
                       (a screenshot every 50 ms), the strict floor (back to back), the
                       two-frame floor (back to back until two in a row are settled) and
                       panelshot side by side, after the documents (default 5; 0 skips)
  --components-only    only those rows (panelshot started with --pool, nothing else measured)
  --main FILE          measure this build's main.js instead of dist/main.js (e.g. one built
                       with tsc --outDir out/x and package.json copied to out/, which main.js
                       reads its version from; the throughput table, --curves and A/B "this")
  --no-floor           skip references, floor and image comparison (screening Chrome flags
                       by memory and throughput; latency ratios and correctness show n/a)
  --curves             instead: cost curves against image size, concurrency (1, 2, 4, 8),
                       panels per page and a sustained run; charts in bench-results/
  --sustained-min N    length of the sustained run of --curves (default 2; the issue's is 10)
  --baseline REF       also build git REF in a temporary worktree and compare single-render
                       latency with it, interleaved render for render (POOL_SIZE=1 each);
                       repeatable: every build renders every panel, in rotating order
  --tracing            instead: --renders renders (one at a time) alternately by a panelshot
                       without OTEL_* and one exporting traces to a loopback OTLP/HTTP
                       receiver; latency, start-up, RSS (out: bench-results/tracing.json)
  --scale-out          instead: throughput, CPU and memory per session for local Chrome,
                       a Selenium Grid standalone and a hub with 2 nodes, side by side
                       (uses --pool, --concurrency, --renders; out: bench-results/scale-out.json)
`;

export function parseArgs(argv: string[]): BenchArgs {
  const a: BenchArgs = {
    dataDelayMs: 300,
    animationMs: 500,
    pool: 4,
    concurrency: 4,
    renders: 40,
    latencyRenders: 10,
    latencyGapMs: 500,
    pssIntervalMs: 200,
    width: 1000,
    height: 500,
    out: 'bench-results/bench.json',
    quick: false,
    env: {},
    baselines: [],
    scaleOut: false,
    tracing: false,
    curves: false,
    noFloor: false,
    pssExact: false,
    sustainedMinutes: 2,
    documents: 3,
    layouts: 3,
    layoutsOnly: false,
    components: 5,
    componentsOnly: false,
  };
  let rendersGiven = false;
  let latencyGiven = false;
  let documentsGiven = false;
  let layoutsGiven = false;
  let componentsGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    const int = (min: number): number => {
      const v = value();
      const n = Number(v);
      if (!Number.isInteger(n) || n < min) throw new UsageError(`${flag} wants an integer ≥ ${min}, not ${v}`);
      return n;
    };
    switch (flag) {
      case '--data-delay': a.dataDelayMs = int(0); break;
      case '--animation': a.animationMs = int(0); break;
      case '--pool': a.pool = int(1); break;
      case '--concurrency': a.concurrency = int(1); break;
      case '--renders': a.renders = int(1); rendersGiven = true; break;
      case '--latency-renders': a.latencyRenders = int(1); latencyGiven = true; break;
      case '--latency-gap': a.latencyGapMs = int(0); break;
      case '--pss-interval': a.pssIntervalMs = int(50); break;
      case '--width': a.width = int(1); break;
      case '--height': a.height = int(1); break;
      case '--out': a.out = value(); break;
      case '--quick': a.quick = true; break;
      case '--baseline': a.baselines.push(value()); break;
      case '--scale-out': a.scaleOut = true; break;
      case '--tracing': a.tracing = true; break;
      case '--curves': a.curves = true; break;
      case '--no-floor': a.noFloor = true; break;
      case '--main': a.main = path.resolve(value()); break;
      case '--pss-exact': a.pssExact = true; break;
      case '--sustained-min': a.sustainedMinutes = int(1); break;
      case '--documents': a.documents = int(0); documentsGiven = true; break;
      case '--layouts': a.layouts = int(0); layoutsGiven = true; break;
      case '--layouts-only': a.layoutsOnly = true; break;
      case '--components': a.components = int(0); componentsGiven = true; break;
      case '--components-only': a.componentsOnly = true; break;
      case '--env': {
        const kv = value();
        const eq = kv.indexOf('=');
        if (eq <= 0) throw new UsageError(`--env wants KEY=VALUE, not ${kv}`);
        a.env[kv.slice(0, eq)] = kv.slice(eq + 1);
        break;
      }
      case '--help': case '-h': throw new UsageError('');
      default: throw new UsageError(`unknown flag ${flag}`);
    }
  }
  if (a.layoutsOnly && a.layouts === 0) throw new UsageError('--layouts-only needs --layouts N with N ≥ 1');
  if (a.componentsOnly && !a.components) throw new UsageError('--components-only with --components 0 measures nothing');
  if (a.noFloor && a.baselines.length) throw new UsageError('--baseline compares pictures with the references, which --no-floor skips');
  // --quick only shrinks what was not asked for explicitly.
  if (a.quick) {
    if (!latencyGiven) a.latencyRenders = 3;
    if (!rendersGiven) a.renders = 8;
    if (!documentsGiven) a.documents = 1;
    if (!layoutsGiven) a.layouts = 1;
    if (!componentsGiven) a.components = 1;
  }
  return a;
}

export class UsageError extends Error {}

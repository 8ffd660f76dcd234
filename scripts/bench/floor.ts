// Reference frames and the floor.
//
// References: the settled picture of every panel the bench renders, shot by plain Chromes
// that wait for the stand-in's own "done" signal (test/support/reference.ts) — knowledge
// panelshot must not use, so the comparison is independent of its readiness logic.
//
// Floor: the fastest any renderer could answer with that picture. One warm Chrome, driven
// directly over DevTools, cookie and viewport already set, the page loaded once before;
// then Page.navigate and screenshots back to back until one equals the settled frame.
// The settled frame comes from the same Chrome, so "equal" can mean equal bytes.
// The naive floor (issue 20's, `cadenceMs` 50): the same, but a screenshot starts every
// 50 ms, as a script that polls the page would take them.
// The two-frame floor (`frames` 2): back to back until two screenshots in a row equal the
// settled frame, the least a renderer that confirms its picture (ADR 2) could answer in.
import fs from 'node:fs';
import type { Standin } from '../../test/standin/grafana';
import { ReferenceCamera } from '../../test/support/reference';
import { processCpuMs } from './cpu';
import { panelshotProcesses } from './memory';
import { median } from './stats';

/** Shoots the settled frame of every path, spreading them over several cameras (Chromes). */
export async function shootReferences(g: Standin, paths: Map<number, string>, cameras: ReferenceCamera[], width: number, height: number): Promise<Map<number, Buffer>> {
  const refs = new Map<number, Buffer>();
  const todo = [...paths];
  await Promise.all(
    cameras.map(async (cam) => {
      for (let next = todo.shift(); next; next = todo.shift()) refs.set(next[0], await cam.shoot(g, next[1], width, height));
    }),
  );
  return refs;
}

export interface FloorResult {
  medianMs: number;
  perPanelMs: number[];
  /** Screenshots taken per timed navigation: how fine-grained the floor is. */
  medianShots: number;
  /** CPU time the Chrome (and its chromedriver) used per timed navigation: a render's least cost. */
  medianCpuMs: number;
}

const FLOOR_DEADLINE_MS = 20_000;

/**
 * `cadenceMs`: a screenshot starts this long after the last one started (0: back to back).
 * `frames`: this many screenshots in a row must equal the settled frame.
 */
export async function measureFloor(g: Standin, cam: ReferenceCamera, paths: Map<number, string>, width: number, height: number, refs: Map<number, Buffer>, scale = 1, cadenceMs = 0, frames = 1): Promise<FloorResult> {
  const cdp = <T>(method: string, params: object = {}) => cam.handle.driver.sendAndGetDevToolsCommand(method, params) as unknown as Promise<T>;
  const perPanelMs: number[] = [];
  const shots: number[] = [];
  const cpu: number[] = [];
  // The camera's chromedriver and Chrome descend from (or are marked with) this process.
  const chromeCpuMs = () => processCpuMs(panelshotProcesses(process.pid).filter((p) => p !== process.pid));
  for (const [id, path] of paths) {
    // The untimed first load: warms the page and gives the settled frame, with the
    // renderKey cookie and the viewport left in place for the timed load.
    const settled = await cam.shoot(g, path, width, height, scale);
    refs.set(id, settled);
    // Start from a blank page, as a fresh tab does: otherwise the first screenshot after
    // navigate could still show the previous (already settled) load of this very page.
    await cdp('Page.navigate', { url: 'about:blank' });
    await new Promise((r) => setTimeout(r, 150));

    const cpu0 = chromeCpuMs();
    const t0 = performance.now();
    await cdp('Page.navigate', { url: g.url + path });
    let n = 0;
    let equalInRow = 0;
    for (let shotAt = t0; ; ) {
      const wait = shotAt + cadenceMs - performance.now();
      if (n > 0 && wait > 0) await new Promise((r) => setTimeout(r, wait));
      shotAt = performance.now();
      // The settled frame has no mouse on it (ReferenceCamera.shoot): off the page again for
      // each look, since every new document puts it back at (0,0).
      await cam.parkPointer().catch(duringCommit);
      const shot = await cdp<{ data: string }>('Page.captureScreenshot', { format: 'png' }).catch(duringCommit);
      n++;
      const frame = shot ? Buffer.from(shot.data, 'base64') : undefined;
      equalInRow = frame?.equals(settled) ? equalInRow + 1 : 0;
      if (equalInRow >= frames) break;
      if (performance.now() - t0 > FLOOR_DEADLINE_MS) {
        // Both pictures where they can be compared by eye.
        fs.mkdirSync('bench-results', { recursive: true });
        fs.writeFileSync(`bench-results/floor-${id}-settled.png`, settled);
        if (frame) fs.writeFileSync(`bench-results/floor-${id}-last.png`, frame);
        throw new Error(`floor: panel ${id} never showed its settled frame again (bench-results/floor-${id}-*.png)`);
      }
    }
    perPanelMs.push(performance.now() - t0);
    cpu.push(chromeCpuMs() - cpu0);
    shots.push(n);
  }
  return { medianMs: median(perPanelMs), perPanelMs, medianShots: median(shots), medianCpuMs: median(cpu) };
}

/**
 * chromedriver aborts a command that overlaps the navigation's commit ("aborted by
 * navigation: Not attached to an active page"): that poll simply saw no frame.
 */
function duringCommit(e: unknown): undefined {
  if (/aborted by navigation|not attached to an active page/i.test(String((e as Error)?.message ?? e))) return undefined;
  throw e;
}

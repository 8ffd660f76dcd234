// The settled picture of a stand-in page, taken independently of panelshot's readiness
// logic: a plain Chrome opens the page with a renderKey, waits until the stand-in itself
// says its animation is done (window.__standin.state — test-only knowledge the renderer
// must never use), waits a little more, and captures. Used by tests and by the benchmark.
import { startLocalChrome, type LocalChrome } from '../../src/browser/driver';
import { findBinaries } from '../../src/browser/binaries';
import type { Standin } from '../standin/grafana';

export class ReferenceCamera {
  private constructor(private readonly h: LocalChrome) {}

  static async open(): Promise<ReferenceCamera> {
    const b = findBinaries();
    return new ReferenceCamera(await startLocalChrome({ chromeBin: b.chrome, chromedriverPath: b.chromedriver, extraArgs: [], startTimeoutMs: 30_000 }));
  }

  get handle(): LocalChrome {
    return this.h;
  }

  private cdp<T>(method: string, params: object = {}): Promise<T> {
    return this.h.driver.sendAndGetDevToolsCommand(method, params) as unknown as Promise<T>;
  }

  async shoot(g: Standin, path: string, width = 1000, height = 500, scale = 1): Promise<Buffer> {
    await this.cdp('Network.clearBrowserCookies');
    await this.cdp('Emulation.setDeviceMetricsOverride', { width, height, deviceScaleFactor: scale, mobile: false });
    await this.cdp('Network.setCookie', { name: 'renderKey', value: g.issueRenderKey(), domain: new URL(g.url).hostname, path: '/' });
    await this.cdp('Page.navigate', { url: g.url + path });
    const deadline = Date.now() + 20_000;
    for (;;) {
      const r = await this.cdp<{ result: { value?: string } }>('Runtime.evaluate', { expression: 'window.__standin && window.__standin.state', returnByValue: true });
      if (r.result.value === 'done') break;
      if (Date.now() > deadline) throw new Error(`reference page ${path} never finished`);
      await new Promise((res) => setTimeout(res, 50));
    }
    await new Promise((res) => setTimeout(res, 200));
    // chromium-headless-shell puts a mouse that never moved at (0,0) of each new document,
    // hovering whatever is there (a panel's hover-only menu shows): the settled picture has
    // no mouse on it, as panelshot's and a real browser's without one.
    await this.parkPointer();
    await new Promise((res) => setTimeout(res, 100));
    const shot = await this.cdp<{ data: string }>('Page.captureScreenshot', { format: 'png' });
    return Buffer.from(shot.data, 'base64');
  }

  /** Moves the mouse off the page (see shoot). */
  async parkPointer(): Promise<void> {
    await this.cdp('Input.dispatchMouseEvent', { type: 'mouseMoved', x: -1, y: -1 });
  }

  close(): Promise<void> {
    return this.h.close();
  }
}

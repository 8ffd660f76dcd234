// Readiness beyond "quiet and still": pages that pause between two waves of work. During
// the pause nothing is in flight, nothing animates and two screenshots are equal; only the
// work the page has already scheduled (a timer due soon, a module on its way) says that the
// picture is not finished yet. Real Chromium, real service, the stand-in; nothing mocked.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { startStack, equalShare, type Stack } from './support/stack';
import { ReferenceCamera } from './support/reference';

const PANEL = '/d-solo/abc123/node-exporter?orgId=1&panelId=2&from=now-6h&to=now';

/** Pixels of exactly the stand-in's annotation colour (#f2cc0c), drawn only by the second wave. */
async function annotationPixels(png: Buffer): Promise<number> {
  const { data } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  let n = 0;
  for (let i = 0; i < data.length; i += 3) if (data[i] === 0xf2 && data[i + 1] === 0xcc && data[i + 2] === 0x0c) n++;
  return n;
}

describe('readiness sees work the page has already scheduled', () => {
  let st: Stack;
  let camera: ReferenceCamera;
  before(async () => {
    st = await startStack({ POOL_SIZE: '1' });
    camera = await ReferenceCamera.open();
  });
  after(async () => {
    await camera?.close();
    await st?.stop();
  });

  for (const kind of ['timer', 'module'] as const) {
    for (const wave of [300, 1000]) {
      test(`a second wave ${wave} ms after the first draw (${kind}) is in the answer`, async () => {
        const path = `${PANEL}&wave=${wave}&waveKind=${kind}`;
        const r = await st.render({ url: path, width: '1000', height: '500' });
        assert.equal(r.status, 200, r.body.toString().slice(0, 300));
        assert.equal(r.headers.get('x-panelshot-settled'), 'true');
        // The band is 6 px wide over the plot height (~460 px): thousands of pixels, none before the wave.
        assert.ok((await annotationPixels(r.body)) > 1000, 'the answer is the first wave, without the annotation band');
        const reference = await camera.shoot(st.g, path, 1000, 500, 1);
        const share = await equalShare(r.body, reference);
        assert.ok(share > 0.999, `only ${(share * 100).toFixed(2)} % of the pixels equal the finished page`);
      });
    }
  }

  test('an animation frame the page requested and cancelled is not waited for', async () => {
    // Without cancelAnimationFrame counted, the cancelled frame stays "pending" and holds
    // the screenshots back for the whole 3 s bound on animations.
    const started = Date.now();
    const r = await st.render({ url: `${PANEL}&cancelFrame=1`, width: '1000', height: '500' });
    const ms = Date.now() - started;
    assert.equal(r.status, 200, r.body.toString().slice(0, 300));
    assert.equal(r.headers.get('x-panelshot-settled'), 'true');
    // data 300 + animation 500 + a few frames: far below the 3 s the bound would add.
    assert.ok(ms < 2500, `took ${ms} ms`);
    const reference = await camera.shoot(st.g, `${PANEL}&cancelFrame=1`, 1000, 500, 1);
    assert.ok((await equalShare(r.body, reference)) > 0.999, 'the answer is the finished chart');
  });

  test('a page that re-arms a timer forever is judged by its pixels, within the bound', async () => {
    const started = Date.now();
    const r = await st.render({ url: `${PANEL}&rearm=forever`, width: '1000', height: '500', timeout: '20' });
    const ms = Date.now() - started;
    assert.equal(r.status, 200, r.body.toString().slice(0, 300));
    assert.equal(r.headers.get('x-panelshot-settled'), 'true');
    // data 300 + animation 500 + at most 3 s for the timers, plus slack: far below the 20 s timeout.
    assert.ok(ms < 8000, `took ${ms} ms`);
    assert.equal(await annotationPixels(r.body), 0);
  });
});

// encoding=jpeg|webp with quality: encoded by sharp from the settled frame, at the exact size;
// and the short render cache (CACHE_TTL_S) in front of it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { equalShare, pngSize, startStack, type Stack } from './support/stack';
import sharp from 'sharp';
import { sign } from '../src/cli/sign';
import { RenderCache } from '../src/render/cache';

const PANEL = '/d-solo/abc123/node-exporter?orgId=1&panelId=2&from=now-6h&to=now';

describe('image formats', () => {
  let st: Stack;
  before(async () => {
    st = await startStack({ POOL_SIZE: '1' });
  });
  after(() => st?.stop());

  test('jpeg and webp come at the exact size, smaller than the PNG, showing the same picture', async () => {
    const png = await st.render({ url: PANEL, width: '800', height: '400' });
    assert.equal(png.status, 200);
    for (const [encoding, format, type] of [
      ['jpeg', 'jpeg', 'image/jpeg'],
      ['webp', 'webp', 'image/webp'],
    ] as const) {
      const r = await st.render({ url: PANEL, width: '800', height: '400', encoding, quality: '80' });
      assert.equal(r.status, 200, r.body.toString().slice(0, 200));
      assert.equal(r.headers.get('content-type'), type);
      // Named after the dashboard's slug in the page URL, with the format's extension.
      assert.equal(r.headers.get('content-disposition'), `inline; filename="node-exporter.${encoding === 'jpeg' ? 'jpg' : 'webp'}"`);
      assert.deepEqual(await pngSize(r.body), { width: 800, height: 400, format });
      assert.ok(r.body.length < png.body.length, `${encoding} ${r.body.length} B is smaller than PNG ${png.body.length} B`);
      // Lossy, but the same picture: decoded back, nearly every pixel is close to the PNG's.
      const back = await sharp(r.body).png().toBuffer();
      const { data: a } = await sharp(back).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      const { data: b } = await sharp(png.body).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      let close = 0;
      for (let i = 0; i < a.length; i += 3) if (Math.abs(a[i]! - b[i]!) + Math.abs(a[i + 1]! - b[i + 1]!) + Math.abs(a[i + 2]! - b[i + 2]!) < 60) close++;
      assert.ok(close / (a.length / 3) > 0.97, `${encoding}: ${((close / (a.length / 3)) * 100).toFixed(1)} % of pixels close to the PNG`);
    }
    assert.ok((await equalShare(png.body, png.body)) === 1);
  });

  test('quality changes the size; scale keeps sizes exact', async () => {
    const low = await st.render({ url: PANEL, encoding: 'jpeg', quality: '20' });
    const high = await st.render({ url: PANEL, encoding: 'jpeg', quality: '95' });
    assert.ok(low.body.length < high.body.length, `q20 ${low.body.length} B < q95 ${high.body.length} B`);
    const scaled = await st.render({ url: PANEL, width: '333', height: '251', deviceScaleFactor: '1.5', encoding: 'webp' });
    assert.deepEqual(await pngSize(scaled.body), { width: 500, height: 377, format: 'webp' });
  });

  test('bad encodings and qualities are a 400 naming the problem', async () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ encoding: 'gif' }, /encoding=gif is not served/],
      [{ encoding: 'jpeg', quality: '-1' }, /quality must be a whole number between 1 and 100/],
      [{ encoding: 'jpeg', quality: '0' }, /quality must be between 1 and 100/],
      [{ encoding: 'webp', quality: '101' }, /quality must be between 1 and 100/],
      [{ encoding: 'webp', quality: 'high' }, /quality must be a whole number/],
      [{ quality: '80' }, /quality applies to encoding=jpeg or webp only/],
    ];
    for (const [params, message] of cases) {
      const r = await st.render({ url: PANEL, ...params });
      assert.equal(r.status, 400, JSON.stringify(params));
      assert.match(r.json().error, message);
    }
  });
});

describe('render cache (CACHE_TTL_S)', () => {
  let st: Stack;
  const SECRET = 'cache-link-secret-0123456789';
  before(async () => {
    st = await startStack({ POOL_SIZE: '1', CACHE_TTL_S: '3', LINK_SECRET: SECRET });
  });
  after(() => st?.stop());
  const loads = () => st.g.stats.pageLoads.filter((p) => p.path.startsWith('/d-solo/')).length;

  test('identical direct requests within the TTL get the same image with an Age header; one render', async () => {
    st.g.resetStats();
    const url = `${PANEL}&cache=1`;
    const first = await st.render({ url, encoding: 'webp' });
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('age'), null);
    await new Promise((r) => setTimeout(r, 1100));
    const second = await st.render({ url, encoding: 'webp' });
    assert.equal(second.status, 200);
    assert.ok(Number(second.headers.get('age')) >= 1, `Age: ${second.headers.get('age')}`);
    assert.ok(second.body.equals(first.body));
    assert.equal(loads(), 1, 'one render for both');
    // Another format or size is another picture.
    assert.equal((await st.render({ url, encoding: 'png' })).headers.get('age'), null);
    assert.equal(loads(), 2);
    // After the TTL, rendered afresh.
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal((await st.render({ url, encoding: 'webp' })).headers.get('age'), null);
    assert.equal(loads(), 3);
  });

  test('signed links are cached too; renderKey requests never', async () => {
    st.g.resetStats();
    const link = sign([`${st.g.url}${PANEL}&cache=2`], { GRAFANA_URL: st.g.url, LINK_SECRET: SECRET, PUBLIC_URL: st.s.url });
    assert.equal((await fetch(link)).headers.get('age'), null);
    const again = await fetch(link);
    assert.equal(again.status, 200);
    assert.notEqual(again.headers.get('age'), null);
    assert.equal(loads(), 1);
    st.g.resetStats();
    for (let i = 0; i < 2; i++) {
      const r = await st.render({ url: `${PANEL}&cache=3`, renderKey: st.g.issueRenderKey(), domain: '127.0.0.1' });
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('age'), null);
    }
    assert.equal(loads(), 2, 'each renderKey request rendered with its own key');
    assert.deepEqual([...new Set(st.g.stats.pageLoads.map((p) => p.auth))], ['renderKey']);
  });

  test('bounded in bytes: the least recently used image leaves first', () => {
    const cache = new RenderCache(60, 1000);
    const img = (n: number) => ({ body: Buffer.alloc(n), contentType: 'image/png', ext: 'png', settled: true, timings: {} as never, trace: [], auth: 'session' as const, shared: false });
    cache.set('a', img(600));
    cache.set('b', img(300));
    assert.ok(cache.get('a'));
    cache.set('c', img(300));
    assert.equal(cache.get('b'), undefined, 'b was least recently used');
    assert.ok(cache.get('a') && cache.get('c'));
    cache.set('huge', img(5000));
    assert.equal(cache.get('huge'), undefined);
    assert.ok(cache.stats().bytes <= 1000);
  });
});

// The status page at / : pool, last renders without secrets, and a form that renders —
// tested in a real Chromium through selenium. Beyond loopback it asks for an AUTH_TOKEN
// value by HTTP Basic auth.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { By, until } from 'selenium-webdriver';
import { ReferenceCamera } from './support/reference';
import { startStack, type Stack } from './support/stack';

const PANEL = '/d-solo/abc123/node-exporter?orgId=1&panelId=2&from=now-6h&to=now';

describe('status page', () => {
  let st: Stack;
  let browser: ReferenceCamera;
  before(async () => {
    st = await startStack({ POOL_SIZE: '2', BASE_PATH: '/renderer', CACHE_TTL_S: '30' });
    browser = await ReferenceCamera.open();
  });
  after(async () => {
    await browser?.close();
    await st?.stop();
  });

  test('shows the pool and the last renders without secrets; the form renders and shows the picture with its timings', async () => {
    const key = st.g.issueRenderKey();
    assert.equal((await st.render({ url: PANEL, renderKey: key, domain: '127.0.0.1' })).status, 200);
    assert.equal((await st.render({ url: `${PANEL}&token=abc-secret-value&auth=xyz-secret` })).status, 200);

    const driver = browser.handle.driver;
    await driver.manage().window().setRect({ width: 1200, height: 900 });
    await driver.get(`${st.s.url}/`);
    await driver.wait(until.elementTextMatches(driver.findElement(By.id('size')), /^2$/), 10_000);
    await driver.wait(async () => (await driver.findElements(By.css('#recent tbody tr'))).length >= 2, 10_000);
    const text = await driver.findElement(By.css('body')).getText();
    assert.match(text, /busy/);
    assert.match(await driver.findElement(By.id('memory')).getText(), /^\d+ MiB$/);
    for (const secret of [key, 'abc-secret-value', 'xyz-secret', 'admin']) assert.ok(!text.includes(secret), `the page shows no secret (${secret.slice(0, 4)}…)`);
    const json = await (await st.get('/status.json')).text();
    for (const secret of [key, 'abc-secret-value', 'xyz-secret']) assert.ok(!json.includes(secret));

    await driver.findElement(By.name('url')).sendKeys(st.g.url + PANEL);
    const width = driver.findElement(By.name('width'));
    await width.clear();
    await width.sendKeys('640');
    const height = driver.findElement(By.name('height'));
    await height.clear();
    await height.sendKeys('320');
    await driver.findElement(By.css('#try button')).click();
    const img = driver.findElement(By.id('shot'));
    await driver.wait(async () => Number(await img.getAttribute('naturalWidth')) > 0, 20_000, 'the picture appears');
    assert.equal(Number(await img.getAttribute('naturalWidth')), 640);
    assert.equal(Number(await img.getAttribute('naturalHeight')), 320);
    const bars = await driver.findElements(By.css('#timing .bar'));
    assert.equal(bars.length, 7, 'one bar per Server-Timing phase');
    assert.match(await driver.findElement(By.id('timing')).getText(), /total\s+\d+ ms/);
    await driver.wait(async () => /status/.test(await driver.findElement(By.css('#recent tbody')).getText()), 10_000, 'the form\'s render is listed');
    if (process.env.PANELSHOT_SCREENSHOT) {
      const file = path.resolve(__dirname, '..', 'docs/img/status-page.png');
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, Buffer.from(await driver.takeScreenshot(), 'base64'));
    }
  });
});

describe('status page beyond loopback', () => {
  test('asks for an AUTH_TOKEN value by HTTP Basic auth; STATUS_PAGE=off removes it', async () => {
    const st = await startStack({ POOL_SIZE: '1', HTTP_HOST: '0.0.0.0', AUTH_TOKEN: 'status-token-12345,second-token-678' });
    try {
      const basic = (user: string, pass: string) => ({ Authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` });
      const none = await st.get('/');
      assert.equal(none.status, 401);
      assert.match(none.headers.get('www-authenticate') ?? '', /^Basic realm="panelshot"/);
      assert.match((await none.json()).error, /AUTH_TOKEN as the password/);
      assert.equal((await st.get('/', basic('anyone', 'wrong-token'))).status, 401);
      assert.equal((await st.get('/status.json')).status, 401);
      assert.equal((await st.get(`/status/render?url=${encodeURIComponent(st.g.url + PANEL)}`)).status, 401);
      const ok = await st.get('/', basic('anyone', 'second-token-678'));
      assert.equal(ok.status, 200);
      assert.match(await ok.text(), /<title>panelshot<\/title>/);
      const img = await st.get(`/status/render?url=${encodeURIComponent(st.g.url + PANEL)}&width=300&height=150`, basic('x', 'status-token-12345'));
      assert.equal(img.status, 200);
      assert.equal(img.headers.get('content-type'), 'image/png');
    } finally {
      await st.stop();
    }
    const off = await startStack({ POOL_SIZE: '1', STATUS_PAGE: 'off' });
    try {
      assert.equal((await off.get('/')).status, 404);
      assert.equal((await off.get('/status.json')).status, 404);
    } finally {
      await off.stop();
    }
  });
});

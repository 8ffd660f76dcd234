// GET /render/csv end to end: a real Chrome downloads what the stand-in's CSV page makes
// from its query API, into a directory of its own that is gone after every render.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { downloadsParent } from '../src/render/csv';
import { queryResult } from './standin/grafana';
import { pngSize, startStack, type Rendered, type Stack } from './support/stack';

const CSV = '/d-csv/abc123/node-exporter?orgId=1&panelId=2&from=now-6h&to=now';
/** Grafana's file name for a table export: "<panel title>-data-<date>.csv". */
const GRAFANA_NAME = /^attachment; filename="Panel (\d+)-data-\d{4}-\d\d-\d\d \d\d_\d\d_\d\d\.csv"$/;

/** The rows the stand-in's query API answers for a panel, as the page writes them. */
function expectedCsv(panelId: string): string {
  const frame = (queryResult(panelId) as { results: { A: { frames: { schema: { fields: { name: string }[] }; data: { values: [number[], number[]] } }[] } } }).results.A.frames[0]!;
  const [times, values] = frame.data.values;
  const lines = [frame.schema.fields.map((f) => `"${f.name}"`).join(',')];
  times.forEach((t, i) => lines.push(`${new Date(t).toISOString()},${values[i]}`));
  return `${lines.join('\r\n')}\r\n`;
}

/** This process's download directories (the service runs in it): none between renders. */
function ourDownloadDirs(): string[] {
  const parent = downloadsParent();
  return fs.existsSync(parent) ? fs.readdirSync(parent).filter((n) => n.startsWith(`${process.pid}-`)) : [];
}

function assertNoDownloadDirs(when: string): void {
  assert.deepEqual(ourDownloadDirs(), [], `download directories left ${when}`);
}

function assertCsvOf(r: Rendered, panelId: string): void {
  assert.equal(r.status, 200, r.body.toString().slice(0, 300));
  assert.equal(r.headers.get('content-type'), 'text/csv; charset=utf-8');
  assert.equal(r.body.toString('utf8'), expectedCsv(panelId));
  assert.equal(GRAFANA_NAME.exec(r.headers.get('content-disposition') ?? '')?.[1], panelId, `content-disposition: ${r.headers.get('content-disposition')}`);
}

describe('GET /render/csv', () => {
  let st: Stack;
  before(async () => {
    st = await startStack({ POOL_SIZE: '1', MAX_CSV_BYTES: '200000' });
  });
  after(() => st?.stop());

  test('answers exactly the table data the page downloads, as text/csv with Grafana\'s file name', async () => {
    st.g.resetStats();
    const r = await st.csv({ url: CSV });
    assertCsvOf(r, '2');
    assert.match(r.headers.get('server-timing') ?? '', /download;dur=\d+/);
    // The page loaded its data through Grafana's API with panelshot's own session.
    assert.deepEqual(st.g.stats.queries.map((q) => [q.panelId, q.auth]), [['2', 'session']]);
    assertNoDownloadDirs('after a CSV render');
    // Another panel, other data: nothing here is a constant.
    assertCsvOf(await st.csv({ url: CSV.replace('panelId=2', 'panelId=7') }), '7');
  });

  test('Grafana\'s call shape: renderKey + domain + timeout + encoding=csv; no key or a wrong one fails clearly', async () => {
    st.g.resetStats();
    const renderKey = st.g.issueRenderKey();
    const r = await st.csv({ url: CSV, renderKey, domain: '127.0.0.1', timeout: '15', encoding: 'csv' });
    assertCsvOf(r, '2');
    assert.deepEqual(st.g.stats.queries.map((q) => q.auth), ['renderKey'], 'the page queried with the renderKey only');

    const unknown = await st.csv({ url: CSV, renderKey: 'notAKeyGrafanaIssued0123', domain: '127.0.0.1', timeout: '15', encoding: 'csv' });
    assert.equal(unknown.status, 502, unknown.body.toString().slice(0, 300));
    assert.equal(unknown.json().code, 'grafana_auth_rejected');
    assert.match(unknown.json().error, /renderKey/);
    assert.ok(!unknown.body.toString().includes('notAKeyGrafanaIssued0123'), 'the key is not echoed');

    const noToken = await st.csv({ url: CSV }, {});
    assert.equal(noToken.status, 401);
    assert.equal(noToken.json().code, 'unauthorized');
    assertNoDownloadDirs('after refused CSV renders');
    assert.ok(!st.logs.some((l) => l.includes(renderKey) || l.includes('notAKeyGrafanaIssued0123')), 'no renderKey in the log');
  });

  test('the render waits for a late download, in a directory of its own that exists only meanwhile', async () => {
    const started = Date.now();
    const pending = st.csv({ url: `${CSV}&csvDelay=1500` });
    let seen: string[] = [];
    while (Date.now() - started < 1400 && seen.length === 0) {
      seen = ourDownloadDirs();
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(seen.length, 1, 'one download directory while the render waits');
    assert.equal(fs.statSync(path.join(downloadsParent(), seen[0]!)).mode & 0o777, 0o700);
    assert.equal(fs.statSync(downloadsParent()).mode & 0o777, 0o700);
    const r = await pending;
    assert.ok(Date.now() - started >= 1500, `answered after ${Date.now() - started} ms, before the download`);
    assertCsvOf(r, '2');
    assertNoDownloadDirs('after a late download');
  });

  test('a page that never downloads: a typed error by the deadline, never an empty 200', async () => {
    const started = Date.now();
    const r = await st.csv({ url: `${CSV}&csv=never`, timeout: '3' });
    const took = Date.now() - started;
    assert.equal(r.status, 504, r.body.toString().slice(0, 300));
    assert.equal(r.json().code, 'no_download');
    assert.match(r.json().error, /started no download within the timeout/);
    assert.ok(took >= 2000 && took < 6000, `answered after ${took} ms`);
    assertNoDownloadDirs('after a timeout');
  });

  test('a download above MAX_CSV_BYTES is refused with 413', async () => {
    const r = await st.csv({ url: `${CSV}&csv=huge&csvBytes=1000000` });
    assert.equal(r.status, 413, r.body.toString().slice(0, 300));
    assert.equal(r.json().code, 'output_too_large');
    assert.match(r.json().error, /MAX_CSV_BYTES/);
    assertNoDownloadDirs('after a refused download');
    // Just under the limit is fine: the limit is the limit, not a broken download.
    const fits = await st.csv({ url: `${CSV}&csv=huge&csvBytes=150000` });
    assert.equal(fits.status, 200, fits.body.toString().slice(0, 300));
    assert.ok(fits.body.length >= 150000 && fits.body.length <= 200000, `${fits.body.length} bytes`);
    assert.ok(fits.body.toString().startsWith(expectedCsv('2')));
  });

  test('a hostile suggested file name becomes a safe one: no path, quote or control character', async () => {
    const r = await st.csv({ url: `${CSV}&csv=hostile` });
    assert.equal(r.status, 200, r.body.toString().slice(0, 300));
    assert.equal(r.body.toString(), expectedCsv('2'));
    const cd = r.headers.get('content-disposition') ?? '';
    const m = /^attachment; filename="([^"]*)"(?:; filename\*=UTF-8''([A-Za-z0-9%._-]+))?$/.exec(cd);
    assert.ok(m, `content-disposition: ${JSON.stringify(cd)}`);
    const names = [m[1]!, decodeURIComponent(m[2] ?? '')].filter(Boolean);
    for (const name of names) {
      assert.match(name, /\.csv$/);
      assert.doesNotMatch(name, /[/\\"\r\n\x00-\x1f]|\.\./, `unsafe name ${JSON.stringify(name)}`);
    }
    assert.ok(m[2], 'a UTF-8 name is given for the non-ASCII title');
    assert.match(decodeURIComponent(m[2]!), /Größe/);
    assertNoDownloadDirs('after a hostile name');
  });

  test('bad parameters get a 400 JSON naming the parameter', async () => {
    const foreign = await st.csv({ url: 'http://example.com/d-csv/x?panelId=2' });
    assert.equal(foreign.status, 403);
    assert.equal(foreign.json().code, 'forbidden_url');
    for (const [params, message] of [
      [{}, /url is required/],
      [{ url: 'not a url' }, /url is not an absolute URL/],
      [{ url: CSV, timeout: 'soon' }, /timeout must be a number/],
      [{ url: CSV, timeout: '0' }, /timeout must be between/],
      [{ url: CSV, timeout: '100000' }, /timeout must be between/],
      [{ url: CSV, renderKey: 'a;b=c' }, /renderKey is malformed/],
      [{ url: CSV, renderKey: 'abc123' }, /renderKey needs domain/],
      [{ url: CSV, renderKey: 'abc123', domain: 'bad domain' }, /domain is not a valid hostname/],
      [{ url: CSV, renderKey: 'abc123', domain: 'example.com' }, /domain=example\.com does not match/],
      [{ url: CSV, encoding: 'png' }, /encoding=png is not served on \/render\/csv/],
      [{ url: CSV, encoding: 'pdf' }, /encoding=pdf is not served on \/render\/csv/],
      [{ url: CSV, timezone: 'Mars/Base' }, /timezone Mars\/Base is unknown/],
    ] as [Record<string, string>, RegExp][]) {
      const r = await st.csv(params);
      assert.equal(r.status, 400, `${JSON.stringify(params)}: ${r.body.toString().slice(0, 200)}`);
      assert.equal(r.json().code, 'bad_request');
      assert.match(r.json().error, message);
    }
    const twice = await fetch(`${st.s.url}/render/csv?url=${encodeURIComponent(st.g.url + CSV)}&url=x`, { headers: { 'X-Auth-Token': '-' } });
    assert.equal(twice.status, 400);
    assert.match(((await twice.json()) as { error: string }).error, /url is given more than once/);
  });

  test('consecutive renders on the same session never see each other\'s downloads; a PNG render after works', async () => {
    // The first page downloads a second file 300 ms after its first: by then its render
    // is over, downloads are denied and the tab is blank.
    assertCsvOf(await st.csv({ url: `${CSV}&csvThen=300` }), '2');
    assertCsvOf(await st.csv({ url: `${CSV.replace('panelId=2', 'panelId=3')}&csvDelay=800` }), '3');
    const none = await st.csv({ url: `${CSV}&csv=never`, timeout: '2' });
    assert.equal(none.status, 504, `a leftover download must not answer a later render: ${none.body.toString().slice(0, 200)}`);
    assertNoDownloadDirs('after consecutive renders');

    const png = await st.render({ url: '/d-solo/abc123/node-exporter?orgId=1&panelId=2', width: '600', height: '300' });
    assert.equal(png.status, 200, png.body.toString().slice(0, 300));
    assert.equal(png.headers.get('content-type'), 'image/png');
    assert.deepEqual(await pngSize(png.body), { width: 600, height: 300, format: 'png' });
    // A PNG render of a page that downloads: the picture, and no download anywhere of ours.
    const pic = await st.render({ url: CSV, width: '400', height: '200' });
    assert.equal(pic.status, 200, pic.body.toString().slice(0, 300));
    assertNoDownloadDirs('after a PNG render of a downloading page');
    // And the session still exports afterwards.
    assertCsvOf(await st.csv({ url: CSV }), '2');
  });
});

describe('download directories across restarts', () => {
  test('directories of dead panelshots are removed at start-up, those of live processes kept', async () => {
    const parent = downloadsParent();
    fs.mkdirSync(parent, { recursive: true, mode: 0o700 });
    // A pid that surely is gone: a process that has exited.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout.trim();
    const stale = path.join(parent, `${dead}-crashed`);
    const live = path.join(parent, `${process.ppid}-alive`);
    fs.mkdirSync(stale);
    fs.writeFileSync(path.join(stale, 'leftover'), 'secret rows');
    fs.mkdirSync(live, { recursive: true });
    try {
      const st = await startStack({ POOL_SIZE: '1' });
      try {
        assert.ok(!fs.existsSync(stale), 'a dead process\'s download directory is removed');
        assert.ok(fs.existsSync(live), 'a live process\'s download directory is kept');
        const r = await st.csv({ url: CSV });
        assert.equal(r.status, 200, r.body.toString().slice(0, 300));
      } finally {
        await st.stop();
      }
    } finally {
      fs.rmSync(live, { recursive: true, force: true });
      fs.rmSync(stale, { recursive: true, force: true });
    }
  });
});

describe('CSV renders in parallel sessions of one Chrome', () => {
  test('each render gets its own download: a neighbour\'s big or small download never answers it', async () => {
    const st = await startStack({ POOL_SIZE: '3', TABS_PER_CHROME: '3', MAX_CSV_BYTES: '200000' });
    try {
      const [big, early, late] = await Promise.all([
        st.csv({ url: `${CSV}&csv=huge&csvBytes=1000000&csvDelay=400` }),
        st.csv({ url: CSV.replace('panelId=2', 'panelId=4') }),
        st.csv({ url: `${CSV.replace('panelId=2', 'panelId=5')}&csvDelay=900` }),
      ]);
      assert.equal(big.status, 413, big.body.toString().slice(0, 200));
      assertCsvOf(early, '4');
      assertCsvOf(late, '5');
      assertNoDownloadDirs('after parallel renders');
    } finally {
      await st.stop();
    }
  });
});

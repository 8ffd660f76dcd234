// Hostile and broken input, isolation between renders, and secrets: what an attacker or a
// buggy client can send, and what one render could leave for the next.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import JSZip from 'jszip';
import type { BrowserSession } from '../src/browser/session';
import { GC_FUNCTION } from '../src/browser/chromeFlags';
import { sign } from '../src/cli/sign';
import { ownedProcesses, waitFor } from './support/processes';
import { startStack, type Stack } from './support/stack';

const PANEL = '/d-solo/abc123/node-exporter?orgId=1&panelId=2';
const PASSWORD = 'S3cret-Pass-9f1c';
const TOKEN = 'glsa_standin_0123456789abcdef';
const LINK_SECRET = 'hostile-link-secret-0123456789';

/** Sends raw bytes and reads the whole answer: for what fetch() refuses to send. */
function raw(port: number, request: Buffer | string): Promise<{ status: number; headers: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer in 10 s')));
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const [head = '', body = ''] = text.split('\r\n\r\n');
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), headers: head, body });
    });
    // No half-close: the server answers async routes (a dashboard model fetch) before it closes.
    socket.write(request);
  });
}

describe('hostile and broken requests', () => {
  let st: Stack;
  before(async () => {
    st = await startStack({ POOL_SIZE: '1', LINK_SECRET: LINK_SECRET }, { password: 'admin' });
  });
  after(() => st?.stop());

  test('each of 40+ bad requests gets a 4xx JSON error, quickly, and the service renders normally after', async () => {
    const g = st.g.url;
    const page = g + PANEL;
    const port = new URL(g).port;
    const q = (params: Record<string, string>) => `/render?${new URLSearchParams(params)}`;
    // [name, path with query, extra headers, expected status]
    const cases: [string, string, Record<string, string>, number][] = [
      ['no url', '/render', {}, 400],
      ['empty url', q({ url: '' }), {}, 400],
      ['relative url', q({ url: '/d-solo/x' }), {}, 400],
      ['garbled url', q({ url: 'http//::no' }), {}, 400],
      ['javascript: url', q({ url: 'javascript:alert(document.cookie)' }), {}, 403],
      ['file: url', q({ url: 'file:///etc/shadow' }), {}, 403],
      ['chrome: url', q({ url: 'chrome://settings' }), {}, 403],
      ['data: url', q({ url: 'data:text/html,<script>alert(1)</script>' }), {}, 403],
      ['about: url', q({ url: 'about:blank' }), {}, 403],
      ['view-source: url', q({ url: `view-source:${page}` }), {}, 403],
      ['ftp: url', q({ url: `ftp://127.0.0.1:${port}/` }), {}, 403],
      ['foreign host', q({ url: 'http://example.com/d-solo/x' }), {}, 403],
      ['same host, other port', q({ url: `http://127.0.0.1:1/d-solo/x` }), {}, 403],
      ['https instead of http', q({ url: page.replace('http:', 'https:') }), {}, 403],
      ['user info in url', q({ url: page.replace('http://', 'http://admin:admin@') }), {}, 400],
      ['localhost alias of the origin', q({ url: page.replace('127.0.0.1', 'localhost') }), {}, 403],
      ['url too long', q({ url: `${page}&x=${'a'.repeat(9000)}` }), {}, 400],
      ['url given twice', `/render?url=${encodeURIComponent(page)}&url=${encodeURIComponent(page)}`, {}, 400],
      ['non-UTF-8 url', '/render?url=%FF%FE%FD', {}, 400],
      ['non-UTF-8 width', `/render?url=${encodeURIComponent(page)}&width=%FF`, {}, 400],
      ['lone percent', '/render?%', {}, 400],
      ['width negative', q({ url: page, width: '-1' }), {}, 400],
      ['width fraction', q({ url: page, width: '1.5' }), {}, 400],
      ['width hex', q({ url: page, width: '0x10' }), {}, 400],
      ['width exponent', q({ url: page, width: '1e3' }), {}, 400],
      ['width NaN', q({ url: page, width: 'NaN' }), {}, 400],
      ['width Infinity', q({ url: page, width: 'Infinity' }), {}, 400],
      ['width huge', q({ url: page, width: '99999999999999999999' }), {}, 400],
      ['width above MAX_WIDTH', q({ url: page, width: '16385' }), {}, 400],
      ['height zero', q({ url: page, height: '0' }), {}, 400],
      ['height -2', q({ url: page, height: '-2' }), {}, 400],
      ['height absurd', q({ url: page, height: '100000' }), {}, 400],
      ['scale negative', q({ url: page, deviceScaleFactor: '-1' }), {}, 400],
      ['scale tiny', q({ url: page, deviceScaleFactor: '0.01' }), {}, 400],
      ['scale absurd', q({ url: page, deviceScaleFactor: '100' }), {}, 400],
      ['too many pixels', q({ url: page, width: '4000', height: '8000', deviceScaleFactor: '2' }), {}, 400],
      ['timeout negative', q({ url: page, timeout: '-5' }), {}, 400],
      ['timeout zero', q({ url: page, timeout: '0' }), {}, 400],
      ['timeout huge', q({ url: page, timeout: '1000000' }), {}, 400],
      ['timeout words', q({ url: page, timeout: 'forever' }), {}, 400],
      ['unknown timezone', q({ url: page, timezone: 'Mars/Olympus_Mons' }), {}, 400],
      ['timezone path traversal', q({ url: page, timezone: '../../../etc/passwd' }), {}, 400],
      ['timezone header injection', q({ url: page, timezone: 'UTC\r\nX-Evil: 1' }), {}, 400],
      ['encoding gif', q({ url: page, encoding: 'gif' }), {}, 400],
      ['pdf.format unknown', q({ url: page, encoding: 'pdf', 'pdf.format': 'a9' }), {}, 400],
      ['pdf.format injection', q({ url: page, encoding: 'pdf', 'pdf.format': 'a4\r\nX-Evil: 1' }), {}, 400],
      ['pdf.format inside url unknown', q({ url: `${page}&pdf.format=b4`, encoding: 'pdf' }), {}, 400],
      ['pdf.format given twice', `/render?url=${encodeURIComponent(page)}&encoding=pdf&pdf.format=a4&pdf.format=a3`, {}, 400],
      ['pdf.landscape not a boolean', q({ url: page, encoding: 'pdf', 'pdf.landscape': 'yes please' }), {}, 400],
      ['pdf.printBackground not a boolean', q({ url: page, encoding: 'pdf', 'pdf.printBackground': '2' }), {}, 400],
      ['pdf.pageRanges words', q({ url: page, encoding: 'pdf', 'pdf.pageRanges': 'all' }), {}, 400],
      ['pdf.pageRanges zero', q({ url: page, encoding: 'pdf', 'pdf.pageRanges': '0' }), {}, 400],
      ['pdf.pageRanges backwards', q({ url: page, encoding: 'pdf', 'pdf.pageRanges': '9-1' }), {}, 400],
      ['pdf.pageRanges huge list', q({ url: page, encoding: 'pdf', 'pdf.pageRanges': Array.from({ length: 60 }, (_, i) => i + 1).join(',') }), {}, 400],
      ['expandRows not a boolean', q({ url: page, expandRows: 'sure' }), {}, 400],
      ['POST /sanitize (not served)', 'POST /sanitize', {}, 501],
      ['quality -1', q({ url: page, encoding: 'jpeg', quality: '-1' }), {}, 400],
      ['quality 1000', q({ url: page, encoding: 'webp', quality: '1000' }), {}, 400],
      ['quality on png', q({ url: page, quality: '50' }), {}, 400],
      ['renderKey without domain', q({ url: page, renderKey: 'abc' }), {}, 400],
      ['renderKey cookie injection', q({ url: page, renderKey: 'abc; Domain=evil.com', domain: '127.0.0.1' }), {}, 400],
      ['renderKey header injection', q({ url: page, renderKey: 'abc\r\nSet-Cookie: x=1', domain: '127.0.0.1' }), {}, 400],
      ['domain invalid', q({ url: page, renderKey: 'abc', domain: 'a..b' }), {}, 400],
      ['domain injection', q({ url: page, renderKey: 'abc', domain: '127.0.0.1; Path=/' }), {}, 400],
      ['domain of another host', q({ url: page, renderKey: 'abc', domain: 'evil.example' }), {}, 400],
      ['malformed Accept-Language', q({ url: page }), { 'Accept-Language': '"><script>alert(1)</script>' }, 400],
      ['no X-Auth-Token', q({ url: page }), { 'X-Auth-Token': '' }, 401],
      ['wrong X-Auth-Token', q({ url: page }), { 'X-Auth-Token': 'guess' }, 401],
      ['forged link token', `/i/${Buffer.from(JSON.stringify({ exp: 9999999999, url: page })).toString('base64url')}.${'A'.repeat(43)}.png`, {}, 403],
      ['link token garbage', '/i/abc.png', {}, 403],
      ['link token huge', `/i/${'a'.repeat(7000)}.png`, {}, 403],
      ['link with a strange extension', '/i/abc.exe', {}, 400],
      ['dashboard on a foreign origin', `/render/dashboard?${new URLSearchParams({ url: 'http://example.com/d/big/x' })}`, {}, 403],
      ['dashboard of 5000 panels (MAX_PANELS)', `/render/dashboard?${new URLSearchParams({ url: `${g}/d/huge/x` })}`, {}, 400],
      ['dashboard that does not exist', `/render/dashboard?${new URLSearchParams({ url: `${g}/d/missing-1/x` })}`, {}, 404],
      ['dashboard as a panel URL', `/render/dashboard?${new URLSearchParams({ url: page })}`, {}, 400],
      ['dashboard format bogus', `/render/dashboard?${new URLSearchParams({ url: `${g}/d/big/x`, format: 'rar' })}`, {}, 400],
      ['dashboard without X-Auth-Token', `/render/dashboard?${new URLSearchParams({ url: `${g}/d/big/x` })}`, { 'X-Auth-Token': 'wrong' }, 401],
      ['dashboard quality -1', `/render/dashboard?${new URLSearchParams({ url: `${g}/d/big/x`, encoding: 'webp', quality: '-1' })}`, {}, 400],
      ['POST /render', 'POST /render', {}, 404],
      ['path traversal', '/render/../../etc/passwd', {}, 404],
    ];
    assert.ok(cases.length >= 40);
    let slowest = 0;
    for (const [name, target, headers, expected] of cases) {
      const t = Date.now();
      const [method, path] = target.startsWith('POST ') ? ['POST', target.slice(5)] : ['GET', target];
      const hdrs = { 'X-Auth-Token': '-', ...headers };
      const lines = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close', ...Object.entries(hdrs).filter(([, v]) => v !== '').map(([k, v]) => `${k}: ${v}`)];
      const r = await raw(st.s.port, `${lines.join('\r\n')}\r\n\r\n`);
      slowest = Math.max(slowest, Date.now() - t);
      assert.equal(r.status, expected, `${name}: ${r.headers.split('\r\n')[0]} ${r.body.slice(0, 200)}`);
      assert.match(r.headers, /Content-Type: application\/json/i, name);
      const body = JSON.parse(r.body);
      assert.equal(typeof body.error, 'string', name);
      assert.ok(body.error.length > 10, `${name}: the error says what is wrong`);
    }
    // What Node's own HTTP parser refuses still gets a JSON answer.
    const garbage = await raw(st.s.port, 'GARBAGE\r\n\r\n');
    assert.equal(garbage.status, 400);
    assert.equal(JSON.parse(garbage.body).code, 'bad_request');
    const huge = await raw(st.s.port, `GET /render HTTP/1.1\r\nHost: x\r\nCookie: ${'a'.repeat(20_000)}\r\n\r\n`);
    assert.equal(huge.status, 431);
    assert.equal(JSON.parse(huge.body).code, 'bad_request');
    const badHeader = await raw(st.s.port, 'GET /render HTTP/1.1\r\nHost: x\r\nX-Auth-Token: a\x00b\r\n\r\n');
    assert.equal(badHeader.status, 400);

    assert.ok(slowest < 1000, `the slowest rejection took ${slowest} ms`);
    assert.equal(st.g.stats.pageLoads.length, 0, 'no bad request reached Grafana');
    const ok = await st.render({ url: PANEL });
    assert.equal(ok.status, 200, 'renders normally right after');
  });
});

/** Navigates the session's tab to `url` and waits until the document has loaded. */
async function openLoaded(session: BrowserSession, url: string): Promise<void> {
  await session.cdp('Page.navigate', { url });
  await waitFor(async () => (await session.evaluate<string>('document.readyState').catch(() => '')) === 'complete', 10_000);
}

describe('isolation between renders', () => {
  let st: Stack;
  let anonymous: Stack;
  before(async () => {
    st = await startStack({ POOL_SIZE: '1' });
    anonymous = await startStack({ POOL_SIZE: '1', GRAFANA_USER: '', GRAFANA_PASS: '' });
  });
  after(async () => {
    await st?.stop();
    await anonymous?.stop();
  });

  test('a render with renderKey A does not authenticate the next render', async () => {
    st.g.resetStats();
    assert.equal((await st.render({ url: PANEL, renderKey: st.g.issueRenderKey(), domain: '127.0.0.1' })).status, 200);
    assert.equal((await st.render({ url: `${PANEL}&next=1` })).status, 200);
    const second = st.g.stats.pageLoads.filter((p) => p.path.includes('d-solo')).at(-1)!;
    assert.equal(second.auth, 'session', 'the direct render used our session, not the earlier renderKey');

    // With no credentials of its own, the next render must land on the login page.
    const key = anonymous.g.issueRenderKey();
    assert.equal((await anonymous.render({ url: PANEL, renderKey: key, domain: '127.0.0.1' })).status, 200);
    const after = await anonymous.render({ url: `${PANEL}&after=1` });
    assert.equal(after.status, 502);
    assert.match(after.json().error, /no credentials are configured/);
  });

  test('two sessions sharing one Chrome keep their cookies apart, also at the same time', async () => {
    const drivers = new Set(ownedProcesses(process.pid).filter((p) => p.comm === 'chromedriver').map((p) => p.pid));
    const shared = await startStack({ POOL_SIZE: '2', TABS_PER_CHROME: '2' });
    try {
      for (let round = 0; round < 3; round++) {
        shared.g.resetStats();
        const [keyed, direct] = await Promise.all([
          shared.render({ url: `/d-solo/keyed${round}/x?panelId=1`, renderKey: shared.g.issueRenderKey(), domain: '127.0.0.1' }),
          shared.render({ url: `/d-solo/direct${round}/x?panelId=2` }),
        ]);
        assert.equal(keyed.status, 200);
        assert.equal(direct.status, 200);
        const auth = (part: string) => [...new Set(shared.g.stats.pageLoads.filter((p) => p.path.includes(part)).map((p) => p.auth))];
        assert.deepEqual(auth(`keyed${round}`), ['renderKey']);
        assert.deepEqual(auth(`direct${round}`), ['session'], 'the renderKey of the other tab did not reach this one');
        assert.deepEqual([...new Set(shared.g.stats.queries.filter((q) => q.panelId === '2').map((q) => q.auth))], ['session']);
      }
      const now = new Set(ownedProcesses(process.pid).filter((p) => p.comm === 'chromedriver').map((p) => p.pid));
      assert.equal([...now].filter((p) => !drivers.has(p)).length, 1, 'both sessions live in one new Chrome');
    } finally {
      await shared.stop();
    }
  });

  test('stopping one service in the process leaves the Chromes of another alive', async () => {
    // The orphan guard (src/browser/watchdog.ts) is one per process: a stopping service
    // once closed it and so killed every other service's Chrome with its own.
    const driversOf = () => new Set(ownedProcesses(process.pid).filter((p) => p.comm === 'chromedriver').map((p) => p.pid));
    const before = driversOf();
    const other = await startStack({ POOL_SIZE: '1' });
    const otherDrivers = [...driversOf()].filter((p) => !before.has(p));
    assert.equal(otherDrivers.length, 1, 'the other service has its own chromedriver');
    await other.stop();
    await new Promise((r) => setTimeout(r, 1000));
    const after = driversOf();
    assert.deepEqual([...before].filter((p) => !after.has(p)), [], 'no chromedriver of the running services was killed');
    assert.ok(!after.has(otherDrivers[0]!), 'the stopped service\'s chromedriver is gone');
    assert.equal((await st.render({ url: `${PANEL}&afterOtherStopped=1` })).status, 200);
  });

  test('cookies, localStorage and sessionStorage do not survive into the next render', async () => {
    const origin = st.g.url;
    const dirty = async (session: BrowserSession) => {
      await openLoaded(session, `${origin}/login`);
      await session.cdp('Runtime.evaluate', {
        expression: "localStorage.setItem('left','A'); sessionStorage.setItem('left','A'); document.cookie='left=A; path=/'; 1",
        returnByValue: true,
      });
      session.noteOrigin(`${origin}/login`);
    };
    const leftovers = async (session: BrowserSession) => {
      await openLoaded(session, `${origin}/login`);
      return session.evaluate<string>("JSON.stringify([localStorage.getItem('left'), sessionStorage.getItem('left'), document.cookie])");
    };
    const clean = JSON.stringify([null, null, '']);
    // One session, held from start to end: the pool replaces sessions only when they come
    // back (retired Chrome, RECYCLE_AFTER) or while idle (heartbeat), so nothing can swap it
    // underneath. It is cleaned by the very reset release() runs before anyone else gets it.
    const held = await st.s.pool.acquire(Date.now() + 30_000);
    try {
      await dirty(held);
      assert.equal(await leftovers(held), JSON.stringify(['A', 'A', 'left=A']), 'the page really kept them (else the check below proves nothing)');
      await held.reset();
      assert.equal(await leftovers(held), clean);
      await dirty(held);
    } finally {
      st.s.pool.release(held);
    }
    // And release() does reset: whichever session the pool hands out next (this one, or a
    // fresh one if it retired this Chrome meanwhile) carries nothing of the last render.
    const next = await st.s.pool.acquire(Date.now() + 30_000);
    try {
      assert.equal(await leftovers(next), clean);
    } finally {
      st.s.pool.release(next);
    }
  });
});

describe("the reset and the last page's memory", () => {
  let st: Stack;
  before(async () => {
    st = await startStack({ POOL_SIZE: '1' });
  });
  after(async () => {
    await st?.stop();
  });

  test("the reset collects the last page's garbage, with V8's ordinary GC", async () => {
    const held = await st.s.pool.acquire(Date.now() + 30_000);
    try {
      await openLoaded(held, `${st.g.url}/login`);
      await held.evaluate("window.junk = Array.from({ length: 1e6 }, (_, i) => ({ i, s: 'x' + i })), 1");
      const heapMiB = async () => (await held.cdp<{ usedSize: number }>('Runtime.getHeapUsage')).usedSize / 2 ** 20;
      const loaded = await heapMiB();
      assert.ok(loaded > 40, `the page holds only ${loaded.toFixed(1)} MiB (else the check below proves nothing)`);
      await held.reset();
      const left = await heapMiB();
      assert.ok(left < 15, `${left.toFixed(1)} MiB of the last page's heap is left after the reset`);
      // The reset's GC is V8's ordinary one, which keeps compiled code (Grafana's bundle)
      // for the next render; HeapProfiler.collectGarbage (V8's low-memory GC) is only the
      // fallback for a Chrome without our --js-flags.
      assert.equal(await held.evaluate<string>(`typeof ${GC_FUNCTION}`), 'function');
    } finally {
      st.s.pool.release(held);
    }
  });
});

describe('secrets', () => {
  let st: Stack;
  let tokenStack: Stack;
  before(async () => {
    st = await startStack({ POOL_SIZE: '1', GRAFANA_PASS: PASSWORD, AUTH_TOKEN: 'renderer-shared-secret-1', LINK_SECRET }, { password: PASSWORD });
    tokenStack = await startStack({ POOL_SIZE: '1', GRAFANA_USER: '', GRAFANA_PASS: '', GRAFANA_TOKEN: TOKEN });
  });
  after(async () => {
    await st?.stop();
    await tokenStack?.stop();
  });

  test('passwords, tokens, cookies and renderKeys appear in no log line, error body or metric', async () => {
    const auth = { 'X-Auth-Token': 'renderer-shared-secret-1' };
    const key = st.g.issueRenderKey();
    const bodies: string[] = [];
    for (const r of [
      await st.render({ url: PANEL }, auth),
      await st.render({ url: PANEL, renderKey: key, domain: '127.0.0.1' }, auth),
      await st.render({ url: PANEL, renderKey: 'RejectedKey123456', domain: '127.0.0.1' }, auth),
      await st.render({ url: `${PANEL}&renderKey=${key}&token=${TOKEN}`, timezone: 'Nope/Nope' }, auth),
      await st.render({ url: PANEL }, { 'X-Auth-Token': 'wrong-guess-of-the-token' }),
      await tokenStack.render({ url: PANEL }),
    ]) {
      if (r.headers.get('content-type')?.includes('json')) bodies.push(r.body.toString());
    }
    // A signed link and a batch: their answers, manifests and logs carry no secret either.
    const link = sign([st.g.url + PANEL, '--format', 'webp'], { GRAFANA_URL: st.g.url, LINK_SECRET, PUBLIC_URL: st.s.url });
    assert.equal((await fetch(link)).status, 200);
    const batch = await fetch(`${st.s.url}/render/dashboard?${new URLSearchParams({ url: `${st.g.url}/d/abc/x?orgId=1`, format: 'ndjson', width: '200', height: '100' })}`, { headers: auth });
    assert.equal(batch.status, 200);
    bodies.push((await batch.text()).replace(/"image":"[^"]*"/g, '"image":""'));
    const zip = await fetch(`${st.s.url}/render/dashboard?${new URLSearchParams({ url: `${st.g.url}/d/abc/x`, width: '200', height: '100' })}`, { headers: auth });
    bodies.push(await (await JSZip.loadAsync(Buffer.from(await zip.arrayBuffer()))).file('manifest.json')!.async('string'));
    assert.ok(!st.logs.join('\n').includes(link.split('/i/')[1]!.slice(0, 30)), 'the link itself is not logged');
    st.g.expireSessions();
    assert.equal((await st.render({ url: PANEL }, auth)).status, 200, 'a re-login happened too');
    const metrics = await (await st.get('/metrics')).text();
    const everything = [...st.logs, ...tokenStack.logs, ...bodies, metrics].join('\n');
    assert.ok(st.logs.length > 10 && tokenStack.logs.length > 3, 'the logs were captured');
    for (const secret of [PASSWORD, TOKEN, key, 'RejectedKey123456', 'renderer-shared-secret-1', 'wrong-guess-of-the-token', LINK_SECRET]) {
      assert.ok(!everything.includes(secret), `a secret leaked: ${secret.slice(0, 4)}…`);
    }
    assert.doesNotMatch(everything, /grafana_session=|[0-9a-f]{32}/, 'no session cookie value');
  });

  test('with a wrong password, 30 s of renders cause at most a few login attempts', async () => {
    const wrong = await startStack({ POOL_SIZE: '1', GRAFANA_PASS: 'not-the-password', GRAFANA_LOGIN_BACKOFF_MS: '10000' }, {}, { ready: false });
    try {
      const until = Date.now() + 30_000;
      let renders = 0;
      while (Date.now() < until) {
        const r = await wrong.render({ url: PANEL });
        assert.equal(r.status, 502);
        assert.match(r.json().error, /rejected the credentials/);
        renders++;
        await new Promise((res) => setTimeout(res, 200));
      }
      assert.ok(renders > 50);
      assert.ok(wrong.g.stats.failedLogins <= 4, `${wrong.g.stats.failedLogins} login attempts in 30 s`);
      assert.ok(wrong.g.stats.failedLogins < 5, 'below Grafana\'s lockout of 5 per 5 minutes');
    } finally {
      await wrong.stop();
    }
  });
});

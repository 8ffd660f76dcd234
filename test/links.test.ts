// Signed image links: `panelshot sign` prints one link; GET /i/<token>.<ext> renders it
// without any header; tampered, expired and unknown-secret links are a 403; without
// LINK_SECRET the route does not exist.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sign } from '../src/cli/sign';
import { signLink, verifyLink } from '../src/links/token';
import { pngSize, startStack, type Stack } from './support/stack';

const SECRET = 'link-secret-0123456789-abcdef';
const OLD_SECRET = 'old-link-secret-9876543210-zyx';
const PANEL = '/d-solo/abc123/node-exporter?orgId=1&panelId=2&from=now-6h&to=now';
const root = path.resolve(__dirname, '..');

describe('signed image links', () => {
  let st: Stack;
  let env: Record<string, string>;
  before(async () => {
    st = await startStack({ POOL_SIZE: '1', LINK_SECRET: `${SECRET},${OLD_SECRET}`, AUTH_TOKEN: 'a-renderer-token-1234' });
    env = { GRAFANA_URL: st.g.url, LINK_SECRET: SECRET, PUBLIC_URL: `${st.s.url}/` };
  });
  after(() => st?.stop());

  const fetchLink = async (link: string) => {
    const res = await fetch(link);
    const body = Buffer.from(await res.arrayBuffer());
    return { status: res.status, headers: res.headers, body, json: () => JSON.parse(body.toString()) };
  };

  test('panelshot sign prints exactly one line, a link that renders without any header', async () => {
    const r = spawnSync(process.execPath, ['--require', require.resolve('tsx/cjs'), path.join(root, 'src/main.ts'), 'sign', st.g.url + PANEL, '--width', '600', '--height', '300', '--ttl', '15m', '--format', 'jpeg'], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, ...env },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    const lines = r.stdout.split('\n').filter(Boolean);
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, new RegExp(`^${st.s.url}/i/[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]{43}\\.jpg$`));
    assert.ok(!lines[0]!.includes(SECRET));
    st.g.resetStats();
    const res = await fetchLink(lines[0]!);
    assert.equal(res.status, 200, res.body.toString().slice(0, 300));
    assert.equal(res.headers.get('content-type'), 'image/jpeg');
    assert.deepEqual(await pngSize(res.body), { width: 600, height: 300, format: 'jpeg' });
    assert.deepEqual([...new Set(st.g.stats.pageLoads.map((p) => p.auth))], ['session'], 'rendered with panelshot\'s own session');
  });

  test('a link signed with the second (older) secret still works; rotation', async () => {
    const link = sign([st.g.url + PANEL], { ...env, LINK_SECRET: OLD_SECRET });
    assert.equal((await fetchLink(link)).status, 200);
  });

  test('tampered, expired, unknown-secret and malformed links are a 403 JSON', async () => {
    const good = sign([st.g.url + PANEL, '--width', '400'], env);
    const [payload, sig] = good.slice(good.indexOf('/i/') + 3, good.lastIndexOf('.')).split('.') as [string, string];
    const tamperedPayload = Buffer.from(Buffer.from(payload, 'base64url').toString().replace('"400"', '"4000"')).toString('base64url');
    const flipped = sig.slice(0, 10) + (sig[10] === 'A' ? 'B' : 'A') + sig.slice(11);
    const base = `${st.s.url}/i/`;
    const cases: [string, string, RegExp][] = [
      ['tampered payload', `${base}${tamperedPayload}.${sig}.png`, /signature does not match/],
      ['flipped signature', `${base}${payload}.${flipped}.png`, /signature does not match/],
      ['unknown secret', sign([st.g.url + PANEL], { ...env, LINK_SECRET: 'an-attackers-own-secret-1234' }), /signature does not match/],
      ['expired', sign([st.g.url + PANEL, '--ttl', '60s'], env, Date.now() - 3_600_000), /expired/],
      ['other extension', good.replace(/\.png$/, '.webp'), /signed for \.png/],
      ['forged token', `${base}eyJ1cmwiOiJodHRwOi8vZXZpbCJ9.${'A'.repeat(43)}.png`, /signature does not match/],
      ['garbage token', `${base}not-a-token.png`, /malformed/],
    ];
    for (const [name, link, message] of cases) {
      const r = await fetchLink(link);
      assert.equal(r.status, 403, `${name}: ${r.body.toString().slice(0, 200)}`);
      assert.equal(r.json().code, 'forbidden_link', name);
      assert.match(r.json().error, message, name);
    }
    const noExt = await fetchLink(good.replace(/\.png$/, '.gif'));
    assert.equal(noExt.status, 400);
  });

  test('a link longer-lived than LINK_MAX_TTL_S is neither signed nor honoured', () => {
    assert.throws(() => sign([st.g.url + PANEL, '--ttl', '30d'], env), /longer than LINK_MAX_TTL_S/);
    const token = signLink({ url: st.g.url + PANEL }, SECRET, Math.floor(Date.now() / 1000) + 365 * 86400);
    assert.throws(() => verifyLink(token, [SECRET], 604800), /longer than LINK_MAX_TTL_S/);
  });

  test('sign refuses what /render would refuse, and credentials in the URL, with one line each', () => {
    const cases: [string[], RegExp][] = [
      [['http://example.com/d-solo/x'], /not on Grafana's origin/],
      [[`${PANEL}`], /not an absolute URL/],
      [[st.g.url + PANEL + '&renderKey=abc'], /links never carry credentials/],
      [[st.g.url + PANEL, '--format', 'gif'], /--format gif is not served/],
      [[st.g.url + PANEL, '--quality', '-1', '--format', 'jpeg'], /--quality/],
      [[st.g.url + PANEL, '--ttl', 'soon'], /--ttl must be a duration/],
      [[st.g.url + PANEL, '--width', 'wide'], /--width must be a whole number/],
      [[st.g.url + PANEL, '--bogus', '1'], /Unknown option '--bogus'/],
      [[], /a panel URL is required/],
    ];
    for (const [args, message] of cases) assert.throws(() => sign(args, env), message, args.join(' '));
    assert.throws(() => sign([st.g.url + PANEL], { GRAFANA_URL: st.g.url, PUBLIC_URL: 'http://x' }), /LINK_SECRET is not set/);
    assert.throws(() => sign([st.g.url + PANEL], { GRAFANA_URL: st.g.url, LINK_SECRET: SECRET }), /PUBLIC_URL is not set/);
    const r = spawnSync(process.execPath, ['--require', require.resolve('tsx/cjs'), path.join(root, 'src/main.ts'), 'sign', '--width'], { encoding: 'utf8', env: { PATH: process.env.PATH, ...env } });
    assert.equal(r.status, 2);
    assert.equal(r.stderr.split('\n').filter(Boolean).length, 1, r.stderr);
  });

  test('links and their secret stay out of the logs', () => {
    const all = st.logs.join('\n');
    assert.ok(!all.includes(SECRET) && !all.includes(OLD_SECRET));
    assert.doesNotMatch(all, /\/i\/[A-Za-z0-9_-]{20,}/, 'no link path in the log');
    assert.match(all, /"link":"[0-9a-f]{10}"/, 'links are named by a fingerprint');
  });

  test('without LINK_SECRET the route does not exist', async () => {
    const plain = await startStack({ POOL_SIZE: '1' });
    try {
      const link = sign([plain.g.url + PANEL], { GRAFANA_URL: plain.g.url, LINK_SECRET: SECRET, PUBLIC_URL: plain.s.url });
      const r = await fetchLink(link);
      assert.equal(r.status, 404);
      assert.equal(r.json().code, 'not_found');
      assert.ok(!r.json().error.includes(link.split('/i/')[1]!.slice(0, 20)), 'the 404 does not echo the token');
    } finally {
      await plain.stop();
    }
  });
});

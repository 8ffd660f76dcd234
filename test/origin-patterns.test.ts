// The Fetch patterns of the origin guard, checked exhaustively with Chrome's matching rules
// ('*' any characters, '?' exactly one): every other origin on Grafana's host is paused,
// Grafana's own origin is not (unless the token must be added), subdomains always are.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { guardedPatterns } from '../src/browser/originGuard';

function matcher(patterns: string[]): (url: string) => boolean {
  const res = patterns.map((p) => new RegExp(`^${p.replace(/[.+^${}()|[\]\\/]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`));
  return (url) => res.some((r) => r.test(url));
}

test('every port and scheme of Grafana\'s host but its own origin is paused', () => {
  const paused = matcher(guardedPatterns({ origin: 'http://127.0.0.1:3000', cookieDomains: ['127.0.0.1'] }));
  assert.equal(paused('http://127.0.0.1:3000/d-solo/x?panelId=2'), false);
  assert.equal(paused('https://127.0.0.1:3000/'), true);
  assert.equal(paused('http://127.0.0.1/'), true);
  assert.equal(paused('https://127.0.0.1/'), true);
  for (let port = 1; port <= 65535; port++) {
    if (port === 3000) continue;
    for (const scheme of ['http', 'https']) {
      if (!paused(`${scheme}://127.0.0.1:${port}/leak?x=1`)) assert.fail(`${scheme}://127.0.0.1:${port} is not paused`);
    }
  }
  assert.equal(paused('http://127.0.0.2:3001/'), false, 'another host carries no cookie of ours');
});

test('an origin on its default port; subdomains; the token mode pauses Grafana\'s origin too', () => {
  const paused = matcher(guardedPatterns({ origin: 'https://grafana.example.com', cookieDomains: ['grafana.example.com'] }));
  assert.equal(paused('https://grafana.example.com/d/abc'), false);
  for (const url of ['http://grafana.example.com/', 'https://grafana.example.com:8443/', 'http://grafana.example.com:443/', 'https://x.grafana.example.com/', 'http://a.b.grafana.example.com:81/']) {
    assert.equal(paused(url), true, url);
  }
  assert.equal(paused('https://example.com/'), false);
  const withToken = matcher(guardedPatterns({ origin: 'https://grafana.example.com', cookieDomains: [], bearer: 'glsa_x' }));
  assert.equal(withToken('https://grafana.example.com/api/ds/query'), true);
});

test('a renderKey cookie for a parent domain guards all of it', () => {
  const paused = matcher(guardedPatterns({ origin: 'http://grafana.example.com:3000', cookieDomains: ['example.com'] }));
  assert.equal(paused('http://grafana.example.com:3001/'), true);
  assert.equal(paused('https://other.example.com/'), true);
  assert.equal(paused('http://example.com/'), true);
  assert.equal(paused('http://example.org/'), false);
});
